"""Log sessions' text feeds: rendered once per group, bounded to the exact line, the L10 notice, the
syslog workers' renderings used as they are, and the ring weighing lines by the lengths they send."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import StartVigil, Vigil
from tests.logs.conftest import LiveServer, eventually, post_lines
from vigil.logs.feeds import TextFeeds, render
from vigil.logs.formats import format_akkeris_lines
from vigil.logs.framing import octet_frames
from vigil.logs.model import STDOUT, LogLine
from vigil.logs.ring import LINE_OVERHEAD, RecentLines
from vigil.logs.syslog_wire import Report, report_groups, tails_message, tails_of
from vigil.logs.tail import TextTail

T0 = 1_700_000_000_000_000


def line(app: str, message: str, ts: int = T0) -> LogLine:
    return LogLine(app, "app", "web.1", STDOUT, ts, "", message)


def text(*lines: LogLine) -> bytes:
    return format_akkeris_lines(lines).encode()


async def test_a_group_is_rendered_once_for_every_reader_of_its_app() -> None:
    feeds = TextFeeds()
    one, two = feeds.subscribe(["a"], 100, 10**6), feeds.subscribe(["a", "b"], 100, 10**6)
    other = feeds.subscribe(["c"], 100, 10**6)
    group = [line("a", "x"), line("a", "y")]
    feeds.publish("a", group, None)
    (got1,), (got2,) = await one.get(10), await two.get(10)
    assert got1[1] is got2[1]  # one rendering, shared
    assert got1 == (group, b"2023-11-14T22:13:20Z a app[web.1]: x\n2023-11-14T22:13:20Z a app[web.1]: y\n")
    assert other.pending == 0 and await other.get(10, wait=0) == []
    one.close()
    assert feeds.by_app["a"] == [two] and feeds.readers == 2
    feeds.close()
    assert feeds.by_app == {} and feeds.readers == 0 and two.closed and other.closed
    assert await two.get(10) == []  # closed: no waiting


async def test_a_full_feed_drops_its_oldest_lines_to_the_exact_line() -> None:
    feeds = TextFeeds()
    feed = feeds.subscribe(["a"], capacity=3, max_bytes=10**6)
    lines = [line("a", f"m{i}") for i in range(10)]
    feeds.publish("a", lines[:4], None)
    feeds.publish("a", lines[4:], None)  # 10 lines, room for 3: the first chunk goes, the second is cut
    assert (feed.pending, feed.dropped, feeds.dropped) == (3, 7, 7)
    assert feed.bytes == len(text(*lines[7:])) + 3 * LINE_OVERHEAD
    [(kept, rendered)] = await feed.get(10)
    assert kept == lines[7:] and rendered == text(*lines[7:])
    dropped, since = feed.take_dropped()
    assert dropped == 7 and abs(since - time.time_ns() // 1000) < 10_000_000
    assert feed.take_dropped()[0] == 0 and feed.bytes == 0


async def test_a_feed_keeps_within_its_byte_limit() -> None:
    feeds = TextFeeds()
    lines = [line("a", f"{i}" + "x" * 99) for i in range(3)]
    each = len(text(lines[0])) + LINE_OVERHEAD  # every line renders to the same length here
    feed = feeds.subscribe(["a"], capacity=100, max_bytes=2 * each)
    feeds.publish("a", lines, None)
    assert (feed.pending, feed.dropped, feed.bytes) == (2, 1, 2 * each)
    [(kept, rendered)] = await feed.get(10)
    assert kept == lines[1:] and rendered == text(*lines[1:])
    feeds.publish("a", [line("a", "y" * 1000)], None)  # alone over the limit: it goes too
    assert (feed.pending, feed.dropped, feed.bytes) == (0, 2, 0)


async def test_get_takes_whole_chunks_up_to_max_lines() -> None:
    feeds = TextFeeds()
    feed = feeds.subscribe(["a"], 100, 10**6)
    for i in range(3):
        feeds.publish("a", [line("a", f"{i}-{j}") for j in range(2)], None)
    first = await feed.get(3)  # a chunk is never split: two chunks, four lines
    assert [len(lines) for lines, _ in first] == [2, 2] and feed.pending == 2
    assert [len(lines) for lines, _ in await feed.get(3)] == [2] and feed.pending == 0


async def test_a_session_tail_writes_the_l10_notice_then_the_newest_lines(vigil: Vigil) -> None:
    pipeline = vigil.services.logs.pipeline
    tail = TextTail(pipeline, ["slow"], lines=0, follow=True, capacity=3, max_bytes=10**6)
    assert await tail.start() == b""
    pipeline.accept([line("slow", f"m{i}", time.time_ns() // 1000) for i in range(10)])
    out = await tail.next(wait=1)
    assert out is not None
    notice, *rest = out.decode().splitlines()
    assert " slow heroku[logplex]: Error L10 (output buffer overflow): 7 messages dropped since " in notice
    assert [x.split(": ", 1)[1] for x in rest] == ["m7", "m8", "m9"]
    tail.close()
    assert await tail.next() is None


async def test_a_session_tail_does_not_repeat_a_line_that_arrived_while_it_started(vigil: Vigil) -> None:
    logs = vigil.services.logs
    now = time.time_ns() // 1000
    logs.pipeline.accept([line("t", "before", now)])
    tail = TextTail(logs.pipeline, ["t"], lines=10, follow=True, capacity=100, max_bytes=10**6)
    original = logs.ring.last_of

    def read_with_a_line_arriving(apps: list[str], n: int) -> list[LogLine]:
        logs.pipeline.accept([line("t", "during", now + 1)])
        return original(apps, n)

    logs.ring.last_of = read_with_a_line_arriving  # type: ignore[method-assign]
    logs.ring.count = lambda app: 10  # type: ignore[method-assign]
    try:
        first = await tail.start()
    finally:
        del logs.ring.last_of, logs.ring.count
    assert [x.split(": ", 1)[1] for x in first.decode().splitlines()] == ["before", "during"]
    logs.pipeline.accept([line("t", "after", now + 2)])
    assert [x.split(": ", 1)[1] for x in (await tail.next(wait=1) or b"").decode().splitlines()] == ["after"]
    tail.close()


async def test_a_busy_session_tail_gathers_lines_for_a_linger(vigil: Vigil) -> None:
    pipeline = vigil.services.logs.pipeline
    tail = TextTail(pipeline, ["busy"], lines=0, follow=True, capacity=100, max_bytes=10**6, linger=0.2)
    await tail.start()
    pipeline.accept([line("busy", "first")])
    assert await tail.next(wait=1) == text(line("busy", "first"))  # idle until now: at once

    async def later() -> None:
        await asyncio.sleep(0.05)
        pipeline.accept([line("busy", "third")])

    pipeline.accept([line("busy", "second")])
    feeder = asyncio.create_task(later())
    assert await tail.next(wait=1) == text(line("busy", "second"), line("busy", "third"))
    await feeder
    tail.close()


async def test_a_session_tail_without_follow_ends_after_the_newest_lines(vigil: Vigil) -> None:
    pipeline = vigil.services.logs.pipeline
    pipeline.accept([line("n", "only", time.time_ns() // 1000)])
    tail = TextTail(pipeline, ["n"], lines=5, follow=False, capacity=10, max_bytes=10**6)
    assert (await tail.start()).decode().endswith(" n app[web.1]: only\n")
    assert await asyncio.wait_for(tail.next(), 1) is None
    assert pipeline.feeds.readers == 0


async def test_the_pipeline_uses_the_sources_rendering_and_lengths(vigil: Vigil) -> None:
    logs = vigil.services.logs
    feed = logs.pipeline.subscribe_text(["w", "renamed-app"], 100, 10**6)
    group = [line("w", "from a worker")]
    made = render(group)
    logs.pipeline.accept_groups({"w": group, "Renamed.App": [line("Renamed.App", "mapped")]}, None,
                                {"w": made, "Renamed.App": b"stale"}, {"w": [13], "Renamed.App": [6]})
    chunks = await feed.get(10)
    assert chunks[0][1] is made  # used as it is, not rendered again
    # A group whose name the pipeline had to map is rendered anew under the mapped name.
    assert chunks[1][1] == text(line("renamed-app", "mapped"))
    assert logs.ring.count("w") == 1 and logs.ring.total_bytes == 13 + 6 + 2 * LINE_OVERHEAD
    feed.close()


def test_the_ring_weighs_by_the_lengths_it_is_given_and_checks_their_count() -> None:
    lines = [line("a", "x" * n) for n in (10, 20, 30)]
    ring = RecentLines(max_lines=2, max_bytes=10**9, max_apps=10)
    ring.extend("a", lines, [10, 20, 30])
    assert ring.count("a") == 2 and ring.total_bytes == 50 + 2 * LINE_OVERHEAD
    ring.extend("a", [line("a", "y" * 5)], [1, 2])  # the wrong number of lengths: measured instead
    assert ring.total_bytes == 30 + 5 + 2 * LINE_OVERHEAD
    assert [x.message for x in ring.last("a", 5)] == ["x" * 30, "y" * 5]


async def test_worker_reports_carry_followed_groups_rendered_and_every_groups_lengths(
        start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    syslog = vigil.services.log_listeners.syslog
    assert syslog is not None and syslog.pool is not None
    reports: list[Report] = []
    on_report = syslog._on_report

    def spy(report: Report) -> None:
        reports.append(report)
        on_report(report)

    syslog.pool.on_report = spy  # type: ignore[union-attr]
    feed = vigil.services.logs.pipeline.subscribe_text(["rendered", "my-host"], 100, 10**6)
    _, writer = await asyncio.open_connection("127.0.0.1", syslog.port)
    writer.write(octet_frames([b"<14>1 2024-05-01T10:00:00.5Z rendered app web.1 - - hello",
                               b"<11>1 2024-05-01T10:00:01Z My_Host router - - - path=/ x",
                               b"<14>1 2024-05-01T10:00:02Z rendered app web.2 - - bye  ",
                               b"<14>1 2024-05-01T10:00:03Z quiet app web.1 - - nobody follows me"]))
    await writer.drain()
    await eventually(lambda: syslog.lines == 4)
    writer.close()
    groups = {app: lines for r in reports for app, lines in report_groups(r)[0].items()}
    texts = {app: t for r in reports for app, t in r.texts.items()}
    lengths = {app: n for r in reports for app, n in r.lengths.items()}
    assert texts == {"rendered": b"2024-05-01T10:00:00Z rendered app[web.1]: hello\n"
                                 b"2024-05-01T10:00:02Z rendered app[web.2]: bye\n",
                     "my-host": b"2024-05-01T10:00:01Z my-host router: path=/ x\n"}
    # Only the followed apps are rendered; every group's lengths go to the ring.
    assert lengths == {app: [len(x.message) for x in lines] for app, lines in groups.items()}
    assert set(lengths) == {"rendered", "my-host", "quiet"}
    got = b"".join(t for _, t in await feed.get(10))
    assert sorted(got.splitlines()) == sorted([*texts["rendered"].splitlines(), *texts["my-host"].splitlines()])
    feed.close()


async def test_a_session_stream_ends_at_shutdown_and_frees_its_slot(vigil: Vigil, live) -> None:  # type: ignore[no-untyped-def]
    server: LiveServer = await live(vigil)
    logs = vigil.services.logs
    async with server.client() as client:
        await post_lines(client, {"app": "ending", "message": "first"})
        r = await client.post("/apps/ending/log-sessions", json={"lines": 1, "tail": True})
        url = r.json()["logplex_url"]
        async with httpx.AsyncClient(timeout=10) as anon, anon.stream("GET", url) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"] == "text/plain; charset=utf-8"
            assert resp.headers["cache-control"] == "no-cache" and resp.headers["x-accel-buffering"] == "no"
            lines = resp.aiter_lines()
            assert (await anext(lines)).endswith(" ending app: first")
            assert logs.readers.active == 1 and logs.pipeline.feeds.readers == 1
            await logs.stop_readers()
            assert [x async for x in lines] == []  # the chunked body ends cleanly
    await eventually(lambda: logs.readers.active == 0)
    assert logs.pipeline.feeds.readers == 0


async def test_the_workers_learn_which_apps_are_followed(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(listeners="ephemeral", log_syslog_workers=1)
    syslog = vigil.services.log_listeners.syslog
    assert syslog is not None and syslog.pool is not None
    feeds = vigil.services.logs.pipeline.feeds
    told: list[frozenset[str]] = []
    feeds.watchers.append(told.append)
    one = feeds.subscribe(["a", "b"], 10, 10**6)
    two = feeds.subscribe(["b"], 10, 10**6)  # in the same turn: one message for both
    await asyncio.sleep(0)
    assert told == [frozenset({"a", "b"})]
    one.close()
    await asyncio.sleep(0)
    assert told[-1] == frozenset({"b"})
    two.close()
    await asyncio.sleep(0)
    assert told[-1] == frozenset() and syslog.pool.tails == tails_message(frozenset())
    assert tails_of(tails_message(frozenset({"x", "y"}))) == {"x", "y"}
    assert tails_of(tails_message(frozenset(f"app-{i:05d}" for i in range(10_000)))) is None  # too many: all
