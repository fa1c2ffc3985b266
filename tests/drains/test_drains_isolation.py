"""Isolation: one drain blackholed (accepts TCP, never reads), one refused, one healthy, on one app.

The healthy drain and a live reader get every line; ingest accepts and stores every line, exactly as
without drains; the dead drains hold at most their buffer and did no work per line beyond it. All of
it is measured by counts; the throughput in time is measured by bench/drains.py.
"""

from __future__ import annotations

from tests.conftest import StartVigil
from tests.drains.conftest import FAST, TcpSink, add_drain, eventually, post_lines

N = 20_000
BATCH = 1_000
# Long enough that the blackhole's connection (kernel buffers of a few MB) fills up and stalls.
PAD = " " + "x" * 400


def lines(app: str, start: int) -> list[dict[str, object]]:
    return [{"app": app, "message": f"line {i:05d}{PAD}"} for i in range(start, start + BATCH)]


async def test_dead_drains_do_not_hold_back_ingest_tails_or_healthy_drains(
        start_vigil: StartVigil, tcp_sink: TcpSink, blackhole: int, refusing: int) -> None:
    vigil = await start_vigil(**FAST)
    svc = vigil.services
    healthy = await add_drain(vigil.client, f"syslog://127.0.0.1:{tcp_sink.port}", owner="/apps/busy")
    dead = await add_drain(vigil.client, f"syslog://127.0.0.1:{blackhole}", owner="/apps/busy")
    refused = await add_drain(vigil.client, f"syslog://127.0.0.1:{refusing}", owner="/apps/busy")
    workers = {name: svc.drains.workers[d["id"]] for name, d in
               (("healthy", healthy), ("dead", dead), ("refused", refused))}
    tail = svc.logs.pipeline.subscribe(["busy"], 10 * N)

    def notices_so_far() -> int:
        return sum(w.stats.notices for w in workers.values())

    accepted_before = svc.logs.pipeline.accepted - notices_so_far()
    peak = {"dead": 0, "refused": 0, "dead_bytes": 0}
    for start in range(0, N, BATCH):
        await post_lines(vigil.client, lines("busy", start))
        assert await svc.drains.refresh()  # counters as of now, in the delivery process
        for name in ("dead", "refused"):
            peak[name] = max(peak[name], workers[name].pending)
        peak["dead_bytes"] = max(peak["dead_bytes"], workers["dead"].write_buffered)
        # A healthy drain keeps up with what it is given: here, a request at a time (its buffer holds
        # about one request's lines). The dead drains are never waited for.
        await eventually(lambda: workers["healthy"].pending == 0)
    with_drains = svc.logs.pipeline.accepted - notices_so_far() - accepted_before  # the notices are lines too

    # The same load on an app without drains, for comparison.
    accepted_before = svc.logs.pipeline.accepted - notices_so_far()
    for start in range(0, N, BATCH):
        await post_lines(vigil.client, lines("calm", start))
    without_drains = svc.logs.pipeline.accepted - notices_so_far() - accepted_before
    assert with_drains == without_drains == N

    # The healthy drain receives every line, in order (plus the dead drains' L10 notices, which are
    # lines of the app too).
    await eventually(lambda: len(tcp_sink.frames()) >= N + notices_so_far(), within=60)
    frames = tcp_sink.frames()
    data = [f.split(b" ", 7)[7] for f in frames if b" heroku logplex " not in f]
    assert data == [f"line {i:05d}{PAD}\n".encode() for i in range(N)]
    others = [f for f in frames if b" heroku logplex " in f]
    assert all(b" - - Error L10 (output buffer overflow): " in f for f in others)
    assert await svc.drains.refresh()
    # The dead drains dropped lines, so their notices exist and reached the healthy drain: at least
    # one, and never more than the dead drains wrote.
    assert others, "no L10 notice reached the healthy drain"
    assert len(others) <= notices_so_far()
    assert workers["healthy"].dropped == 0 and workers["healthy"].stats.failed == 0

    # So does a live reader (a tail).
    got = await tail.get(10 * N, 0)
    assert [line.message for line in got if line.source != "heroku"] == [f"line {i:05d}{PAD}" for i in range(N)]

    # Every line reached history too: nothing was dropped on the way to the engine.
    await svc.logs.store.sync()
    assert svc.logs.store.stored >= 2 * N
    assert (svc.logs.store.dropped, svc.logs.store.out_of_window) == (0, 0)

    # The refused drain never read a line: all it did per line was queue it and drop the oldest.
    refused_w = workers["refused"]
    assert refused_w.taken == 0 and refused_w.stats.delivered == 0
    # (A notice counted by the delivery process may still be on its way back through the app's log.)

    async def all_accounted() -> bool:
        assert await svc.drains.refresh()
        return refused_w.dropped + refused_w.pending == N + notices_so_far()

    await eventually(all_accounted)
    assert refused_w.stats.connect_failures >= 1
    # The blackholed one read only what the connection took before it stalled, then dropped too.
    assert workers["dead"].dropped > 0
    # Memory stayed bounded: never more than the buffer queued per drain.
    assert peak["dead"] <= 1024 and peak["refused"] <= 1024
    # … and never more than the high-water mark plus one buffer's worth of frames (~470 bytes each)
    # waiting in the blackholed connection.
    assert 0 < peak["dead_bytes"] <= svc.settings.drain_write_buffer_bytes + 1024 * 500
    assert refused_w.pending == 1024
    tail.close()
