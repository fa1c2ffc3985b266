"""Lines of drained apps on their way to the delivery process: the server gathers them (`Outbox`), the
delivery process opens them (`open_lines`).

The syslog workers report Arrow IPC streams, and each app group of a report knows where its rows lie in
those bytes (`ColumnLines.origin`). The server hands those bytes on as they are, with the list of
(app, report, first row, rows) of the drained apps: no Arrow work and nothing per line on its event
loop. The delivery process opens each report once (zero copy) and takes the listed rows; the rows of
apps without drains in the same report are never read.

Other groups (lists of `LogLine`s from HTTP, gRPC, builds, the L10 notices; columns whose origin is
gone) take the cheapest way for the server: lists go as msgpack `LogLine`s (~0.15 µs a line; making
columns of them costs 1.0–1.7 µs), columns without an origin are written into one IPC stream of the
message. A report of which the drained apps hold only a few rows (more than `WHOLE_REPORT_ROW_BYTES`
of report per drained row) goes the same way as its slices, so that a drain on one app of a hundred
does not ship every report whole (the pipe, the channel's bound and the delivery process would carry
the other 99 apps' lines).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from vigil.drains.channel import Lines
from vigil.logs.columns import SCHEMA, ColumnLines, from_ipc, lines_columns, to_ipc
from vigil.logs.model import LogLine

# Bytes of a report per drained row beyond which the drained rows are sliced and written anew instead
# of the report going whole: a few KB of copying (into the message, through the pipe, and in the
# delivery process) per drained row costs about what writing a small stream anew does (~10 µs), and
# the channel's bound then counts mostly drained lines (bench/drain_delivery.py `--drained`: 10 of
# 100 apps, ~1.2 KB a row, cheaper whole; 1 of 100, ~12 KB a row, cheaper anew).
WHOLE_REPORT_ROW_BYTES = 2_048
LINES = -1  # a group's source: the message's `lines`


# A group in the outbox: (app, its lines, the first of them in this message (a group may be split
# between two), rows, the index of its report in `Outbox.reports` or LINES, its first row in the report).
Group = tuple[str, Sequence[LogLine], int, int, int, int]


class Outbox:
    """The groups of lines of drained apps gathered since the last message: at most `max_lines` lines
    and `max_bytes` of reports (plus the one that went over). `add` answers whether it is full: then
    the caller sends it (`message`) before adding more."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.groups: list[Group] = []
        self.reports: list[bytes] = []
        self._drained: list[int] = []  # rows of each report that are in `groups`
        self._where: dict[int, int] = {}  # id(report bytes) -> index (the bytes are held, so ids are stable)
        self.count = 0
        self.bytes = 0

    def room(self) -> int:
        """Lines that may still be added."""
        return self.max_lines - self.count

    def add(self, app: str, lines: Sequence[LogLine], start: int, rows: int) -> bool:
        """Add `rows` (≤ `room()`) lines of a group from its line `start`; True when the outbox is full.
        (Called for every group of every drained app: kept to a few operations, ~1 µs.)"""
        origin = lines.origin if type(lines) is ColumnLines else None
        if origin is None:
            self.groups.append((app, lines, start, rows, LINES, 0))
        else:
            data, first = origin
            at = self._where.get(id(data))
            if at is None:
                at = self._where[id(data)] = len(self.reports)
                self.reports.append(data)
                self._drained.append(0)
                self.bytes += len(data)
            self._drained[at] += rows
            self.groups.append((app, lines, start, rows, at, first + start))
        self.count += rows
        return self.count >= self.max_lines or self.bytes >= self.max_bytes

    def take(self) -> list[Group]:
        """Empty the outbox; its groups (for counting them when they cannot be sent)."""
        groups = self.groups
        self.groups, self.reports, self._drained, self._where = [], [], [], {}
        self.count = self.bytes = 0
        return groups

    def message(self) -> Lines:
        """The `Lines` message of what the outbox holds (and empty it)."""
        reports, drained = self.reports, self._drained
        whole = [len(data) <= WHOLE_REPORT_ROW_BYTES * rows for data, rows in zip(reports, drained, strict=True)]
        renumber: list[int] = []
        sent: list[bytes | memoryview] = []
        for data, keep in zip(reports, whole, strict=True):
            renumber.append(len(sent) if keep else -1)
            if keep:
                sent.append(data)
        groups: list[tuple[str, int, int, int]] = []
        lines: list[LogLine] = []
        tables: list[pa.Table] = []
        made_rows = 0
        made = len(sent)  # the index the stream made here gets, if any
        for app, group, start, rows, report, first in self.take():
            if report != LINES and whole[report]:
                groups.append((app, renumber[report], first, rows))
            elif isinstance(group, ColumnLines) and group.table is not None:  # written anew, with the others
                table = group.table
                tables.append(table if table.num_rows == rows else table.slice(start, rows))
                groups.append((app, made, made_rows, rows))
                made_rows += rows
            else:
                groups.append((app, LINES, len(lines), rows))
                lines.extend(group if rows == len(group) else group[start:start + rows])
        if tables:
            sent.append(to_ipc(_one_table(tables)))
        return Lines(groups, sent, lines)


def _one_table(tables: list[pa.Table]) -> pa.Table:
    # (A table whose schema differs from SCHEMA only in metadata or nullability is cast: the delivery
    # process reads only SCHEMA.)
    tables = [t if t.schema.equals(SCHEMA) else t.cast(SCHEMA) for t in tables]
    # One record batch: a stream of one batch per group costs more to write than the copy.
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables).combine_chunks()


def lines_message(groups: Sequence[tuple[str, Sequence[LogLine]]]) -> Lines:
    """The `Lines` message of these groups, as the server sends them."""
    box = Outbox(max(1, sum(len(lines) for _, lines in groups)), 1 << 62)
    for app, lines in groups:
        box.add(app, lines, 0, len(lines))
    return box.message()


class Rows(NamedTuple):
    """Lines to publish: `groups` (app, rows) of `table`, in order, one per app (one or more `Lines`
    messages, opened), and `lost`: lines of apps whose report could not be read."""

    groups: list[tuple[str, int]]
    table: pa.Table
    lost: dict[str, int]


def open_lines(messages: Sequence[Lines], on_broken: Callable[[str], None]) -> Rows:
    """The rows the messages' groups name, each app's together and in order: one `take` over the
    reports read where they lie. A report that cannot be read (or a group beyond its rows) is
    reported to `on_broken` and its groups' lines counted in `lost`."""
    tables: list[pa.Table] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    lost: dict[str, int] = {}
    base = 0
    for msg in messages:
        sources: list[tuple[pa.Table | None, int]] = []
        for data in msg.reports:
            try:
                table = from_ipc(data)
            except ValueError as exc:
                on_broken(f"unreadable columns of {len(data)} bytes ({exc})")
                sources.append((None, 0))
                continue
            sources.append((table, base))
            tables.append(table)
            base += table.num_rows
        listed: tuple[pa.Table | None, int] = (SCHEMA.empty_table(), base)
        if msg.lines:
            listed = (lines_columns(msg.lines), base)
            tables.append(listed[0])
            base += len(msg.lines)
        for app, source, first, rows in msg.groups:
            if source == LINES:
                table, at = listed
            elif 0 <= source < len(sources):
                table, at = sources[source]
            else:
                table, at = None, 0
                on_broken(f"a group of {rows} lines names a report that is not there")
            if table is not None and not (first >= 0 and rows >= 0 and first + rows <= table.num_rows):
                on_broken(f"a group of {rows} lines beyond its columns")
                table = None
            if table is None:
                lost[app] = lost.get(app, 0) + max(rows, 0)
            elif rows:
                spans.setdefault(app, []).append((at + first, rows))
    if not spans:
        return Rows([], SCHEMA.empty_table(), lost)
    starts = np.fromiter((row for runs in spans.values() for row, _ in runs), np.int64)
    counts = np.fromiter((n for runs in spans.values() for _, n in runs), np.int64)
    # Row i of the result is row i + shift[i] of the tables together (each run moved to its place).
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    index = np.arange(int(counts.sum()), dtype=np.int64) + shift
    whole = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    return Rows([(app, sum(n for _, n in runs)) for app, runs in spans.items()], whole.take(index), lost)
