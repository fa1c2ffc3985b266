"""The messages between the server and its drain delivery process, and how they are framed.

Each message is msgpack (msgspec, tagged array-like structs) behind a 4-byte big-endian length, over
the delivery process's stdin (server → process) and stdout (process → server). Lines travel as `Lines`
messages (one per event-loop turn, more when a turn holds many) for all apps that have drains: the
syslog workers' reports as the bytes they came in, plus which rows of them are whose (`handoff.py`),
so the server does no work per line, and the delivery process reads the columns where they lie (no
decoding into objects) and frames them vectorised.
"""

from __future__ import annotations

import struct
from typing import Any

import msgspec

from vigil.logs.model import LogLine

HEADER = struct.Struct(">I")
MAX_MESSAGE = 1 << 30  # a length beyond this is a broken stream, not a message


class DrainSpec(msgspec.Struct, array_like=True):
    """A drain as the delivery process needs it. `url` is the stored URL, credentials included: it
    never leaves the two processes and is never logged."""

    id: str
    kind: str
    name: str
    url: str
    token: str
    skip_verify: bool
    ca: str | None
    created_at: float
    updated_at: float
    apps: list[str]


# ---------------------------------------------------------------------------------- server → process


class Init(msgspec.Struct, tag=True, array_like=True):
    settings: dict[str, Any]  # the drain_* settings
    log_level: int


class Drains(msgspec.Struct, tag=True, array_like=True):
    """The drains to run now (all of them): new ones start, missing ones stop, apps are updated."""

    drains: list[DrainSpec]


class Lines(msgspec.Struct, tag=True, array_like=True):
    """Lines of apps with drains (`handoff.py`): `groups` (app, source, first row, rows) in order, where
    source is an index into `reports` — Arrow IPC streams in `columns.SCHEMA`, the syslog workers'
    reports as they came (decoded as views into the message: `columns.from_ipc` reads them without a
    copy) — or -1 for `lines`. A report may hold rows of apps no group names: they are not read."""

    groups: list[tuple[str, int, int, int]]
    reports: list[memoryview]
    lines: list[LogLine] = []


class Gap(msgspec.Struct, tag=True, array_like=True):
    """`count` lines of `app` were lost on the way (the channel was full, or the process restarting)."""

    app: str
    count: int
    since: int  # µs


class StatsRequest(msgspec.Struct, tag=True, array_like=True):
    seq: int


class Finish(msgspec.Struct, tag=True, array_like=True):
    """Shut down: deliver what is buffered for up to `grace` seconds, report, exit 0."""

    grace: float


# ---------------------------------------------------------------------------------- process → server


class Ready(msgspec.Struct, tag=True, array_like=True):
    pass


class Notice(msgspec.Struct, tag=True, array_like=True):
    """Lines for the apps' own logs (the L10 notices)."""

    lines: list[LogLine]


class Stats(msgspec.Struct, tag=True, array_like=True):
    """Every drain's counters (`STAT_FIELDS` order); `seq` answers a StatsRequest (0: periodic)."""

    seq: int
    drains: dict[str, list[int]]


class Log(msgspec.Struct, tag=True, array_like=True):
    """A log record of the process, logged again by the server (its handlers, its format)."""

    level: int
    name: str
    text: str


STAT_FIELDS = ("delivered", "dropped", "failed", "rejected", "retries", "connect_failures", "notices", "connected",
               "pending", "running", "write_buffered", "backoff_attempts", "taken", "connection_open")

ToProcess = Init | Drains | Lines | Gap | StatsRequest | Finish
ToServer = Ready | Notice | Stats | Log


class Encoder:
    def __init__(self) -> None:
        self._enc = msgspec.msgpack.Encoder()

    def frame(self, msg: msgspec.Struct) -> bytearray:
        buf = bytearray(HEADER.size)
        self._enc.encode_into(msg, buf, HEADER.size)
        HEADER.pack_into(buf, 0, len(buf) - HEADER.size)
        return buf


class Deframer:
    """Bytes in, whole messages out (a stream protocol's data_received feeds it).

    A message that lies whole in the bytes fed is returned as a view of them (no copy); one that spans
    several feeds is assembled once, into a buffer of its length. Messages carry up to 16 MiB of log
    reports, and the delivery process reads them eagerly while ingest runs: copying them through a
    growing buffer (three copies) cost it CPU that ingest wanted."""

    def __init__(self, kind: Any) -> None:
        self._dec = msgspec.msgpack.Decoder(kind)
        self._head = bytearray()  # a header cut by the end of a feed
        self._body: bytearray | None = None  # a message being assembled
        self._filled = 0

    def feed(self, data: bytes) -> list[Any]:
        return [self._dec.decode(frame) for frame in self.frames(data)]

    def decode(self, frame: bytes | bytearray | memoryview) -> Any:
        return self._dec.decode(frame)

    def frames(self, data: bytes) -> list[bytes | bytearray | memoryview]:
        """The whole messages `data` completes, still encoded (views of `data` where they lie in it)."""
        out: list[bytes | bytearray | memoryview] = []
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end:
            body = self._body
            if body is not None:
                n = min(len(body) - self._filled, end - pos)
                body[self._filled:self._filled + n] = view[pos:pos + n]
                self._filled += n
                pos += n
                if self._filled == len(body):
                    out.append(body)
                    self._body = None
                continue
            if self._head or end - pos < HEADER.size:
                take = min(HEADER.size - len(self._head), end - pos)
                self._head += view[pos:pos + take]
                pos += take
                if len(self._head) < HEADER.size:
                    break
                (n,) = HEADER.unpack(self._head)
                self._head.clear()
            else:
                (n,) = HEADER.unpack_from(view, pos)
                pos += HEADER.size
            if n > MAX_MESSAGE:
                raise ValueError("broken drain channel: message too long")
            if end - pos >= n:
                out.append(view[pos:pos + n])
                pos += n
            else:
                self._body = bytearray(n)
                self._filled = 0
        return out
