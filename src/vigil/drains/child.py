"""The drain delivery process: `python -m vigil.drains.child`, started by the server (`process.py`).

It runs every drain's worker on its own event loop, so formatting, writing, reconnecting and the
per-drain buffers cost the server's event loop nothing. It reads `channel` messages on stdin (the
drains to run, the lines of their apps, gaps) and answers on stdout (L10 notices for the apps' logs,
every drain's counters). It ends with exit status 0 on `Finish`, on SIGTERM or SIGINT, and when its
stdin closes (the server is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from vigil.config import Settings
from vigil.drains.buffer import LineHub
from vigil.drains.channel import (
    Deframer,
    Drains,
    DrainSpec,
    Encoder,
    Finish,
    Gap,
    Init,
    Lines,
    Log,
    Notice,
    Ready,
    Stats,
    StatsRequest,
    ToProcess,
)
from vigil.drains.handoff import Rows, open_lines
from vigil.drains.http import HttpWorker
from vigil.drains.machine import MachineLoad
from vigil.drains.model import Drain, DrainOptions
from vigil.drains.urls import HTTP, HTTPS, SYSLOG_UDP, DrainURLError, parse_drain_url
from vigil.drains.worker import DrainWorker, LineFeed, SyslogWorker, UdpWorker
from vigil.logs.model import LogLine, now_us

log = logging.getLogger("vigil.drains.delivery")

SHUTDOWN_GRACE = 2.0  # seconds a connected drain has at SIGTERM to deliver its buffer


def make_worker(drain: Drain, apps: list[str], feed: LineFeed, settings: Settings) -> DrainWorker:
    scheme = drain.url.scheme
    if scheme in (HTTP, HTTPS):
        return HttpWorker(drain, apps, feed, settings)
    if scheme == SYSLOG_UDP:
        return UdpWorker(drain, apps, feed, settings)
    return SyslogWorker(drain, apps, feed, settings)


def drain_of(spec: DrainSpec) -> Drain | None:
    try:
        url = parse_drain_url(spec.url)
    except DrainURLError:
        return None
    return Drain(spec.id, spec.kind, spec.name, url, spec.token, DrainOptions(spec.skip_verify, spec.ca),
                 spec.created_at, spec.updated_at)


def yield_cpu(nice: int, idle: bool) -> None:
    """Every thread of this process at `nice` (only ever lowered: no privilege needed) and, with
    `idle`, in SCHED_IDLE (a lower class: no privilege needed either). Every thread, not just this
    one: on Linux both are per thread, and a native thread started before this (a library's) kept
    competing with ingest at the server's priority (0.1 CPU s of a 500,000-line run). Threads
    started later inherit it from the thread that starts them."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
        if idle and hasattr(os, "SCHED_IDLE"):
            with contextlib.suppress(OSError):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))


class Feed:
    """What the workers see as their pipeline: buffers from the hub; lines they log (L10 notices) go
    to the server, which accepts them into the app's log (and so back to the drains)."""

    def __init__(self, hub: LineHub, send: Any) -> None:
        self.hub = hub
        self._send = send

    def subscribe(self, apps: Sequence[str] | None, capacity: int, max_bytes: int | None = None) -> Any:
        return self.hub.subscribe(apps or (), capacity, max_bytes)

    def accept(self, lines: Sequence[LogLine]) -> int:
        self._send(Notice(list(lines)))
        return len(lines)


class Delivery:
    def __init__(self, out: asyncio.WriteTransport) -> None:
        self.out = out
        self.encoder = Encoder()
        self.hub = LineHub()
        self.feed = Feed(self.hub, self.send)
        self.settings = Settings()
        self.workers: dict[str, DrainWorker] = {}
        self.done = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finishing = False

    def send(self, msg: Any) -> None:
        if not self.out.is_closing():
            self.out.write(self.encoder.frame(msg))

    # ------------------------------------------------------------------------------------ messages

    def handle(self, msg: ToProcess | Rows) -> None:
        if isinstance(msg, Lines):
            msg = self.open([msg])
        if isinstance(msg, Rows):
            since = now_us()
            for app, count in msg.lost.items():
                self.hub.gap(app, count, since)
            if msg.groups:
                self.hub.publish_table(msg.groups, msg.table)
        elif isinstance(msg, Gap):
            self.hub.gap(msg.app, msg.count, msg.since)
        elif isinstance(msg, Drains):
            self.apply(msg.drains)
        elif isinstance(msg, StatsRequest):
            self.send_stats(msg.seq)
        elif isinstance(msg, Init):
            self.settings = Settings(**msg.settings)
            logging.getLogger().setLevel(msg.log_level)
            yield_cpu(self.settings.drain_process_nice, self.settings.drain_process_idle)
        elif isinstance(msg, Finish):
            self._spawn(self.finish(msg.grace))

    def open(self, messages: list[Lines]) -> Rows:
        """The rows of `Lines` messages; a report that cannot be read is logged, its lines are counted
        as dropped by the drains of its apps (and reported in their L10 notices)."""
        return open_lines(messages, lambda what: log.error("lines for the drains lost: %s", what))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def apply(self, specs: list[DrainSpec]) -> None:
        """Make the running workers exactly `specs`. New drains subscribe at once, so that the lines
        that follow this message on the channel reach them; removed ones stop in the background."""
        if self._finishing:
            return
        wanted = {s.id: s for s in specs}
        for spec in specs:
            worker = self.workers.get(spec.id)
            if worker is None:
                drain = drain_of(spec)
                if drain is None:
                    continue
                worker = make_worker(drain, spec.apps, self.feed, self.settings)
                self.workers[spec.id] = worker
                worker.start()
            elif set(spec.apps) != set(worker.apps):
                worker.retarget(spec.apps)
        for drain_id in [i for i in self.workers if i not in wanted]:
            worker = self.workers.pop(drain_id)
            worker.sub.close()  # no new lines from now on
            self._spawn(worker.stop())

    # ---------------------------------------------------------------------------------------- stats

    def send_stats(self, seq: int = 0) -> None:
        drains: dict[str, list[int]] = {}
        for drain_id, w in self.workers.items():
            st = w.stats
            drains[drain_id] = [st.delivered, w.dropped, st.failed, st.rejected, st.retries, st.connect_failures,
                                st.notices, int(st.connected), w.pending, int(w.running),
                                getattr(w, "write_buffered", 0), w.backoff.attempts, w.sub.delivered,
                                int(getattr(w, "connection_open", False))]
        self.send(Stats(seq, drains))

    async def tick(self) -> None:
        """Every second (or notice interval): stuck drains report drops (L10); counters go out every
        `drain_stats_interval`."""
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while True:
            s = self.settings
            await asyncio.sleep(min(s.drain_stats_interval, 1.0, s.drain_notice_interval))
            if loop.time() - checked >= min(1.0, s.drain_notice_interval):
                checked = loop.time()
                for worker in list(self.workers.values()):
                    worker.check_dropped()
            self.send_stats()

    # ------------------------------------------------------------------------------------- shutdown

    async def finish(self, grace: float) -> None:
        if self._finishing:
            return
        self._finishing = True
        workers = list(self.workers.values())
        # Connected drains get a moment to deliver what they hold; dead ones are not waited for.
        await asyncio.gather(*(w.finish(grace) for w in workers))
        await asyncio.gather(*(w.stop() for w in workers))
        self.send_stats()
        self.done.set()


class ChannelLogHandler(logging.Handler):
    """Log records go to the server, which logs them with its own handlers (so `--log-level`, the
    format and the test's log capture apply to the delivery process too)."""

    def __init__(self) -> None:
        super().__init__()
        self.delivery: Delivery | None = None
        self.fallback = logging.StreamHandler(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        delivery = self.delivery
        if delivery is None or delivery.out.is_closing():
            self.fallback.handle(record)
            return
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            delivery.send(Log(record.levelno, record.name, text))
        except Exception:
            self.handleError(record)


PIPE_BYTES = 1 << 20  # Linux's default maximum pipe size (fs.pipe-max-size); the default is 64 KiB
READ_MAX = 4 << 20  # read at most this much at a time before the drains get their turn
PACE = 0.005  # seconds between looks at the drains' buffers while lines wait for them
YIELD_PACE = 0.02  # seconds between looks at the machine's load while lines wait for it
# Shares of `drain_channel_bytes` in the inbox up to which lines wait for the machine, and for the
# drains that take lines: a burst waits for the machine until half the inbox is full, and then still
# reaches the healthy drains whole (at the drains' pace) for most of the other half.
YIELDS_UNTIL = 0.5
PACED_UNTIL = 0.875


def enlarge_pipe(fd: int) -> None:
    """A 64 KiB pipe would need a round trip through both event loops every ~350 lines."""
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class _Input(asyncio.Protocol):
    """The channel from the server, read eagerly into an inbox and handed on at the drains' pace.

    Reading eagerly keeps the server's side of the channel empty. Handing on paced matters when the
    process catches up (after a burst, or a pause): a whole backlog at once would overflow the
    buffers of drains that can keep up. So a `Lines` message waits while a drain that is taking lines
    has its buffer half full (`LineHub.busy`) — but only while the inbox is under `PACED_UNTIL` of
    `drain_channel_bytes`: beyond that a slow drain drops rather than holds back the others (a
    message per event-loop turn, so that the drains' writers still run in between), and at the limit
    reading pauses (the server then counts what does not fit).

    Lines also wait while other processes keep the machine busy (over `drain_yield_busy` of its CPUs,
    `machine.py`) — a burst of ingest — while the inbox is under `YIELDS_UNTIL`, for at most
    `drain_yield_max` seconds from the first wait; after that they are handed on until the inbox is
    empty, busy or not."""

    def __init__(self, delivery: Delivery, fd: int) -> None:
        self.delivery = delivery
        self.deframer = Deframer(ToProcess)
        self.fd = fd
        self.transport: asyncio.ReadTransport | None = None
        self.inbox: deque[bytes | bytearray | memoryview] = deque()
        self.inbox_bytes = 0
        self._paused = False
        self._retry: asyncio.Handle | None = None
        self._held: Any = None  # a message taken from the inbox while merging, handled next
        self.load = MachineLoad()
        self._yielding_since: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        # The event loop reads a few hundred KB per turn, and a turn may take a while with many
        # drains writing: take what else is waiting now, so the server's side never fills up.
        got = len(data)
        limit = self.delivery.settings.drain_channel_bytes
        while True:
            for frame in self.deframer.frames(data):
                self.inbox.append(frame)
                self.inbox_bytes += len(frame)
            if got >= READ_MAX or self.inbox_bytes >= limit:
                break
            try:
                data = os.read(self.fd, PIPE_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            if not data:  # end of input: the loop sees it too and calls eof_received
                break
            got += len(data)
        self.hand_on()

    def hand_on(self) -> None:
        if self._retry is not None:  # (one look pending at a time, however often data comes)
            self._retry.cancel()
            self._retry = None
        delivery, inbox = self.delivery, self.inbox
        s = delivery.settings
        loop = asyncio.get_running_loop()
        stalled_after = max(0.5, 4 * s.drain_linger)
        handed = False
        while inbox or self._held is not None:
            filled = self.inbox_bytes / s.drain_channel_bytes
            if delivery.hub.busy(stalled_after):
                if filled < PACED_UNTIL:
                    self._retry = loop.call_later(PACE, self.hand_on)
                    break
                if handed:  # no waiting for a slow drain, but the drains' writers run between messages
                    self._retry = loop.call_soon(self.hand_on)
                    break
            if filled < YIELDS_UNTIL and self._yields(s):
                self._retry = loop.call_later(YIELD_PACE, self.hand_on)
                break
            handed = True
            msg = self._next()
            delivery.handle(self._merge(msg, s) if isinstance(msg, Lines) else msg)
        else:
            self._yielding_since = None
        transport = self.transport
        if transport is None:
            return
        if self.inbox_bytes >= s.drain_channel_bytes:
            if not self._paused:
                self._paused = True
                transport.pause_reading()
                if self._retry is None:
                    self._retry = loop.call_later(PACE, self.hand_on)
        elif self._paused:
            self._paused = False
            transport.resume_reading()

    def _yields(self, s: Settings) -> bool:
        """Whether the lines wait for a busy machine (see the class)."""
        if s.drain_yield_max <= 0:
            return False
        since = self._yielding_since
        if since is not None and time.monotonic() - since >= s.drain_yield_max:
            return False
        share = self.load.others()  # (None: not known yet, the first look after a pause: wait to see)
        if share is not None and share <= s.drain_yield_busy:
            return False
        if since is None:
            self._yielding_since = time.monotonic()
        return True

    def _next(self) -> Any:
        msg, self._held = self._held, None
        if msg is None:
            frame = self.inbox.popleft()
            self.inbox_bytes -= len(frame)
            msg = self.deframer.decode(frame)
        return msg

    def _merge(self, first: Lines, s: Settings) -> Rows:
        """`first` and the `Lines` messages right behind it in the inbox as one table: one chunk per app.
        When the process is behind (the server sends a message per event-loop turn, ~20 lines per app
        here) the per-chunk work — a chunk, a push per drain, a piece per read — then covers a few
        hundred lines instead of a few dozen, and the vectorised framing one bigger table. At most a
        quarter of a drain's buffer per app, so that a healthy drain still takes the lines of several
        messages before it is full, and at most `drain_feed_lines` lines; a message of another kind
        ends it (order is kept)."""
        messages = [first]
        if self.inbox:
            cap = max(1, s.drain_buffer_lines // 4)
            counts: dict[str, int] = {}
            biggest = total = 0
            msg: Any = first
            while True:
                for app, _, _, n in msg.groups:
                    counts[app] = have = counts.get(app, 0) + n
                    biggest = max(biggest, have)
                    total += n
                if not self.inbox or biggest >= cap or total >= s.drain_feed_lines:
                    break
                msg = self._next()
                if not isinstance(msg, Lines):
                    self._held = msg
                    break
                messages.append(msg)
        # Each app's rows, in order, from every message's reports: one `take`.
        return self.delivery.open(messages)

    def eof_received(self) -> bool:
        self.delivery._spawn(self.delivery.finish(0))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.delivery._finishing:
            self.delivery._spawn(self.delivery.finish(0))


async def main() -> None:
    loop = asyncio.get_running_loop()
    # stdout is the channel: nothing else may write to it.
    out_file = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, out_file)
    delivery = Delivery(out)  # type: ignore[arg-type]
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ChannelLogHandler):
            handler.delivery = delivery
    enlarge_pipe(0)
    enlarge_pipe(out_file.fileno())
    in_transport, _ = await loop.connect_read_pipe(lambda: _Input(delivery, 0), os.fdopen(0, "rb", buffering=0))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: delivery._spawn(delivery.finish(SHUTDOWN_GRACE)))
    ticker = asyncio.create_task(delivery.tick())
    delivery.send(Ready())
    await delivery.done.wait()
    ticker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticker
    in_transport.close()
    # The last counters must reach the server before the loop ends.
    for _ in range(100):
        if not out.get_write_buffer_size() or out.is_closing():
            break
        await asyncio.sleep(0.01)
    out.close()


def run() -> None:
    handler = ChannelLogHandler()
    handler.fallback.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(main())
    sys.exit(0)


if __name__ == "__main__":
    run()
