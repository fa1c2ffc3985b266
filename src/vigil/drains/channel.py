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
    """Bytes in, whole messages out (a stream protocol's data_received feeds it)."""

    def __init__(self, kind: Any) -> None:
        self._dec = msgspec.msgpack.Decoder(kind)
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        return [self._dec.decode(frame) for frame in self.frames(data)]

    def decode(self, frame: bytes) -> Any:
        return self._dec.decode(frame)

    def frames(self, data: bytes) -> list[bytes]:
        """The whole messages `data` completes, still encoded."""
        buf = self._buf
        buf += data
        out = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER.size:
            (n,) = HEADER.unpack_from(buf, pos)
            if n > MAX_MESSAGE:
                raise ValueError("broken drain channel: message too long")
            if end - pos - HEADER.size < n:
                break
            start = pos + HEADER.size
            out.append(bytes(buf[start:start + n]))
            pos = start + n
        if pos:
            del buf[:pos]
        return out
