"""Lines as Arrow columns: `ColumnLines` reads like a list of `LogLine`s and lets go of its columns."""

from __future__ import annotations

import gc
import time

from vigil.logs.columns import (
    SETTLE_AFTER,
    ColumnLines,
    lines_columns,
    own_columns,
    settle_columns,
    table_lines,
    to_ipc,
    young_columns,
)
from vigil.logs.model import STDERR, STDOUT, LogLine

LINES = [LogLine("a", "app", "web.1", STDOUT, 1_700_000_000_123_456, "10.0.0.1", "hello"),
         LogLine("b", "router", "", STDERR, 0, "", "ünïcode ✓"),
         LogLine("a", "APP/PROC/WEB", "0", STDOUT, 1, "h", "")]


def test_columns_round_trip_to_the_same_lines() -> None:
    assert table_lines(lines_columns(LINES)) == LINES
    lines = ColumnLines(lines_columns(LINES))
    assert len(lines) == 3 and list(lines) == LINES and lines[1] == LINES[1] and lines[-1] == LINES[2]


def test_a_slice_is_columns_again_until_the_lines_are_read() -> None:
    lines = ColumnLines(lines_columns(LINES))
    tail = lines[1:]
    assert isinstance(tail, ColumnLines) and tail.table is not None and tail.table.num_rows == 2
    assert tail.origin is None  # only a report's own groups say where their bytes are
    assert list(tail) == LINES[1:] and list(lines[5:]) == [] and list(lines[::2]) == LINES[::2]
    assert list(lines[:-1]) == LINES[:2]


def test_lines_alive_after_settle_after_seconds_get_columns_of_their_own() -> None:
    report = lines_columns(LINES * 100)
    kept = ColumnLines(report.slice(1, 3), (to_ipc(report), 1))
    read = ColumnLines(report.slice(0, 3), (to_ipc(report), 0))
    assert list(read) == LINES  # read once: the lines are kept, the columns can go
    gone = ColumnLines(report.slice(0, 3))
    del gone
    gc.collect()
    assert settle_columns(time.monotonic() + SETTLE_AFTER + 1) == 2  # the dead one costs nothing
    assert kept.origin is None and kept.table is not None and len(kept) == 3
    assert kept.table.column("message").chunks[0].buffers()[2].address != \
        report.column("message").chunks[0].buffers()[2].address  # a copy: the report can go
    own_slice = kept[1:]
    assert isinstance(own_slice, ColumnLines) and not own_slice.pins  # nothing left to let go of
    assert list(kept) == (LINES * 2)[1:4] and list(kept[1:]) == (LINES * 2)[2:4]
    assert read.table is None and list(read) == LINES
    assert settle_columns(time.monotonic() + 2 * SETTLE_AFTER + 1) == 0  # nothing left to settle


def test_settling_is_bounded_per_call() -> None:
    report = lines_columns(LINES)
    alive = [ColumnLines(report.slice(0, 1)) for _ in range(5)]
    later = time.monotonic() + SETTLE_AFTER + 1
    assert settle_columns(later, limit=2) == 2 and settle_columns(later, limit=2) == 2
    assert settle_columns(later, limit=2) == 1 and young_columns() == 0
    assert all(lines.table is not None and list(lines) == LINES[:1] for lines in alive)


def test_own_columns_copies_a_slice() -> None:
    report = lines_columns(LINES * 10)
    own = own_columns(report.slice(3, 4))
    assert own.equals(report.slice(3, 4)) and own.column("app").num_chunks == 1
    assert own.column("message").chunks[0].buffers()[2].address != \
        report.column("message").chunks[0].buffers()[2].address


def test_young_lines_are_not_settled() -> None:
    lines = ColumnLines(lines_columns(LINES))
    settle_columns(time.monotonic())
    assert lines.table is not None
