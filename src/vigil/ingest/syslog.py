"""The syslog TCP listener (optionally TLS): RFC 5424 or RFC 3164 frames, RFC 6587 framing.

Each connection gets its own deframer, which detects octet counting or newline framing from the
first byte. Mapping (the Heroku/Akkeris convention): HOSTNAME -> app, APP-NAME -> source,
PROCID -> instance, PRI severity 0-3 -> stderr, 4-7 -> stdout.

Reads are parsed as they arrive and handed to the pipeline in one batch per read. Each read takes
at most `READ_SIZE` bytes (a buffered protocol), so that one busy connection cannot hold the event
loop for long: live tails and other connections get their turn between reads. A malformed frame
is counted and skipped, and the connection goes on. At most `max_connections` connections are
served; further ones are closed at once. Memory per connection is bounded by the read buffer and
the deframer (`max_frame` + a few bytes).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any

from vigil.logs.framing import SyslogDeframer
from vigil.logs.model import LogLine
from vigil.logs.pipeline import LogPipeline
from vigil.logs.syslog import SyslogError, parse_rfc3164, parse_rfc5424

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
                 max_connections: int = 1_000, max_frame: int = 64 * 1024) -> None:
        self.pipeline = pipeline
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.max_frame = max_frame
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.accepted = 0
        self.refused = 0
        self.lines = 0
        self.malformed = 0  # frames the deframer or the parser rejected (of closed connections + parse errors)
        self.oversized = 0

    @property
    def tls(self) -> bool:
        return self.ssl_context is not None

    def handle(self, frames: list[bytes], host: str) -> None:
        now = time.time_ns() // 1000
        lines: list[LogLine] = []
        append = lines.append
        for frame in frames:
            try:
                # RFC 5424 ("<PRI>1 ") or else BSD syslog, as parse_syslog decides, without its extra call.
                if frame.find(b">1 ", 2, 7) != -1:
                    append(parse_rfc5424(frame, host=host, received_us=now))
                else:
                    append(parse_rfc3164(frame, host=host, received_us=now))
            except SyslogError:
                self.malformed += 1
        if lines:
            self.lines += len(lines)
            self.pipeline.accept(lines)

    def stats(self) -> dict[str, Any]:
        live_bad = sum(c.deframer.malformed for c in self.connections)
        live_big = sum(c.deframer.oversized for c in self.connections)
        return {"connections": len(self.connections), "accepted": self.accepted, "refused": self.refused,
                "lines": self.lines, "malformed": self.malformed + live_bad, "oversized": self.oversized + live_big}

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.requested_port,
                                                ssl=self.ssl_context, reuse_address=True, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("syslog%s listening on %s:%d", " (TLS)" if self.tls else "", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        await self._server.wait_closed()
        self._server = None


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
