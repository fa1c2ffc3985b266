"""A syslog worker process: reads the connections the server hands it, deframes and parses them.

Run by the server (`syslog_workers.WorkerPool`) as `python -m vigil.logs.syslog_child CONFIG`.
Why a process: deframing and parsing cost ~3 µs a line, most of the ingest work; on the server's
event loop they capped syslog at one core and made live tails wait behind every read. Here they run
beside the server, which reads the reports' Arrow columns without a pass over their lines.

- The server accepts each connection and passes its socket over `ctrl_fd` (see `syslog_wire`);
  this process serves it to the end (TLS handshake included), then names it in a report's `closed`.
- The groups of apps that log sessions follow (the server says which) are also rendered as the
  Akkeris text the sessions write (`feeds.py`), and every group's messages' lengths are listed (what
  the ring and the history queue weigh), so that the server's event loop does neither per line.
- A read's frames wait for the report, where they are parsed all at once into columns grouped by
  app (`syslog_report`). A report goes once the first of them has waited
  REPORT_LINGER (5 ms), or at the end of the loop turn once LINGER_BYTES of frames wait, or as soon
  as `batch_lines` lines or REPORT_BYTES of frames wait: big enough that the server's per-app work
  is spread over many lines, small enough that a report is a few milliseconds of its time. A
  connection reads at most TURN_BYTES per loop turn, so that a busy sender cannot hold the worker
  while a quiet connection's line waits.
- Bounded: a connection holds at most its read buffer and its deframer (`max_frame` + a few
  bytes); the report channel holds at most `buffer_bytes` unsent. When the server does not keep
  up, a report's lines are dropped and counted (`dropped`) instead of slowing the sources.
- Ends cleanly with exit status 0 on `STOP` from the server, on SIGTERM, or when the server goes
  away (its end of either socket closes): open connections are closed, their last lines reported.
  SIGINT is ignored: a terminal's Ctrl-C reaches the server too, which then stops this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections import deque

import msgspec

from vigil.logs.columns import to_ipc
from vigil.logs.framing import SyslogDeframer
from vigil.logs.syslog_columns import parse_reads
from vigil.logs.syslog_report import Segment, group_by_app, group_lengths, group_texts
from vigil.logs.syslog_wire import STOP, TAILS, TAILS_ALL, Report, ReportEncoder, tails_of, unhand

log = logging.getLogger(__name__)

# Frames' bytes per report: bounds what the server takes in at once. A report carries its lines about
# twice (Arrow columns, Akkeris text), so that one report stays within the channel's bound
# (`buffer_bytes`, 8 MiB by default).
REPORT_BYTES = 2 * 1024 * 1024
REPORT_LINGER = 0.005  # seconds a read line may wait for others to share its report
LINGER_BYTES = 256 * 1024  # ... unless this many frames' bytes already wait
TURN_BYTES = 32 * 1024  # bytes a connection may deliver in one loop turn (then it waits for the next)
STOP_GRACE = 5.0  # seconds for open connections to close and the last report to be written


class ChildConfig(msgspec.Struct):
    ctrl_fd: int
    data_fd: int
    max_frame: int = 64 * 1024
    read_size: int = 16 * 1024
    batch_lines: int = 4096
    buffer_bytes: int = 8 * 1024 * 1024
    tls_cert: str | None = None
    tls_key: str | None = None
    nice: int = 0  # added to this process's nice value


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _up_to(frames: list[bytes], size: int) -> tuple[list[bytes], int]:
    """The first frames up to the one that brings their bytes to `size`, and their bytes."""
    total = 0
    for i, frame in enumerate(frames):
        total += len(frame)
        if total >= size:
            return frames[:i + 1], total
    return frames, total


class _Conn(asyncio.BufferedProtocol):
    __slots__ = ("bad", "big", "buffer", "conn_id", "deframer", "host", "paused", "transport", "turn", "view",
                 "worker")

    def __init__(self, worker: Worker, conn_id: int, host: str) -> None:
        self.worker = worker
        self.conn_id = conn_id
        self.host = host
        self.deframer = SyslogDeframer(worker.config.max_frame)
        self.buffer = bytearray(worker.config.read_size)
        self.view = memoryview(self.buffer)
        self.transport: asyncio.BaseTransport | None = None
        self.bad = 0  # the deframer's counters as last reported
        self.big = 0
        self.turn = 0  # bytes read in this loop turn
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.worker.conns[self.conn_id] = self

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        # libuv reads a ready socket up to 32 times in one turn: a busy sender could hold the worker
        # for 2 MiB (~75 ms of parsing) while a quiet connection's line waits. Past TURN_BYTES this
        # connection pauses until the next turn, so that turns stay short and connections take turns.
        self.turn += nbytes
        if self.turn >= TURN_BYTES and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[attr-defined]
            self.worker.loop.call_soon(self._resume)
        deframer = self.deframer
        frames = deframer.feed(self.view[:nbytes].tobytes())
        if deframer.malformed != self.bad or deframer.oversized != self.big:
            self._count()
        if frames:
            self.worker.parse(frames, self.host)

    def _resume(self) -> None:
        self.turn = 0
        self.paused = False
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()  # type: ignore[attr-defined]

    def _count(self) -> None:
        deframer, worker = self.deframer, self.worker
        worker.malformed += deframer.malformed - self.bad
        worker.oversized += deframer.oversized - self.big
        self.bad, self.big = deframer.malformed, deframer.oversized
        worker.schedule()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        frames = self.deframer.close()
        self._count()
        if frames:
            self.worker.parse(frames, self.host)
        self.worker.ended(self.conn_id)


class _Channel:
    """Our end of the report stream, written without an asyncio transport: a transport writes on
    the loop's next turn, so at most one socket buffer (as little as 208 KiB) per turn, less than a
    busy turn parses. This one writes what the socket takes after every read (`pump`), and on the
    socket's writable events while some is left. The server never writes to it: readable means it
    went away."""

    SOCKET_BUFFER = 1024 * 1024  # asked for; the kernel may give less (net.core.wmem_max)

    def __init__(self, worker: Worker, sock: socket.socket) -> None:
        self.worker = worker
        self.sock = sock
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.SOCKET_BUFFER)
        self.queue: deque[memoryview] = deque()
        self.size = 0  # bytes queued and not yet written
        self.broken = False
        self.idle = asyncio.Event()  # nothing left to write
        self.idle.set()
        self._writing = False
        worker.loop.add_reader(sock.fileno(), self._on_readable)

    def write(self, data: bytes | bytearray) -> None:
        if self.broken:
            return
        self.queue.append(memoryview(data))
        self.size += len(data)
        self.idle.clear()
        self.pump()

    def pump(self) -> None:
        queue, sock = self.queue, self.sock
        while queue:
            try:
                n = sock.send(queue[0])
            except (BlockingIOError, InterruptedError):
                if not self._writing:
                    self._writing = True
                    self.worker.loop.add_writer(sock.fileno(), self.pump)
                return
            except OSError:
                self._broken()
                return
            self.size -= n
            if n == len(queue[0]):
                queue.popleft()
            else:
                queue[0] = queue[0][n:]
        self.idle.set()
        if self._writing:
            self._writing = False
            self.worker.loop.remove_writer(sock.fileno())

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._broken()

    def _broken(self) -> None:
        if not self.broken:
            self.broken = True
            self.queue.clear()
            self.size = 0
            self.idle.set()
            self.worker.stop()

    async def drain(self) -> None:
        """Wait until everything queued is written (the caller bounds the wait)."""
        await self.idle.wait()

    def close(self) -> None:
        loop = self.worker.loop
        loop.remove_reader(self.sock.fileno())
        if self._writing:
            loop.remove_writer(self.sock.fileno())
        self.sock.close()


class Worker:
    def __init__(self, config: ChildConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.ssl = tls_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
        self.ctrl = socket.socket(fileno=config.ctrl_fd)
        self.ctrl.setblocking(False)
        self.conns: dict[int, _Conn] = {}
        self.tailed: frozenset[str] | None = frozenset()  # apps whose groups are rendered (None: all)
        self.starting: set[asyncio.Task[None]] = set()
        self.encoder = ReportEncoder()
        self.segments: list[Segment] = []  # reads whose frames wait for the next report
        self.count = 0  # frames in `segments`
        self.bytes = 0  # their frames' bytes
        self.malformed = self.oversized = self.dropped = self.tls_failures = self.no_app = 0
        self.closed: list[int] = []
        self._scheduled: asyncio.Handle | None = None  # the report's flush, when one is due
        self._soon = False  # ... at the end of this turn (not after a linger)
        self._first_at = 0.0  # when the oldest line waiting for a report was read (monotonic)
        self._retry: asyncio.TimerHandle | None = None
        self.stopping = asyncio.Event()
        self.drained = asyncio.Event()  # set once stopping and no connection is left
        self.out: _Channel | None = None

    async def start(self) -> None:
        sock = socket.socket(fileno=self.config.data_fd)
        self.out = _Channel(self, sock)
        self.loop.add_reader(self.ctrl.fileno(), self._on_ctrl)

    # ------------------------------------------------------------------------------ connections

    def _on_ctrl(self) -> None:
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.ctrl, 64 * 1024, 4)
            except BlockingIOError:
                return
            except OSError:
                msg, fds = b"", []
            if not msg or msg == STOP:
                for fd in fds:
                    socket.close(fd)
                self.stop()
                return
            if not fds and (msg.startswith(TAILS) or msg == TAILS_ALL):
                self.tailed = tails_of(msg)
                continue
            conn_id, host = unhand(msg)
            for fd in fds:
                task = self.loop.create_task(self._serve(socket.socket(fileno=fd), conn_id, host))
                self.starting.add(task)
                task.add_done_callback(self._started)

    async def _serve(self, sock: socket.socket, conn_id: int, host: str) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: _Conn(self, conn_id, host), sock, ssl=self.ssl)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            # A failed TLS handshake or a peer that left at once: this connection only.
            if self.ssl is not None:
                self.tls_failures += 1
            log.debug("syslog connection %d failed to start: %s", conn_id, exc)
            sock.close()
            self.ended(conn_id)

    def _started(self, task: asyncio.Task[None]) -> None:
        self.starting.discard(task)
        self._check_drained()

    def ended(self, conn_id: int) -> None:
        self.conns.pop(conn_id, None)
        self.closed.append(conn_id)
        self.schedule()
        self._check_drained()

    def _check_drained(self) -> None:
        if self.stopping.is_set() and not self.conns and not self.starting:
            self.drained.set()

    # ---------------------------------------------------------------------------------- reports

    def parse(self, frames: list[bytes], host: str) -> None:
        """Keep a read's frames for the next report (parsed all at once there)."""
        received_us = time.time_ns() // 1000
        limit = self.config.batch_lines
        while frames:
            if not self.count:
                self._first_at = time.monotonic()
            part = frames if len(frames) <= limit - self.count else frames[:limit - self.count]
            size = sum(map(len, part))
            if self.bytes + size >= REPORT_BYTES:
                part, size = _up_to(part, REPORT_BYTES - self.bytes)
            self.segments.append(Segment(part, host, received_us))
            self.count += len(part)
            self.bytes += size
            # A report holds at most batch_lines lines and REPORT_BYTES of frames (+ the last frame).
            if self.count >= limit or self.bytes >= REPORT_BYTES:
                self.flush()
            frames = frames[len(part):]
        out = self.out
        if out is not None and out.queue:
            out.pump()  # hand the server more of what is waiting, between reads
        if self.count:
            self.schedule()

    def schedule(self) -> None:
        # Lines wait up to REPORT_LINGER for more (reads are small, so that a turn is short and a quiet
        # connection's line is not stuck behind busy ones), unless LINGER_BYTES of frames already wait:
        # then the report goes at the end of this turn, as does one that carries only counters.
        urgent = not self.count or self.bytes >= LINGER_BYTES
        pending = self._scheduled
        if pending is not None:
            if not urgent or self._soon:
                return
            pending.cancel()
        delay = 0.0 if urgent else self._first_at + REPORT_LINGER - time.monotonic()
        if delay > 0:
            self._scheduled, self._soon = self.loop.call_later(delay, self.flush), False
        else:
            self._scheduled, self._soon = self.loop.call_soon(self.flush), True

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()  # a no-op when it is the call running now
            self._scheduled = None
        out = self.out
        if out is None or out.broken:
            self.segments, self.count, self.bytes = [], 0, 0  # the server is gone: nobody to report to
            return
        if out.size > self.config.buffer_bytes:
            # The server is behind: these lines go (counted), the counters wait for room.
            self.dropped += self.count
            self.segments, self.count, self.bytes = [], 0, 0
            if self._retry is None:
                self._retry = self.loop.call_later(0.1, self._retry_flush)
            return
        if not (self.count or self.malformed or self.oversized or self.dropped or self.tls_failures or self.closed
                or self.no_app):
            return
        table, malformed = parse_reads(self.segments)
        grouped = group_by_app(table)
        # Rendered here, in parallel, rather than on the server's event loop, the one serial stage.
        texts = group_texts(grouped, self.tailed) if grouped.groups else {}
        report = Report(grouped.groups, to_ipc(grouped.table) if grouped.groups else b"",
                        grouped.no_app + self.no_app, self.malformed + malformed, self.oversized, self.dropped,
                        self.tls_failures, self.closed, texts, group_lengths(grouped))
        self.segments, self.count, self.bytes, self.closed = [], 0, 0, []
        self.malformed = self.oversized = self.dropped = self.tls_failures = self.no_app = 0
        out.write(self.encoder.frame(report))

    def _retry_flush(self) -> None:
        self._retry = None
        self.flush()

    # ------------------------------------------------------------------------------------- stop

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        await self.start()
        await self.stopping.wait()
        self.loop.remove_reader(self.ctrl.fileno())
        for task in list(self.starting):
            task.cancel()
        for conn in list(self.conns.values()):
            if conn.transport is not None:
                conn.transport.close()
        deadline = self.loop.time() + STOP_GRACE
        self._check_drained()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained.wait(), STOP_GRACE)
        self.flush()
        if self.out is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.1, deadline - self.loop.time())):
                    await self.out.drain()
            self.out.close()
        self.ctrl.close()


async def _main(config: ChildConfig) -> None:
    worker = Worker(config)
    worker.loop.add_signal_handler(signal.SIGTERM, worker.stop)
    await worker.run()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="syslog worker: %(levelname)s %(message)s")
    config = msgspec.json.decode(argv[1], type=ChildConfig)
    if config.nice:
        os.nice(config.nice)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio works as well
        asyncio.run(_main(config))
    else:
        uvloop.run(_main(config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
