"""Log lines as Arrow columns: the `logs` table's columns but `seq`, which the store adds on INSERT.

Built where lines are parsed: by the syslog workers (so the server's event loop only queues their
table) and by the store for lines that come as `LogLine`s (HTTP, gRPC, builds, in-loop syslog).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD

TIME: Final = pa.timestamp("us", tz="UTC")
SCHEMA: Final = pa.schema([("app", pa.string()), ("time", TIME), ("source", pa.string()), ("instance", pa.string()),
                           ("stream", pa.string()), ("host", pa.string()), ("message", pa.string())])
_STRINGS: Final = tuple((name, attrgetter(name)) for name in ("app", "source", "instance", "stream", "host", "message"))


def lines_columns(lines: Sequence[LogLine]) -> pa.Table:
    """The rows of `lines`, in SCHEMA."""
    cols = {name: pa.array(list(map(get, lines)), pa.string()) for name, get in _STRINGS}
    cols["time"] = pa.array(np.fromiter(map(attrgetter("timestamp"), lines), np.int64, len(lines)), TIME)
    return pa.table({name: cols[name] for name in SCHEMA.names})


def row_weights(table: pa.Table) -> np.ndarray:
    """What each row weighs in the history queue: its message's length plus LINE_OVERHEAD, as
    `ring.line_weight` weighs a LogLine."""
    lengths = pc.utf8_length(table.column("message")).to_numpy(zero_copy_only=False)
    return lengths.astype(np.int64) + LINE_OVERHEAD


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
