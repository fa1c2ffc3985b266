"""The ingest pipeline (ring, fan-out, history) and tails (newest lines, then live, with the L10 notice)."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import StartVigil, Vigil
from vigil.logs.apps import app_name
from vigil.logs.model import STDOUT, LogLine
from vigil.logs.tail import Tail, newest


def line(app: str, message: str, ts: int | None = None) -> LogLine:
    return LogLine(app, "app", "web.1", STDOUT, ts or time.time_ns() // 1000, "", message)


def test_app_names_are_made_valid() -> None:
    assert app_name("shop") == "shop"
    assert app_name("My_Host.Example.com") == "my-host-example-com"
    assert app_name("-x-") == "x"
    assert app_name("a" * 70) == "a" * 63
    assert app_name("!!!") is None and app_name("") is None


async def test_accept_feeds_ring_subscribers_history_and_the_app_list(vigil: Vigil) -> None:
    logs = vigil.services.logs
    sub = logs.pipeline.subscribe(["shop"], capacity=10)
    other = logs.pipeline.subscribe(["else"], capacity=10)
    accepted = logs.pipeline.accept([line("shop", "one"), line("Shop.Example", "two"), line("%%%", "three")])
    assert accepted == 2 and logs.pipeline.no_app == 1
    assert [x.message for x in await sub.get(10)] == ["one"]
    assert other.pending == 0
    assert [x.message for x in logs.ring.last("shop-example", 5)] == ["two"]
    assert {x.message for x in await logs.store.read(["shop", "shop-example"])} == {"one", "two"}
    assert await logs.apps.exists("shop-example")
    await logs.apps.flush()
    logs.apps._known.clear()  # the database remembers too
    assert await logs.apps.exists("shop") and not await logs.apps.exists("never")


async def test_newest_uses_the_ring_when_it_holds_enough_and_history_otherwise(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(log_recent_lines=3)
    logs = vigil.services.logs
    now = time.time_ns() // 1000
    logs.pipeline.accept([line("a", f"a{i}", now - 100 + i) for i in range(5)])
    logs.store.append([line("b", "old", now - 500)])  # only in history (as after a restart)
    logs.pipeline.accept([line("b", "new", now - 50)])
    assert [x.message for x in await newest(logs.pipeline, ["a"], 2)] == ["a3", "a4"]
    assert [x.message for x in await newest(logs.pipeline, ["b"], 2)] == ["old", "new"]  # ring has 1 < 2
    assert [x.message for x in await newest(logs.pipeline, ["a"], 5)] == [f"a{i}" for i in range(5)]


async def test_a_tail_gets_the_newest_lines_then_live_ones_without_duplicates(vigil: Vigil) -> None:
    logs = vigil.services.logs
    logs.pipeline.accept([line("t", "before")])
    tail = Tail(logs.pipeline, ["t"], lines=10, follow=True, capacity=100)
    # A line that arrives after the tail subscribed but before it read the newest lines is in both.
    original = logs.ring.last_of

    def read_with_a_line_arriving(apps: list[str], n: int) -> list[LogLine]:
        logs.pipeline.accept([line("t", "during")])
        return original(apps, n)

    logs.ring.last_of = read_with_a_line_arriving  # type: ignore[method-assign]
    logs.ring.count = lambda app: 10  # type: ignore[method-assign]
    try:
        first = await tail.start()
    finally:
        del logs.ring.last_of, logs.ring.count
    assert [x.message for x in first] == ["before", "during"]
    logs.pipeline.accept([line("t", "after")])
    assert [x.message for x in await tail.next(wait=1)] == ["after"]
    tail.close()
    assert await tail.next() is None


async def test_a_tail_that_falls_behind_reads_the_l10_notice(vigil: Vigil) -> None:
    logs = vigil.services.logs
    tail = Tail(logs.pipeline, ["slow"], lines=0, follow=True, capacity=3)
    await tail.start()
    logs.pipeline.accept([line("slow", f"m{i}") for i in range(10)])
    batch = await tail.next(wait=1)
    assert batch is not None
    notice, *rest = batch
    assert (notice.source, notice.instance) == ("heroku", "logplex")
    assert notice.message.startswith("Error L10 (output buffer overflow): 7 messages dropped since ")
    assert [x.message for x in rest] == ["m7", "m8", "m9"]
    tail.close()


async def test_a_tail_without_follow_ends_after_the_newest_lines(vigil: Vigil) -> None:
    logs = vigil.services.logs
    logs.pipeline.accept([line("n", "only")])
    tail = Tail(logs.pipeline, ["n"], lines=5, follow=False, capacity=10)
    assert [x.message for x in await tail.start()] == ["only"]
    assert await asyncio.wait_for(tail.next(), 1) is None


async def test_log_counters_are_in_the_servers_own_metrics(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral")
    logs = vigil.services.logs
    logs.pipeline.accept([line("metered", "a"), line("metered", "b"), line("!!!", "c")])
    await logs.store.sync()
    text = (await vigil.client.get("/metrics")).text
    assert 'vigil_log_lines_total{outcome="accepted"} 2.0' in text
    assert 'vigil_log_lines_total{outcome="no_app"} 1.0' in text
    assert 'vigil_log_history_lines_total{outcome="stored"} 2.0' in text
    assert "vigil_log_pending_lines 0.0" in text
    assert 'vigil_log_syslog{counter="connections"} 0.0' in text
    assert 'vigil_log_grpc{counter="envelopes"} 0.0' in text


async def test_the_name_caches_are_bounded(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(log_name_cache=2)
    logs = vigil.services.logs
    logs.pipeline.accept([line("n1", "x"), line("n2", "x")])
    assert len(logs.apps._known) == 2 and len(logs.pipeline._valid) == 2
    logs.pipeline.accept([line("n3", "x")])  # full: cleared, then n3 remembered
    assert logs.apps._known == {"n3"} and logs.pipeline._valid == {"n3"}
    await logs.apps.flush()
    for app in ("n1", "n2", "n3"):  # forgetting a name in memory forgets nothing: the database knows
        assert await logs.apps.exists(app)


async def test_a_busy_tail_gathers_lines_for_a_linger_and_an_idle_one_does_not(vigil: Vigil) -> None:
    logs = vigil.services.logs
    tail = Tail(logs.pipeline, ["busy"], lines=0, follow=True, capacity=100, linger=0.2)
    await tail.start()
    logs.pipeline.accept([line("busy", "first")])
    assert [x.message for x in await tail.next(wait=1)] == ["first"]  # idle until now: at once

    async def later() -> None:
        await asyncio.sleep(0.05)
        logs.pipeline.accept([line("busy", "third")])

    logs.pipeline.accept([line("busy", "second")])
    feeder = asyncio.create_task(later())
    # Right after a write: the tail waits out the linger and takes what came meanwhile too.
    assert [x.message for x in await tail.next(wait=1)] == ["second", "third"]
    await feeder
    tail.close()


async def test_grouped_lines_with_their_columns_are_accepted_like_a_flat_batch(vigil: Vigil) -> None:
    from vigil.logs.columns import lines_columns

    pipeline = vigil.services.logs.pipeline
    now = time.time_ns() // 1000
    good = [LogLine("grp-a", "app", "", STDOUT, now + i, "", f"a{i}") for i in range(3)]
    assert pipeline.accept_groups({"grp-a": good}, lines_columns(good)) == 3
    # A name that needs mapping: the columns cannot be used as they are; history gets the mapped lines.
    odd = [LogLine("Grp_B", "app", "", STDOUT, now + 10 + i, "", f"b{i}") for i in range(2)]
    assert pipeline.accept_groups({"Grp_B": odd, "grp-a": good[:1]}, lines_columns([*odd, good[0]])) == 3
    assert pipeline.ring.count("grp-b") == 2 and pipeline.ring.count("grp-a") == 4
    stored = await pipeline.store.read(["grp-a", "grp-b"])
    assert sorted((x.app, x.message) for x in stored) == sorted(
        [("grp-a", "a0"), ("grp-a", "a1"), ("grp-a", "a2"), ("grp-b", "b0"), ("grp-b", "b1"), ("grp-a", "a0")])
