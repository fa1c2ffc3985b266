"""The messages between the server and its drain delivery process, and how they are framed.

Each message is msgpack (msgspec, tagged array-like structs) behind a 4-byte big-endian length, over
the delivery process's stdin (server → process) and stdout (process → server). Lines travel as one
`Lines` message per event-loop turn for all apps that have drains, their rows in one Arrow IPC stream
(`vigil.logs.columns.SCHEMA`): the syslog workers already hand the server columns, so the server
concatenates tables rather than encoding lines, and the delivery process reads the columns where
they lie (no decoding into objects) and frames them vectorised.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

from vigil.logs.columns import SCHEMA, ColumnLines, lines_columns, to_ipc
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
    """Lines of apps with drains, as the log pipeline grouped them: `groups` (app, number of lines) in
    order, and `table` the groups' rows in that order, an Arrow IPC stream in `columns.SCHEMA`
    (decoded as a view into the message: `columns.from_ipc` reads it without a copy)."""

    groups: list[tuple[str, int]]
    table: memoryview


def lines_message(groups: Sequence[tuple[str, Sequence[LogLine]]]) -> Lines:
    """The `Lines` message of groups of lines: columns (`ColumnLines`) as they are, lists of `LogLine`s
    (other sources than the syslog workers) made into columns, consecutive ones together."""
    tables: list[pa.Table] = []
    pending: list[LogLine] = []
    for _, lines in groups:
        if isinstance(lines, ColumnLines):
            if pending:
                tables.append(lines_columns(pending))
                pending = []
            tables.append(lines.columns())
        else:
            pending.extend(lines)
    if pending:
        tables.append(lines_columns(pending))
    # One record batch: the delivery process then frames one contiguous table, and a stream of one
    # batch per group costs more to write than the copy.
    if len(tables) == 1:
        table = tables[0]
    else:
        try:
            table = pa.concat_tables(tables)
        except pa.ArrowInvalid:  # (a table whose schema differs from SCHEMA only in metadata or nullability)
            table = pa.concat_tables([t.cast(SCHEMA) for t in tables])
    table = table.combine_chunks()
    return Lines([(app, len(lines)) for app, lines in groups], memoryview(to_ipc(table)))


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
