"""The drain delivery process: its bounded channel (what does not fit is counted as dropped by the
app's drains and reported in the app's log), restarts after it dies, and its exit on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.conftest import StartVigil, Vigil
from tests.drains.conftest import FAST, TcpSink, add_drain, eventually, post_lines

T = 1_700_000_000


def batch(start: int, n: int, pad: str = "") -> list[dict[str, object]]:
    return [{"app": "web", "message": f"line {i}{pad}", "time": T} for i in range(start, start + n)]


async def stopped_while_posting(vigil: Vigil, n: int, pad: str) -> None:
    """Post `n` lines in requests of 1,000 while the delivery process is stopped (SIGSTOP)."""
    proc = vigil.services.drains.process.proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGSTOP)  # it stops reading: the pipe fills, then the channel
    try:
        for start in range(1, n + 1, 1_000):
            await post_lines(vigil.client, batch(start, 1_000, pad))  # each answered at once
            await asyncio.sleep(0)  # (the in-process client never yields: let the loop turn, as a server's does)
    finally:
        os.kill(proc.pid, signal.SIGCONT)


async def test_a_backlog_reaches_a_healthy_drain_whole_at_its_pace(start_vigil: StartVigil,
                                                                     tcp_sink: TcpSink) -> None:
    """20,000 lines wait in the channel (4.6 MB) while the process is stopped; when it goes on, it
    hands them to the drain no faster than the drain takes them, so its 1,024-line buffer drops none."""
    vigil = await start_vigil(**FAST)
    manager = vigil.services.drains
    drain = await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    await post_lines(vigil.client, batch(0, 1))
    await eventually(lambda: len(tcp_sink.frames()) == 1)
    await stopped_while_posting(vigil, 20_000, " " + "x" * 200)
    assert manager.process.gapped == 0
    await eventually(lambda: len(tcp_sink.frames()) == 20_001, within=60)
    assert [f.split(b" ", 7)[7].split(b" ", 2)[1].strip() for f in tcp_sink.frames()] == [
        str(i).encode() for i in range(20_001)]
    assert await manager.refresh()
    assert manager.workers[drain["id"]].dropped == 0


async def test_a_full_channel_loses_lines_counted_and_reported_and_nothing_waits(
        start_vigil: StartVigil, tcp_sink: TcpSink) -> None:
    vigil = await start_vigil(**{**FAST, "drain_channel_bytes": 64 * 1024})
    manager = vigil.services.drains
    drain = await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    await post_lines(vigil.client, batch(0, 1))
    await eventually(lambda: len(tcp_sink.frames()) == 1)
    await stopped_while_posting(vigil, 20_000, " " + "x" * 200)  # ~4.6 MB: more than pipe and channel
    lost = manager.process.gapped
    assert lost > 0 and lost % 1_000 == 0  # whole turns' lines, counted as they were refused
    metrics = (await vigil.client.get("/metrics")).text
    assert f"vigil_log_drain_channel_lost_lines_total {float(lost)}" in metrics
    # Every line is accounted for: delivered, or dropped (not sent, or beyond the drain's buffer when
    # the 64 KiB limit made it hand on a backlog at once) and reported in the app's log.
    worker = manager.workers[drain["id"]]

    def frames() -> list[bytes]:
        return [f for f in tcp_sink.frames() if b" heroku logplex " not in f]

    def reported() -> int:
        notices = [x.message for x in vigil.services.logs.ring.last("web", 100_000) if x.source == "heroku"]
        return sum(int(m.split(": ")[1].split(" ")[0]) for m in notices)

    async def settled() -> bool:
        await manager.refresh()
        # Every line, the notices included, is delivered or dropped; every drop is reported.
        return (len(tcp_sink.frames()) + worker.dropped == 20_001 + reported_lines()
                and reported() == worker.dropped)

    def reported_lines() -> int:  # notices are lines of the app too: each is delivered or dropped
        return len([x for x in vigil.services.logs.ring.last("web", 100_000) if x.source == "heroku"])

    await eventually(settled, within=30)
    assert worker.dropped >= lost and worker.stats.failed == 0
    assert reported() >= lost


async def test_more_lines_in_one_turn_than_a_message_holds_go_as_several(start_vigil: StartVigil,
                                                                           tcp_sink: TcpSink) -> None:
    """`drain_feed_lines` bounds a message: a turn of 25 lines with a limit of 10 goes as three messages
    and the drain gets every line, in order."""
    vigil = await start_vigil(**{**FAST, "drain_feed_lines": 10, "drain_notice_interval": 30.0})
    manager = vigil.services.drains
    drain = await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    await post_lines(vigil.client, batch(0, 25))  # one request: one turn of 25 lines > 10
    await post_lines(vigil.client, batch(25, 3))
    await eventually(lambda: len(tcp_sink.frames()) == 28)
    assert [f.rsplit(b" ", 2)[-1] for f in tcp_sink.frames()] == [f"{i}\n".encode() for i in range(28)]
    assert await manager.refresh()
    assert manager.workers[drain["id"]].dropped == 0
    assert manager.process.gapped == 0


async def test_a_dead_delivery_process_is_restarted_and_the_drains_go_on(start_vigil: StartVigil,
                                                                         tcp_sink: TcpSink) -> None:
    vigil = await start_vigil(**FAST)
    manager = vigil.services.drains
    drain = await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    worker = manager.workers[drain["id"]]
    await post_lines(vigil.client, batch(0, 3))
    await eventually(lambda: worker.stats.delivered == 3)
    first = manager.process.proc
    assert first is not None
    first.kill()
    await eventually(lambda: manager.process.restarts == 1 and manager.process.alive)
    assert first.returncode == -signal.SIGKILL
    await post_lines(vigil.client, batch(3, 2))
    await eventually(lambda: len(tcp_sink.frames()) == 5)
    await eventually(lambda: worker.stats.delivered == 5)  # counted on from the first process's 3
    metrics = (await vigil.client.get("/metrics")).text
    assert "vigil_log_drain_process_restarts_total 1.0" in metrics


async def test_sigterm_ends_the_delivery_process_with_status_0(start_vigil: StartVigil, tcp_sink: TcpSink) -> None:
    vigil = await start_vigil(**{**FAST, "drain_linger": 30.0})
    manager = vigil.services.drains
    await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
    await post_lines(vigil.client, batch(0, 1))
    await eventually(lambda: len(tcp_sink.frames()) == 1)
    await post_lines(vigil.client, batch(1, 2))  # held by the linger …
    assert await manager.refresh()
    proc = manager.process.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0
    assert len(tcp_sink.frames()) == 3  # … and delivered before it ended
    await eventually(lambda: manager.process.restarts == 1 and manager.process.alive)


async def test_the_delivery_process_runs_only_on_cpu_that_ingest_leaves(start_vigil: StartVigil,
                                                                       tcp_sink: TcpSink) -> None:
    """SCHED_IDLE by default: a waking ingest task takes the CPU from it at once; with
    `drain_process_idle` off it runs at `drain_process_nice` instead."""
    for settings, policy, nice in (({}, os.SCHED_IDLE, None),
                                   ({"drain_process_idle": False, "drain_process_nice": 7}, os.SCHED_OTHER, 7)):
        vigil = await start_vigil(**FAST, **settings)
        await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}")
        seen = len(tcp_sink.frames())
        await post_lines(vigil.client, batch(0, 1))
        await eventually(lambda n=seen: len(tcp_sink.frames()) > n)  # (it took its settings before any line)
        proc = vigil.services.drains.process.proc
        assert proc is not None
        assert os.sched_getscheduler(proc.pid) == policy
        if nice is not None:
            assert os.getpriority(os.PRIO_PROCESS, proc.pid) == nice
