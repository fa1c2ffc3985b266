"""Log lines as Arrow columns: the `logs` table's columns but `seq`, which the store adds on INSERT.

Built where lines are parsed: by the syslog workers (so the server's event loop only queues their
table) and by the store for lines that come as `LogLine`s (HTTP, gRPC, builds, in-loop syslog).
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Final, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.logs.model import LINE_OVERHEAD, LogLine

TIME: Final = pa.timestamp("us", tz="UTC")
SCHEMA: Final = pa.schema([("app", pa.string()), ("time", TIME), ("source", pa.string()), ("instance", pa.string()),
                           ("stream", pa.string()), ("host", pa.string()), ("message", pa.string())])
_STRINGS: Final = tuple((name, attrgetter(name)) for name in ("app", "source", "instance", "stream", "host", "message"))


def lines_columns(lines: Sequence[LogLine]) -> pa.Table:
    """The rows of `lines`, in SCHEMA."""
    cols = {name: pa.array(list(map(get, lines)), pa.string()) for name, get in _STRINGS}
    cols["time"] = pa.array(np.fromiter(map(attrgetter("timestamp"), lines), np.int64, len(lines)), TIME)
    return pa.table({name: cols[name] for name in SCHEMA.names})


def table_lines(table: pa.Table) -> list[LogLine]:
    """The rows of a SCHEMA table as `LogLine`s (the inverse of `lines_columns`)."""
    times = table.column("time").cast(pa.int64()).to_pylist()
    return list(map(LogLine, *(table.column(name).to_pylist() for name in ("app", "source", "instance", "stream")),
                    times, table.column("host").to_pylist(), table.column("message").to_pylist()))


# How long a `ColumnLines` may keep its report's columns alive. A slice pins every buffer of the
# table it was cut from (a whole worker report, ~4,096 lines of up to 100 apps), so lines kept
# longer (a quiet app's ring, a slow log session's queue) get columns of their own (a copy of their
# rows) and let go of the report's: the reports pinned are about this many seconds of ingest, like
# the history queue's. `settle_columns` does it, a bounded number at a time (the log service runs it
# every SETTLE_EVERY seconds); the ring compacts its own batches sooner and in bulk (`ring.py`).
SETTLE_AFTER: Final = 1.0
SETTLE_EVERY: Final = 0.25
SETTLE_MAX: Final = 256  # live ones settled per call (~20 µs each); the rest wait for the next
_young: deque[tuple[float, weakref.ref[ColumnLines]]] = deque()


def own_columns(table: pa.Table) -> pa.Table:
    """`table` in buffers of its own (a slice shares its parent's)."""
    return pa.concat_tables([table, table.schema.empty_table()]).combine_chunks()


class ColumnLines(Sequence[LogLine]):
    """Lines held as Arrow columns (SCHEMA), made into `LogLine`s only when something reads them.

    Why: the syslog workers parse into columns, and most lines are never read one by one on the
    server (history takes the columns, log sessions the workers' text, drains the columns again).
    Only the ring's readers, broker subscribers and cuts read lines; they are built once, on the
    first read, and kept. Slicing is zero-copy. A `ColumnLines` still alive `SETTLE_AFTER` seconds
    after it was made copies its rows (`settle_columns`); one made with `settles=False` already
    owns its columns.
    """

    __slots__ = ("__weakref__", "_lines", "_rows", "origin", "pins", "table")

    def __init__(self, table: pa.Table, origin: tuple[bytes, int] | None = None, *, settles: bool = True) -> None:
        self.table: pa.Table | None = table
        # Where these rows are in the bytes they were read from (`to_ipc` bytes, first row), when
        # they are a worker report's group: those bytes can be handed on as they are (drains).
        self.origin = origin
        self._rows = table.num_rows
        self._lines: list[LogLine] | None = None
        self.pins = settles  # the columns are (a slice of) a report's: settle them in time
        if settles:
            _young.append((time.monotonic() + SETTLE_AFTER, weakref.ref(self)))

    def __len__(self) -> int:
        return self._rows

    def lines(self) -> list[LogLine]:
        if self._lines is None:
            assert self.table is not None
            self._lines = table_lines(self.table)
        return self._lines

    def settle(self) -> None:
        """Let go of the report: its rows in columns of their own (or just the lines, once read)."""
        if self._lines is not None:
            self.table = None
        elif self.table is not None:
            self.table = own_columns(self.table)
        self.origin = None
        self.pins = False

    @overload
    def __getitem__(self, index: int) -> LogLine: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[LogLine]: ...

    def __getitem__(self, index: int | slice) -> LogLine | Sequence[LogLine]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._rows)
            if self._lines is not None or self.table is None or step != 1:
                return self.lines()[index]
            return ColumnLines(self.table.slice(start, max(stop - start, 0)), settles=self.pins)
        return self.lines()[index]

    def __iter__(self) -> Iterator[LogLine]:
        return iter(self.lines())

    def __repr__(self) -> str:
        return f"ColumnLines({self._rows} rows)"


def settle_columns(now: float, limit: int = SETTLE_MAX) -> int:
    """Settle the `ColumnLines` older than SETTLE_AFTER that are still alive, at most `limit` of
    them; returns how many."""
    settled = 0
    while _young and _young[0][0] <= now and settled < limit:
        lines = _young.popleft()[1]()
        if lines is not None:
            lines.settle()
            settled += 1
    return settled


def young_columns() -> int:
    """`ColumnLines` waiting to be settled (alive or not): `vigil_log_columns_unsettled`."""
    return len(_young)


def message_lengths(table: pa.Table) -> np.ndarray:
    """Each row's message length in characters (what `len(LogLine.message)` gives)."""
    return pc.utf8_length(table.column("message")).to_numpy(zero_copy_only=False).astype(np.int64)


def row_weights(table: pa.Table) -> np.ndarray:
    """What each row weighs in the history queue: its message's length plus LINE_OVERHEAD, as
    `ring.line_weight` weighs a LogLine."""
    return message_lengths(table) + LINE_OVERHEAD


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    """A table read back from `to_ipc` bytes (no copy: it refers to `data`). Raises ValueError when the
    bytes are not such a table."""
    try:
        table = pa.ipc.open_stream(data).read_all()
    except pa.ArrowInvalid as exc:
        raise ValueError(f"not an Arrow stream: {exc}") from None
    if not table.schema.equals(SCHEMA):
        raise ValueError("log columns with the wrong schema")
    return table
