"""A drain's buffer in the delivery process: chunks shared by an app's drains, both limits with
drop-oldest, exact counts, and a worker reading it across a change of apps (a site drain)."""

from __future__ import annotations

import time
from typing import Any

from vigil.config import Settings
from vigil.drains.buffer import Chunk, DrainBuffer, LineHub
from vigil.drains.channel import DrainSpec, Encoder, Gap, Notice
from vigil.drains.child import Delivery, Feed, _Input, drain_of
from vigil.drains.handoff import lines_message
from vigil.drains.worker import SyslogWorker
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD


def line(app: str, message: str, t: int = 0) -> LogLine:
    return LogLine(app, "app", "web.1", "stdout", 1_700_000_000_000_000 + t, "", message)


def messages(lines: list[LogLine]) -> list[str]:
    return [x.message for x in lines]


async def test_drops_the_oldest_lines_beyond_its_capacity_and_counts_them() -> None:
    hub = LineHub()
    buf = hub.subscribe(["web"], capacity=5)
    hub.publish("web", [line("web", f"{i}") for i in range(3)])
    hub.publish("web", [line("web", f"{i}") for i in range(3, 7)])  # 7 lines: 0 and 1 go
    hub.publish("other", [line("other", "x")])  # not ours
    assert (buf.pending, buf.dropped) == (5, 2)
    n, since = buf.take_dropped()
    assert n == 2 and since > 0
    assert buf.take_dropped() == (0, since)  # reported once
    assert messages(await buf.get(3)) == ["2", "3", "4"]
    assert messages(await buf.get(10)) == ["5", "6"]
    assert (buf.pending, buf.delivered, await buf.get(10, 0)) == (0, 5, [])


async def test_a_whole_chunk_and_part_of_the_next_go_at_once() -> None:
    hub = LineHub()
    buf = hub.subscribe(["web"], capacity=4)
    for start in (0, 3, 6):
        hub.publish("web", [line("web", f"{i}") for i in range(start, start + 3)])
    # 9 lines into 4: the first chunk (0-2) goes whole, then 3 and 4 from the second.
    assert (buf.pending, buf.dropped) == (4, 5)
    assert messages(await buf.get(10)) == ["5", "6", "7", "8"]


async def test_the_byte_limit_drops_exactly_the_oldest_lines_that_cover_the_excess() -> None:
    hub = LineHub()
    # Each line weighs its message + LINE_OVERHEAD: 1,000 + 256 = 1,256 here, so 3,000 hold two.
    buf = hub.subscribe(["web"], capacity=100, max_bytes=3_000)
    hub.publish("web", [line("web", f"{i}" * 1000) for i in range(5)])
    assert (buf.pending, buf.dropped, buf.bytes) == (2, 3, 2 * (1000 + LINE_OVERHEAD))
    assert [m[0] for m in messages(await buf.get(10))] == ["3", "4"]
    assert buf.bytes == 0


async def test_one_chunk_is_shared_by_every_drain_of_the_app_and_reads_do_not_disturb_each_other() -> None:
    hub = LineHub()
    fast = hub.subscribe(["web"], capacity=10)
    slow = hub.subscribe(["web"], capacity=2)
    site = hub.subscribe(["web", "api"], capacity=10)
    hub.publish("web", [line("web", f"{i}") for i in range(4)])
    hub.publish("api", [line("api", "a")])
    assert messages(await fast.get(2)) == ["0", "1"]  # a partial read of the shared chunk
    assert messages(await slow.get(10)) == ["2", "3"]
    assert messages(await fast.get(10)) == ["2", "3"]
    assert messages(await site.get(10)) == ["0", "1", "2", "3", "a"]
    assert (fast.dropped, slow.dropped, site.dropped) == (0, 2, 0)


async def test_a_gap_counts_as_dropped_for_every_drain_of_the_app() -> None:
    hub = LineHub()
    a, b = hub.subscribe(["web"], capacity=10), hub.subscribe(["web", "api"], capacity=10)
    hub.gap("web", 7, since=123)
    hub.gap("nobody", 3, since=1)
    assert (a.dropped, b.dropped) == (7, 7)
    assert a.take_dropped() == (7, 123)


async def test_closed_buffers_hand_out_what_they_hold_and_leave_the_hub() -> None:
    hub = LineHub()
    buf = hub.subscribe(["web"], capacity=10)
    hub.publish("web", [line("web", "kept")])
    buf.close()
    hub.publish("web", [line("web", "after")])
    assert buf.closed and messages(await buf.get(10)) == ["kept"]
    assert await buf.get(10) == []  # closed and empty: no wait
    assert hub._by_app == {}


async def test_half_full_wakes_a_lingering_reader() -> None:
    calls: list[int] = []
    buf = DrainBuffer(None, frozenset(["web"]), capacity=10, max_bytes=None)
    buf.on_half_full = lambda: calls.append(buf.pending)
    buf.push(Chunk([line("web", "x")] * 4))
    buf.push(Chunk([line("web", "x")] * 1))
    buf.push(Chunk([line("web", "x")] * 1))
    assert calls == [5, 6]


async def test_a_drain_that_had_nothing_to_read_is_not_stalled_when_a_backlog_comes() -> None:
    """A healthy drain idle for longer than `stalled_after` (nothing came, or the delivery process
    yielded to a busy machine) still paces the backlog handed on after: it is not taken for dead."""
    hub = LineHub()
    healthy = hub.subscribe(["web"], 10)
    dead = hub.subscribe(["web"], 10)
    dead.push(Chunk([line("web", "old")] * 2))  # lines it never read
    healthy.last_read = dead.last_read = time.monotonic() - 60
    hub.publish("web", [line("web", "x")] * 6)
    assert hub.busy(stalled_after=0.5)  # the healthy drain, half full, counts
    assert healthy.pending == 6 and dead.pending == 8
    await healthy.get(10)
    assert not hub.busy(stalled_after=0.5)  # the dead one, which had lines and never read, does not
    assert dead.stalled


async def test_a_retargeted_worker_reads_the_old_apps_lines_first() -> None:
    """A site drain whose members change subscribes to the new set before the old subscription
    closes: no line falls between, and what the old one holds comes first."""
    sent: list[Any] = []
    hub = LineHub()
    spec = DrainSpec("d1", "site", "s.example.com", "syslog://127.0.0.1:9", "d.token", False, None, 0, 0, ["a"])
    drain = drain_of(spec)
    assert drain is not None
    worker = SyslogWorker(drain, ["a"], Feed(hub, sent.append), Settings())  # not started: read by hand
    hub.publish("a", [line("a", "queued")])
    worker.retarget(["a", "b"])
    hub.publish("b", [line("b", "new")])
    assert worker.pending == 2
    assert messages(await worker.next_lines(10, 0) or []) == ["queued"]
    assert messages(await worker.next_lines(10, 0) or []) == ["new"]
    await worker.stop()
    assert hub._by_app == {} and sent == []


async def test_the_l10_notice_goes_to_the_server() -> None:
    sent: list[Any] = []
    hub = LineHub()
    spec = DrainSpec("d1", "app", "web", "syslog://127.0.0.1:9", "d.token", False, None, 0, 0, ["web"])
    drain = drain_of(spec)
    assert drain is not None
    worker = SyslogWorker(drain, ["web"], Feed(hub, sent.append), Settings(drain_buffer_lines=2))
    hub.publish("web", [line("web", f"{i}") for i in range(5)])
    worker.check_dropped()
    [notice] = sent
    assert isinstance(notice, Notice) and len(notice.lines) == 1
    assert notice.lines[0].message.startswith("Error L10 (output buffer overflow): 3 messages dropped since ")
    assert (notice.lines[0].app, notice.lines[0].source, notice.lines[0].instance) == ("web", "heroku", "logplex")
    await worker.stop()


async def test_a_drain_that_does_not_read_drops_whole_chunks_without_looking_at_their_lines() -> None:
    """A dead drain's buffer pays a few operations per chunk: whole chunks go at a push, without
    the running weights of their lines; the cut inside the oldest one waits for the next look, which
    finds exactly what dropping line by line would have kept."""
    buf = DrainBuffer(None, frozenset(["web"]), capacity=5, max_bytes=None)
    chunks = [Chunk([line("web", f"{i}") for i in range(start, start + 3)]) for start in range(0, 30, 3)]
    for chunk in chunks:
        buf.push(chunk)
    assert all(chunk._cum is None for chunk in chunks)
    assert [entry[0] for entry in buf._chunks] == chunks[-2:]  # 6 lines held until the next look
    assert (buf.pending, buf.dropped) == (5, 25)  # the look: one line cut from the older chunk
    n, since = buf.take_dropped()
    assert n == 25 and since > 0
    assert messages(await buf.get(10)) == ["25", "26", "27", "28", "29"]


async def test_the_byte_limit_is_exact_when_whole_chunks_go_first() -> None:
    buf = DrainBuffer(None, frozenset(["web"]), capacity=100, max_bytes=3 * (10 + LINE_OVERHEAD))
    for start in range(0, 12, 4):
        buf.push(Chunk([line("web", f"{i:010d}") for i in range(start, start + 4)]))
    assert (buf.pending, buf.dropped, buf.bytes) == (3, 9, 3 * (10 + LINE_OVERHEAD))
    assert messages(await buf.get(10)) == ["0000000009", "0000000010", "0000000011"]


async def test_frames_are_made_once_at_publish_for_drains_that_read_and_never_for_stalled_ones() -> None:
    hub = LineHub()
    reading = hub.subscribe(["web"], capacity=10)
    reading.frame_host_len = 38
    hub.publish("web", [line("web", "a")])
    [(chunk, _)] = reading._chunks
    assert chunk._frames is not None and chunk._frames.host_len == 38
    reading.stalled = True  # as LineHub.busy marks a drain that stopped reading
    hub.publish("web", [line("web", "b")])
    assert reading._chunks[1][0]._frames is None  # made if it ever reads it


async def test_lines_messages_waiting_together_reach_the_drains_as_one_chunk_per_app() -> None:
    """Behind, the delivery process merges the `Lines` messages waiting in its inbox: per app one
    chunk, its lines in order, at most a quarter of a drain's buffer; another message ends a merge."""
    delivery = Delivery(None)  # type: ignore[arg-type]  # (nothing is sent back here)
    delivery.settings = Settings(drain_buffer_lines=40, drain_yield_max=0)  # (lines never wait for the machine)
    web, api = delivery.hub.subscribe(["web"], 40), delivery.hub.subscribe(["api"], 40)
    inp = _Input(delivery, -1)
    encoder = Encoder()

    def queue(msg: Any) -> None:
        inp.inbox.append(bytes(encoder.frame(msg))[4:])

    for start in (0, 3):  # two turns, merged
        queue(lines_message([("web", [line("web", f"{i}") for i in range(start, start + 3)]),
                             ("api", [line("api", f"a{start}")])]))
    queue(Gap("web", 5, 123))  # ends the merge: lines after it come after it
    for start in range(6, 30, 3):  # eight turns of 3 web lines: 24 lines, merged up to 10 (40 / 4) at a time
        queue(lines_message([("web", [line("web", f"{i}") for i in range(start, start + 3)])]))
    inp.hand_on()
    assert [len(entry[0].lines) for entry in web._chunks] == [6, 12, 12]
    assert [len(entry[0].lines) for entry in api._chunks] == [2]
    assert messages(await web.get(100)) == [f"{i}" for i in range(30)]
    assert messages(await api.get(100)) == ["a0", "a3"]
    assert web.take_dropped() == (5, 123)
