"""The write-ahead log: appends, rotation, torn tails, numbering across restarts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from vigil.storage.wal import SegmentLog

SCHEMA = {"t": pa.schema([("x", pa.int64())])}


def table(*values: int) -> pa.Table:
    return pa.table({"x": pa.array(values, pa.int64())})


def test_append_rotate_read_delete(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path, SCHEMA)
    first = wal.append({"t": table(1, 2)})
    assert wal.append({"t": table(3)}) == first
    assert wal.rotate() == first
    second = wal.append({"t": table(4)})
    assert second > first
    assert wal.read(first)["t"].column("x").to_pylist() == [1, 2, 3]
    assert wal.segments() == [first, second]
    wal.delete(first)
    assert wal.segments() == [second]


def test_torn_tail_keeps_whole_batches(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path, SCHEMA)
    segment = wal.append({"t": table(1, 2)})
    wal.append({"t": table(3, 4)})
    wal.rotate()
    path = next(tmp_path.iterdir())
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # a crash in the middle of the last append
    assert wal.read(segment)["t"].column("x").to_pylist() == [1, 2]


def test_numbers_never_repeat_after_a_restart(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path, SCHEMA)
    first = wal.append({"t": table(1)})
    wal.rotate()
    wal.delete(first)
    reopened = SegmentLog(tmp_path, SCHEMA)
    assert reopened.append({"t": table(2)}) > first


def test_empty_tables_write_nothing(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path, SCHEMA)
    segment = wal.append({"t": table()})
    wal.rotate()
    assert wal.read(segment)["t"].num_rows == 0
