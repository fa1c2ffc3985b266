"""What the syslog worker processes and the server say to each other.

Server → worker, on a SOCK_SEQPACKET socket (message boundaries kept, so a handed-over socket
travels with exactly its own message): `hand(conn_id, host)` with the accepted socket's descriptor
attached, `tails_message(apps)` (which apps log sessions follow: only their groups are rendered as
Akkeris text), or `STOP`.

Worker → server, on a stream socket: `Report` messages, msgpack (msgspec, array-like structs)
behind a 4-byte big-endian length. A report carries the lines parsed since the last one as Arrow
columns grouped by app (HOSTNAME mapped onto the app name rule, `model.app_name`; see
`syslog_report`), each group as the text a log session writes and its messages' lengths (so the
server's event loop makes none of them), and the counters' increments since the last report, so
lines and the counts about them arrive together.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec
import pyarrow as pa

from vigil.logs.columns import ColumnLines, from_ipc

HEADER: Final = struct.Struct(">I")
MAX_MESSAGE: Final = 1 << 30  # a length beyond this is a broken stream, not a message
HAND: Final = struct.Struct(">Q")  # connection id; the peer's host follows as UTF-8
STOP: Final = b"stop"
TAILS: Final = b"tails\x00"  # + the tailed apps' names, LF-separated: render only their groups
TAILS_ALL: Final = b"tails*"  # render every group (too many tailed apps to name in one message)
TAILS_MAX: Final = 60_000  # bytes of names in one message; beyond it TAILS_ALL


def tails_message(apps: frozenset[str]) -> bytes:
    names = "\n".join(sorted(apps)).encode()
    return TAILS_ALL if len(names) > TAILS_MAX else TAILS + names


def tails_of(msg: bytes) -> frozenset[str] | None:
    """The apps a tails message names (None: every app)."""
    if msg == TAILS_ALL:
        return None
    body = msg[len(TAILS):].decode()
    return frozenset(body.split("\n")) if body else frozenset()


class Report(msgspec.Struct, array_like=True, gc=False):
    groups: dict[str, int]  # app name -> its rows in `table`, groups in the table's order
    table: bytes = b""  # the lines as Arrow columns (`columns.SCHEMA`, IPC stream), grouped by app
    no_app: int = 0  # lines dropped: their HOSTNAME had nothing usable as an app name
    malformed: int = 0  # frames the deframer or the parser rejected
    oversized: int = 0  # frames longer than the limit, skipped
    dropped: int = 0  # lines parsed but not sent: the channel to the server was full
    tls_failures: int = 0  # connections whose TLS handshake failed
    closed: list[int] = []  # ids of connections that ended
    texts: dict[str, bytes] = {}  # app name -> its group's lines as Akkeris text, for log sessions
    lengths: dict[str, list[int]] = {}  # app name -> its group's message lengths (what the ring weighs)


def report_groups(report: Report) -> tuple[dict[str, ColumnLines], pa.Table]:
    """A worker report's app groups, each a zero-copy slice of its table, and the table. Raises
    ValueError when the columns are unreadable or do not hold the groups' rows."""
    table = from_ipc(report.table)
    if sum(report.groups.values()) != table.num_rows:
        raise ValueError("a report's groups do not add up to its rows")
    groups: dict[str, ColumnLines] = {}
    offset = 0
    for app, rows in report.groups.items():
        groups[app] = ColumnLines(table.slice(offset, rows), (report.table, offset))
        offset += rows
    return groups, table


def hand(conn_id: int, host: str) -> bytes:
    return HAND.pack(conn_id) + host.encode()


def unhand(data: bytes) -> tuple[int, str]:
    (conn_id,) = HAND.unpack_from(data)
    return conn_id, data[HAND.size:].decode()


class ReportEncoder:
    def __init__(self) -> None:
        self._enc = msgspec.msgpack.Encoder()

    def frame(self, report: Report) -> bytearray:
        buf = bytearray(HEADER.size)
        self._enc.encode_into(report, buf, HEADER.size)
        HEADER.pack_into(buf, 0, len(buf) - HEADER.size)
        return buf


class ReportReader:
    """Bytes of the worker's stream in, whole reports out."""

    def __init__(self) -> None:
        self._dec = msgspec.msgpack.Decoder(Report)
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Report]:
        buf = self._buf
        buf += data
        out: list[Report] = []
        pos, end = 0, len(buf)
        with memoryview(buf) as view:  # released before the consumed bytes are cut off below
            while end - pos >= HEADER.size:
                (n,) = HEADER.unpack_from(view, pos)
                if n > MAX_MESSAGE:
                    raise ValueError("broken syslog worker channel: message too long")
                start = pos + HEADER.size
                if end - start < n:
                    break
                out.append(self._dec.decode(view[start:start + n]))
                pos = start + n
        if pos:
            del buf[:pos]
        return out
