"""What a syslog worker reports: the frames it read, parsed into one table grouped by app.

The worker keeps each read's frames as a `Segment` (with the peer and the read's time, which a
NILVALUE TIMESTAMP takes) and parses them all at once when the report goes
(`syslog_columns.parse_reads`): columns, not a `LogLine` per line, because every stage after the
worker (history, log sessions' text, drains) wants columns or text, and Arrow does the per-line
work in C.

The table's rows are grouped by app (the HOSTNAME mapped onto the app name rule, `model.app_name`,
once per distinct name), groups in order of their first line and lines in arrival order within a
group, so a group is one contiguous slice: `groups` says how many rows each app has.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.logs.columns import message_lengths, table_lines
from vigil.logs.formats import format_akkeris_lines
from vigil.logs.model import app_name
from vigil.logs.syslog_columns import akkeris_rows, text_bytes


class Segment(NamedTuple):
    """One read's frames, parsed with the others of its report (`syslog_columns.parse_reads`)."""

    frames: list[bytes]
    host: str
    received_us: int


class Grouped(NamedTuple):
    table: pa.Table  # SCHEMA, rows grouped by app
    groups: dict[str, int]  # app -> rows, in the table's order
    no_app: int  # rows dropped: their HOSTNAME had nothing usable as an app name


def group_by_app(table: pa.Table) -> Grouped:
    """`table`'s rows grouped by app name (see the module's docstring)."""
    if not table.num_rows:
        return Grouped(table, {}, 0)
    encoded = pc.dictionary_encode(table.column("app")).combine_chunks()
    raws: list[str] = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy()
    names = [app_name(raw) for raw in raws]
    no_app = 0
    if names != raws:
        kept = list(dict.fromkeys(name for name in names if name is not None))
        position = {name: i for i, name in enumerate(kept)}
        remap = np.array([-1 if name is None else position[name] for name in names], np.int64)
        codes = remap[codes]
        if (codes < 0).any():
            keep = codes >= 0
            no_app = int(len(codes) - keep.sum())
            table, codes = table.filter(pa.array(keep)), codes[keep]
        table = table.set_column(0, "app", pa.array(kept, pa.string()).take(pa.array(codes)))
        names = kept
    counts = np.bincount(codes, minlength=len(names))
    if len(names) > 1 and (np.diff(codes) < 0).any():
        table = table.take(pa.array(np.argsort(codes, kind="stable")))
    return Grouped(table, {name: int(n) for name, n in zip(names, counts.tolist(), strict=True) if n}, no_app)


def group_texts(grouped: Grouped, tailed: frozenset[str] | None) -> dict[str, bytes]:
    """The Akkeris text of the groups of `tailed` apps (None: every app)."""
    table, groups = grouped.table, grouped.groups
    ranges: list[tuple[str, int, int]] = []
    offset = 0
    for app, rows in groups.items():
        if tailed is None or app in tailed:
            ranges.append((app, offset, rows))
        offset += rows
    if not ranges:
        return {}
    if len(ranges) != len(groups):
        table = table.take(np.concatenate([np.arange(start, start + rows) for _, start, rows in ranges]))
    text = akkeris_rows(table)
    out: dict[str, bytes] = {}
    done = 0
    for app, start, rows in ranges:
        if text is None:
            out[app] = format_akkeris_lines(table_lines(grouped.table.slice(start, rows))).encode()
        else:
            out[app] = text_bytes(text, done, done + rows)
        done += rows
    return out


def group_lengths(grouped: Grouped) -> dict[str, list[int]]:
    """Each group's messages' lengths (characters): what the ring and the history queue weigh."""
    lengths: list[int] = message_lengths(grouped.table).tolist()
    out: dict[str, list[int]] = {}
    offset = 0
    for app, rows in grouped.groups.items():
        out[app] = lengths[offset:offset + rows]
        offset += rows
    return out

