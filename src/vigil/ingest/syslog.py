"""The syslog TCP listener (optionally TLS): RFC 5424 or RFC 3164 frames, RFC 6587 framing.

Each connection gets its own deframer, which detects octet counting or newline framing from the
first byte. Mapping (the Heroku/Akkeris convention): HOSTNAME -> app, APP-NAME -> source,
PROCID -> instance, PRI severity 0-3 -> stderr, 4-7 -> stdout.

With `workers` > 0 (the default, `log_syslog_workers`), this process only accepts: each connection
is handed to one of the worker processes (`logs/syslog_workers.py`, `logs/syslog_child.py`), which
reads, deframes and parses it and reports its lines grouped by app, a few milliseconds' worth at a time;
`_on_report` hands them to the pipeline. With `workers` = 0 everything happens here: reads are
parsed as they arrive and handed to the pipeline in one batch per read, each read at most
`READ_SIZE` bytes (a buffered protocol) so that one busy connection cannot hold the event loop for
long. Either way a malformed frame is counted and skipped, and the connection goes on. At most
`max_connections` connections are served; further ones are closed at once. Memory per connection is
bounded by the read buffer and the deframer (`max_frame` + a few bytes); a worker's unsent reports
by `worker_buffer_bytes` (beyond it its lines are dropped and counted as `dropped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from typing import Any

from vigil.logs.framing import SyslogDeframer
from vigil.logs.model import LogLine
from vigil.logs.pipeline import LogPipeline
from vigil.logs.syslog import SyslogError, parse_frame
from vigil.logs.syslog_child import ChildConfig
from vigil.logs.syslog_child import tls_context as tls_context
from vigil.logs.syslog_wire import Report, report_groups
from vigil.logs.syslog_workers import WorkerPool

log = logging.getLogger(__name__)


# ~150 typical lines: about a millisecond of parsing per read.
READ_SIZE = 16 * 1024


class _Connection(asyncio.BufferedProtocol):
    __slots__ = ("buffer", "deframer", "host", "listener", "transport", "view")

    def __init__(self, listener: SyslogListener) -> None:
        self.listener = listener
        self.deframer = SyslogDeframer(listener.max_frame)
        self.host = ""
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray(READ_SIZE)
        self.view = memoryview(self.buffer)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes
        listener = self.listener
        if len(listener.connections) >= listener.max_connections:
            listener.refused += 1
            transport.abort()
            return
        listener.connections.add(self)
        listener.accepted += 1
        peer = transport.get_extra_info("peername")
        self.host = str(peer[0]) if isinstance(peer, tuple) and peer else ""

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        frames = self.deframer.feed(self.view[:nbytes].tobytes())
        if frames:
            self.listener.handle(frames, self.host)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        listener = self.listener
        if self not in listener.connections:
            return
        listener.connections.discard(self)
        frames = self.deframer.close()
        if frames:
            listener.handle(frames, self.host)
        listener.malformed += self.deframer.malformed
        listener.oversized += self.deframer.oversized


class SyslogListener:
    def __init__(self, pipeline: LogPipeline, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                 max_connections: int = 1_000, max_frame: int = 64 * 1024, workers: int = 0,
                 tls_files: tuple[str, str] | None = None, worker_batch_lines: int = 4096,
                 worker_buffer_bytes: int = 8 * 1024 * 1024, worker_nice: int = 10) -> None:
        self.pipeline = pipeline
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.max_frame = max_frame
        # In-loop mode: the protocols. Worker mode: the ids of the connections the workers serve.
        self.connections: set[Any] = set()
        self._server: asyncio.Server | None = None
        self._socket: socket.socket | None = None
        self._ids = itertools.count(1)
        self.pool: WorkerPool | None = None
        if workers:
            # A worker loads the certificate itself (a context cannot cross processes).
            if ssl_context is not None and tls_files is None:
                raise ValueError("syslog workers with TLS need the certificate and key files")
            cert, key = tls_files if ssl_context is not None and tls_files else (None, None)
            config = ChildConfig(ctrl_fd=-1, data_fd=-1, max_frame=max_frame, batch_lines=worker_batch_lines,
                                 buffer_bytes=worker_buffer_bytes, tls_cert=cert, tls_key=key,
                                 nice=worker_nice)
            self.pool = WorkerPool(workers, config, self._on_report, self._on_lost)
        self.port = 0
        self.accepted = 0
        self.refused = 0
        self.lines = 0
        self.malformed = 0  # frames the deframer or the parser rejected (of closed connections + parse errors)
        self.oversized = 0
        self.dropped = 0  # lines a worker parsed but could not report: this process was behind
        self.tls_failures = 0  # connections whose TLS handshake failed (worker mode)

    @property
    def tls(self) -> bool:
        return self.ssl_context is not None

    def handle(self, frames: list[bytes], host: str) -> None:
        now = time.time_ns() // 1000
        lines: list[LogLine] = []
        append = lines.append
        for frame in frames:
            try:
                append(parse_frame(frame, host, now))
            except SyslogError:
                self.malformed += 1
        if lines:
            self.lines += len(lines)
            self.pipeline.accept(lines)

    def _on_report(self, report: Report) -> None:
        self.malformed += report.malformed
        self.oversized += report.oversized
        self.dropped += report.dropped
        self.tls_failures += report.tls_failures
        if report.closed:
            self.connections.difference_update(report.closed)
        if report.no_app:
            self.pipeline.no_app += report.no_app
        if report.groups:
            try:
                groups, table = report_groups(report)
            except ValueError:
                log.exception("a syslog worker sent unreadable columns; its lines are counted as dropped")
                self.dropped += sum(report.groups.values())
                return
            self.lines += self.pipeline.accept_groups(groups, table, report.texts, report.lengths)

    def _on_lost(self, ids: set[int]) -> None:
        self.connections.difference_update(ids)

    def _on_accept(self) -> None:
        assert self._socket is not None and self.pool is not None
        for _ in range(64):  # then let the loop run; the rest are accepted on its next turn
            try:
                conn, peer = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: pause a second (as asyncio's servers do)
                log.warning("syslog accept failed: %s", exc)
                loop = asyncio.get_running_loop()
                fd = self._socket.fileno()
                loop.remove_reader(fd)
                loop.call_later(1.0, self._resume_accepting, fd)
                return
            with conn:
                if len(self.connections) >= self.max_connections:
                    self.refused += 1
                    continue
                conn_id = next(self._ids)
                host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
                if not self.pool.hand(conn, conn_id, host):
                    self.refused += 1
                    continue
                self.connections.add(conn_id)
                self.accepted += 1

    def _resume_accepting(self, fd: int) -> None:
        if self._socket is not None and self._socket.fileno() == fd:
            asyncio.get_running_loop().add_reader(fd, self._on_accept)

    def stats(self) -> dict[str, Any]:
        if self.pool is None:
            live_bad = sum(c.deframer.malformed for c in self.connections)
            live_big = sum(c.deframer.oversized for c in self.connections)
        else:
            live_bad = live_big = 0  # workers report their counts as they go
        out = {"connections": len(self.connections), "accepted": self.accepted, "refused": self.refused,
               "lines": self.lines, "malformed": self.malformed + live_bad, "oversized": self.oversized + live_big}
        if self.pool is not None:
            out |= {"dropped": self.dropped, "tls_failures": self.tls_failures, "workers": len(self.pool.pids),
                    "worker_restarts": self.pool.restarts}
        return out

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        if self.pool is None:
            self._server = await loop.create_server(lambda: _Connection(self), self.host, self.requested_port,
                                                    ssl=self.ssl_context, reuse_address=True, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
        else:
            await self.pool.start()
            feeds = self.pipeline.feeds
            feeds.watchers.append(self.pool.set_tailed)  # workers render only followed apps' groups
            self.pool.set_tailed(frozenset(feeds.by_app))
            info = socket.getaddrinfo(self.host or None, self.requested_port, type=socket.SOCK_STREAM,
                                      flags=socket.AI_PASSIVE)
            family = info[0][0]
            sock = socket.create_server((self.host, self.requested_port), family=family, backlog=1024,
                                        dualstack_ipv6=family == socket.AF_INET6 and not self.host
                                        and socket.has_dualstack_ipv6())
            sock.setblocking(False)
            self._socket = sock
            self.port = sock.getsockname()[1]
            loop.add_reader(sock.fileno(), self._on_accept)
        log.info("syslog%s listening on %s:%d", " (TLS)" if self.tls else "", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closing
                asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        if self.pool is not None:
            with contextlib.suppress(ValueError):
                self.pipeline.feeds.watchers.remove(self.pool.set_tailed)
            await self.pool.close()  # the workers close their connections and report the last lines
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        await self._server.wait_closed()
        self._server = None
