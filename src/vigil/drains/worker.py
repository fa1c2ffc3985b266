"""One drain at work (in the delivery process, `child.py`): its own bounded buffer, its own task, its
own connection.

The buffer (`buffer.DrainBuffer`, read as lines or as pieces of shared chunks) holds
`drain_buffer_lines` (1,024, Logplex's drain buffer size) and `drain_buffer_bytes`, the oldest lines
dropped when it is full. Handing lines to it never waits, so a drain that is dead, slow or refusing
costs a few operations per chunk of lines and nothing else; while the drain cannot send, its task
does not read, and the buffer drops. Dropped lines are counted and
reported in the app's own log with Logplex's notice

    Error L10 (output buffer overflow): N messages dropped since 2024-05-01T12:00:00+00:00.

at most once per `drain_notice_interval` per drain (the notice is itself a line of the app, so the
drain delivers it too, right after the gap, as Logplex does).

`SyslogWorker` (syslog://, syslog+tls://) connects, then writes octet-counted frames, the whole
buffer at a time, from the chunks' shared frames with its token put in; `UdpWorker` sends
datagrams; `HttpWorker` (`http.py`) POSTs logplex-1 batches.
Connections are retried with capped exponential backoff (`drain_backoff_min` … `drain_backoff_max`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from vigil.config import Settings
from vigil.drains.backoff import Backoff
from vigil.drains.buffer import DrainBuffer, Piece, count, first_app, lines_of
from vigil.drains.frames import SyslogFramer
from vigil.drains.model import Drain
from vigil.drains.tls import client_context
from vigil.logs.logplex import overflow_notice
from vigil.logs.model import LogLine

log = logging.getLogger(__name__)


class LineFeed(Protocol):
    """Where a worker's lines come from and where its notices go (`child.Feed` in the delivery process)."""

    def subscribe(self, apps: Sequence[str] | None, capacity: int, max_bytes: int | None = None) -> DrainBuffer:
        ...

    def accept(self, lines: Sequence[LogLine]) -> int:
        ...

# Errors that mean "this connection (attempt) failed": retried with backoff, never fatal.
NETWORK_ERRORS = (OSError, ssl.SSLError, TimeoutError, EOFError)


class Hurry:
    """A flag a lingering drain waits on with a time limit: set at shutdown, and when its buffer is half
    full. Like `asyncio.Event` with `wait_for`, but the timed wait is one future and one timer, no task:
    a busy drain waits like this for every batch."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self, seconds: float) -> None:
        """Until set, or `seconds` have passed."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass
class DrainStats:
    delivered: int = 0  # lines written to the connection (TCP, UDP) or acknowledged 2xx (HTTP)
    failed: int = 0  # lines lost with a broken connection, or of an HTTP batch out of attempts
    rejected: int = 0  # lines of HTTP batches refused with a 4xx other than 429 (dropped, as Logplex)
    retries: int = 0  # HTTP batches sent again
    connect_failures: int = 0
    notices: int = 0  # L10 notices written into the app's log
    connected: bool = False


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DrainWorker(ABC):
    """What every drain shares: the subscription, counters, the L10 notice and the task."""

    def __init__(self, drain: Drain, apps: Sequence[str], feed: LineFeed, settings: Settings) -> None:
        self.drain = drain
        self.feed = feed
        self.settings = settings
        self.apps = list(apps)
        self._hurry = Hurry()  # set at shutdown, and when the buffer is half full: no more linger
        self.sub = self._subscribe(self.apps)
        self._old: DrainBuffer | None = None  # the previous subscription after a change of apps
        self._dropped_before = 0  # lines dropped by earlier subscriptions
        self.stats = DrainStats()
        self.backoff = Backoff(settings.drain_backoff_min, settings.drain_backoff_max)
        self._lost = 0  # dropped, not yet reported by a notice
        self._lost_since = 0
        self._last_notice = -math.inf
        self._warned = False
        self._last_batch = -math.inf
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _subscribe(self, apps: Sequence[str]) -> DrainBuffer:
        s = self.settings
        sub = self.feed.subscribe(apps, s.drain_buffer_lines, s.drain_buffer_bytes)
        sub.on_half_full = self._hurry.set
        sub.frame_host_len = self.frame_host_len
        sub.wants_lines = self.wants_lines
        return sub

    # The length of this drain's HOSTNAME in syslog frames, if it writes octet-counted frames made
    # from the chunks' shared frames (0: it does not).
    frame_host_len = 0
    # Whether it reads lines (`next_lines`, `next_batch`): chunks made from columns then carry them.
    wants_lines = True

    # ------------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_logged(), name=f"drain {self.drain.id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.sub.close()
        if self._old is not None:
            self._old.close()
        await self.disconnect()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def finish(self, grace: float) -> None:
        """Take no new lines; deliver what is buffered, for up to `grace` seconds (shutdown)."""
        self._closing.set()
        self._hurry.set()
        self.sub.close()  # a closed subscription still hands out what it holds, then ends the task
        if self._old is not None:
            self._old.close()
        if self._task is not None and self.stats.connected:
            await asyncio.wait([self._task], timeout=grace)

    async def _run_logged(self) -> None:
        try:
            while True:
                try:
                    await self.run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug must not end the drain for good: start over after a pause
                    log.exception("%s failed; starting over", self.drain.label)
                    self.stats.connected = False
                    await self.disconnect()
                    await asyncio.sleep(self.backoff.next())
        finally:
            self.stats.connected = False

    @abstractmethod
    async def run(self) -> None:
        """Deliver until closed (each transport's own loop)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Drop the connection, if any."""

    # -------------------------------------------------------------------------------------- reading

    @property
    def dropped(self) -> int:
        return self._dropped_before + self.sub.dropped + (self._old.dropped if self._old is not None else 0)

    @property
    def pending(self) -> int:
        return self.sub.pending + (self._old.pending if self._old is not None else 0)

    def retarget(self, apps: Sequence[str]) -> None:
        """Deliver the lines of `apps` from now on (a site's members changed). The new subscription is
        made before the old one closes, so no line falls between them; what the old one still holds
        is delivered first."""
        if set(apps) == set(self.apps):
            return
        if self._old is not None:  # a second change before the first was read: merge nothing, keep order
            self._dropped_before += self._old.dropped
            self._old.close()
        old, self.sub = self.sub, self._subscribe(apps)
        self.apps = list(apps)
        self._old = old
        old.close()  # wakes the task if it is waiting on it; its queued lines stay readable

    async def next_pieces(self, max_items: int, wait: float | None = None) -> list[Piece] | None:
        """Up to `max_items` buffered lines as pieces of chunks, waiting up to `wait` seconds (None:
        until there are some). [] when the wait passed, None once the drain is closed."""
        while True:
            old = self._old
            if old is not None:
                self._take_dropped(old)
                pieces = await old.get_pieces(max_items, 0) if old.pending else []
                if not old.pending:
                    self._dropped_before += old.dropped
                    self._old = None
                if pieces:
                    self.check_dropped(first_app(pieces))
                    return pieces
                continue
            sub = self.sub
            pieces = await sub.get_pieces(max_items, wait)
            if pieces:
                self.check_dropped(first_app(pieces))
                return pieces
            if sub is not self.sub or self._old is not None:
                continue  # retargeted while waiting
            if sub.closed:
                return None
            return []

    async def next_lines(self, max_items: int, wait: float | None = None) -> list[LogLine] | None:
        """`next_pieces` as lines."""
        pieces = await self.next_pieces(max_items, wait)
        return None if pieces is None else lines_of(pieces)

    async def next_pieces_batch(self) -> list[Piece] | None:
        """The next lines to write, as pieces of chunks. A busy drain writes at most once per
        `drain_linger` seconds and gathers what arrives meanwhile; an idle one writes a line at once.
        Without it every ingest read wakes every drain of its apps for a line or two, and the wake-ups
        cost more than the lines."""
        s = self.settings
        pieces = await self.next_pieces(s.drain_buffer_lines)
        if not pieces or not s.drain_linger:
            return pieces
        loop = asyncio.get_running_loop()
        since = loop.time() - self._last_batch
        n = count(pieces)
        if since < s.drain_linger and n < s.drain_buffer_lines:
            if not self._closing.is_set():
                self._hurry.clear()
            await self._hurry.wait(s.drain_linger - since)  # cut short at shutdown, or when lines pile up
            more = await self.next_pieces(s.drain_buffer_lines - n, 0)
            if more:
                pieces += more
        self._last_batch = loop.time()
        return pieces

    async def next_batch(self) -> list[LogLine] | None:
        """`next_pieces_batch` as lines."""
        pieces = await self.next_pieces_batch()
        return None if pieces is None else lines_of(pieces)

    def _take_dropped(self, sub: DrainBuffer) -> None:
        n, since = sub.take_dropped()
        if n:
            self._lost += n
            self._lost_since = since if not self._lost_since else min(self._lost_since, since)

    def check_dropped(self, app: str | None = None) -> None:
        """Report lines dropped since the last notice in the app's log (at most once per
        `drain_notice_interval`). Called with every read, and by the manager for a task that is stuck
        in a connection attempt or a write."""
        self._take_dropped(self.sub)
        if self._old is not None:
            self._take_dropped(self._old)
        if not self._lost:
            return
        now = time.monotonic()
        if now - self._last_notice < self.settings.drain_notice_interval:
            return
        app = app or (self.apps[0] if self.apps else None)
        if app is None:
            return
        self.feed.accept([overflow_notice(app, self._lost, self._lost_since)])
        self.stats.notices += 1
        self._lost, self._lost_since, self._last_notice = 0, 0, now

    # ---------------------------------------------------------------------------------------- state

    def failing(self, exc: BaseException, what: str, *, connected: bool = False) -> None:
        """Log the first failure of a run of failures (not every retry)."""
        self.stats.connected = connected
        if not self._warned:
            log.warning("%s: %s: %s", self.drain.label, what, describe(exc))
            self._warned = True

    def recovered(self) -> None:
        self.stats.connected = True
        if self._warned:
            log.info("%s: delivering again", self.drain.label)
            self._warned = False

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.drain.url.uses_tls:
            return None
        return client_context(self.drain.options, self.settings.drain_ca_file)


# ------------------------------------------------------------------------------------------ TCP, TLS


class _StreamProtocol(asyncio.Protocol):
    """A write-only connection with flow control. Receivers have nothing to say: what they send is
    discarded, and their close (FIN or reset) is noticed at once, before the next write."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: BaseException | None = None
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        self.closed = True
        self.error = self.error or ConnectionResetError("the receiver closed the connection")
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = self.error or exc or ConnectionResetError("the connection was closed")
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def paused(self) -> bool:
        return self._paused

    def check(self) -> None:
        if self.closed:
            raise self.error or ConnectionResetError("the connection was closed")

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark again."""
        while self._paused and not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self.check()


class SyslogWorker(DrainWorker):
    """syslog:// and syslog+tls://: RFC 5424 frames, RFC 6587 octet counting, over one connection.

    A write that cannot finish within `drain_write_timeout` (a receiver that accepts but never reads)
    aborts the connection. Its lines are counted as failed: TCP syslog has no acknowledgements, so
    what was in flight is lost, as with Loggregator and Logplex.
    """

    wants_lines = False  # (it writes the chunks' frames)

    def __init__(self, drain: Drain, apps: Sequence[str], feed: LineFeed, settings: Settings) -> None:
        self.framer = SyslogFramer(drain.token)
        self.frame_host_len = len(self.framer.hostname)  # (before the subscription is made)
        super().__init__(drain, apps, feed, settings)
        self._conn: _StreamProtocol | None = None
        self._ssl: ssl.SSLContext | None = None
        self._carry: list[Piece] = []  # read but not written when the connection went away

    @property
    def connection_open(self) -> bool:
        return self._conn is not None and not self._conn.closed

    @property
    def write_buffered(self) -> int:
        """Bytes written and not yet taken by the socket (at most the high-water mark plus one batch)."""
        conn = self._conn
        return conn.transport.get_write_buffer_size() if conn is not None and conn.transport is not None else 0

    async def connect(self) -> None:
        s, url = self.settings, self.drain.url
        if url.uses_tls and self._ssl is None:
            self._ssl = self.tls_context()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(s.drain_connect_timeout):
            transport, proto = await loop.create_connection(
                _StreamProtocol, url.host, url.port, ssl=self._ssl,
                server_hostname=url.host if self._ssl is not None else None)
        transport.set_write_buffer_limits(high=s.drain_write_buffer_bytes)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A fixed kernel send buffer: Linux would otherwise grow it to megabytes, which a receiver
            # that never reads (or a slow one) would tie up, and the stall would come that much later.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, s.drain_write_buffer_bytes)
        self._conn = proto

    async def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.abort()

    async def run(self) -> None:
        s = self.settings
        while True:
            try:
                await self.connect()
            except NETWORK_ERRORS as exc:
                self.stats.connect_failures += 1
                self.failing(exc, "cannot connect (retrying with backoff)")
                await asyncio.sleep(self.backoff.next())
                continue
            conn = self._conn
            assert conn is not None
            pieces: list[Piece] = []
            try:
                while True:
                    if self._carry:
                        pieces, self._carry = self._carry, []
                    else:
                        got = await self.next_pieces_batch()
                        if got is None:
                            return
                        pieces = got
                    if conn.closed:  # went away while we waited: these lines were never written
                        self._carry = pieces
                        conn.check()
                    assert conn.transport is not None
                    conn.transport.write(self.framer.octet_counted_pieces(pieces))
                    if conn.paused:  # (a timer per write only when the write has to wait)
                        async with asyncio.timeout(s.drain_write_timeout):
                            await conn.drain()
                    conn.check()
                    self.stats.delivered += count(pieces)
                    pieces = []
                    self.backoff.reset()
                    self.recovered()
            except NETWORK_ERRORS as exc:
                if pieces and not self._carry:
                    self.stats.failed += count(pieces)
                self.failing(exc, "connection lost (reconnecting with backoff)")
            finally:
                await self.disconnect()
            await asyncio.sleep(self.backoff.next())


# ------------------------------------------------------------------------------------------------ UDP


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, worker: UdpWorker) -> None:
        self.worker = worker
        self.writable = asyncio.Event()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" for an earlier datagram: that one is lost. UDP has no connection
        # to rebuild; the next datagram simply goes out.
        worker = self.worker
        worker.stats.failed += 1
        if not worker._warned:
            log.warning("%s: a datagram was refused (%s); lines sent meanwhile may be lost", worker.drain.label,
                        describe(exc))
            worker._warned = True


class UdpWorker(DrainWorker):
    """syslog+udp://: one RFC 5424 message per datagram (RFC 5426), at most `drain_udp_max_bytes`."""

    def __init__(self, drain: Drain, apps: Sequence[str], feed: LineFeed, settings: Settings) -> None:
        super().__init__(drain, apps, feed, settings)
        self.framer = SyslogFramer(drain.token)
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _DatagramProtocol | None = None

    async def disconnect(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()

    async def run(self) -> None:
        s, url = self.settings, self.drain.url
        loop = asyncio.get_running_loop()
        while self._transport is None:
            try:
                async with asyncio.timeout(s.drain_connect_timeout):
                    self._transport, self._protocol = await loop.create_datagram_endpoint(
                        lambda: _DatagramProtocol(self), remote_addr=(url.host, url.port))
            except NETWORK_ERRORS as exc:
                self.stats.connect_failures += 1
                self.failing(exc, "cannot resolve the host (retrying with backoff)")
                await asyncio.sleep(self.backoff.next())
        self.recovered()
        transport, protocol = self._transport, self._protocol
        assert protocol is not None
        transport.set_write_buffer_limits(high=s.drain_write_buffer_bytes)
        while True:
            lines = await self.next_batch()
            if lines is None:
                return
            sent = 0
            for line in lines:
                transport.sendto(self.framer.datagram(line, s.drain_udp_max_bytes))
                sent += 1
            self.stats.delivered += sent
            # A datagram socket that cannot keep up queues in the transport: past its high-water mark
            # the transport pauses us; wait for it rather than let that queue grow.
            await protocol.writable.wait()
