"""Lines as Arrow columns: `ColumnLines` reads like a list of `LogLine`s and lets go of its columns."""

from __future__ import annotations

import gc
import time

from vigil.logs.columns import SETTLE_AFTER, ColumnLines, lines_columns, settle_columns, table_lines, to_ipc
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


def test_lines_alive_after_settle_after_seconds_keep_their_lines_and_drop_their_columns() -> None:
    kept = ColumnLines(lines_columns(LINES), (to_ipc(lines_columns(LINES)), 0))
    gone = ColumnLines(lines_columns(LINES))
    del gone
    gc.collect()
    settle_columns(time.monotonic() + SETTLE_AFTER + 1)
    assert kept.table is None and kept.origin is None and list(kept) == LINES and len(kept) == 3
    assert list(kept[1:]) == LINES[1:]
    assert kept.columns().equals(lines_columns(LINES))  # rebuilt when asked for
    assert settle_columns(time.monotonic() + 2 * SETTLE_AFTER + 1) == 0  # nothing left to settle


def test_young_lines_are_not_settled() -> None:
    lines = ColumnLines(lines_columns(LINES))
    settle_columns(time.monotonic())
    assert lines.table is not None
