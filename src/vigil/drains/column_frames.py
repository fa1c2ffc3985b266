"""Syslog frames of many lines at once, from their Arrow columns (`vigil.logs.columns.SCHEMA`).

The bytes are exactly `frames.placeholder_frames` of the same lines (and so `format_rfc5424` with the
drain token as HOSTNAME, octet-counted): RFC 5424 with the NUL placeholder as HOSTNAME,

    N <PRI>1 TIMESTAMP \\0 SOURCE INSTANCE - - MESSAGE\\n

Why columns: the delivery process gets each turn's lines as one Arrow table, and building a frame
per line in Python (~0.6 µs, after decoding the line into objects) was most of its work. Here a frame
is put together from seven pieces, and all frames of a table come out of one `take` over a small
array of distinct pieces plus the messages:

- "N " (the octet count, from a table of the counts below COUNT_TABLE, others made as needed);
- "<PRI>1 YYYY-MM-DDTHH:MM:SS", one per (second, stream) that occurs;
- the TIMESTAMP fraction as Loggregator trims it, two table look-ups (milliseconds, then the
  microseconds with trailing zeros removed);
- "+00:00 \\0 SOURCE INSTANCE - - ", one per (source, instance) pair that occurs (`header_field`
  applied to each distinct value, not each line);
- the message (NULs removed, as `format_rfc5424` does);
- a LF, or nothing when the message already ends with one.

The octet counts are added up from the pieces' lengths with numpy. Every per-line step is a
vectorised call, so the cost is a fixed ~150–250 µs per call plus ~0.15–0.2 µs a line (0.2 µs a line
all told for 2,000 lines, against ~0.6 µs for `placeholder_frames` plus ~0.4 µs to make the lines'
objects first): worth it from a few hundred lines on, which is why the delivery process frames a
whole message (every app's lines of a server turn) at once and hands each app's chunk its slice of
the result.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.drains.frames import PLACEHOLDER
from vigil.logs.syslog import APP_NAME_MAX, PRI_STDERR, PRI_STDOUT, PROCID_MAX, header_field
from vigil.logs.timefmt import _second_prefix

COUNT_TABLE: Final = 10_000  # octet counts "N " kept ready-made (frames of messages up to ~9,900 bytes)
# Distinct (source, instance) pairs and seconds are found by direct indexing while their range is small,
# by a sort beyond.
DIRECT_KEYS: Final = 4096
DIRECT_SECONDS: Final = 64
# One `take` result holds at most 2 GiB (32-bit offsets): a bigger table is framed in parts.
PART_BYTES: Final = (1 << 31) - (1 << 24)
# Below this many rows the fixed cost of the vectorised calls (~150–250 µs) is more than framing each line
# in Python (`placeholder_frames`, ~0.6 µs a line, plus ~0.4 µs to make the line's objects): callers
# frame such small tables line by line.
SMALL_TABLE: Final = 128


def _piece_table() -> tuple[pa.Array, np.ndarray, int, int, int, int]:
    counts = [f"{i} " for i in range(COUNT_TABLE)]
    millis = [f".{i:03d}" for i in range(1000)]  # ".120" (microseconds follow)
    millis_trimmed = [""] + [f".{i:03d}".rstrip("0") for i in range(1, 1000)]  # ".12"; "" on a whole second
    micros_trimmed = [f"{i:03d}".rstrip("0") for i in range(1000)]  # "450" -> "45"
    pieces = counts + millis + millis_trimmed + micros_trimmed + ["\n", ""]
    array = pa.array(pieces, pa.string())
    lengths = np.array([len(p) for p in pieces], np.int64)  # (all ASCII)
    millis_at = COUNT_TABLE
    millis_trimmed_at = millis_at + 1000
    micros_at = millis_trimmed_at + 1000
    lf_at = micros_at + 1000
    return array, lengths, millis_at, millis_trimmed_at, micros_at, lf_at


_PIECES, _PIECE_LENGTHS, _MILLIS_AT, _MILLIS_TRIMMED_AT, _MICROS_AT, _LF_AT = _piece_table()
_HEAD_STDOUT: Final = f"<{PRI_STDOUT}>1 "
_HEAD_STDERR: Final = f"<{PRI_STDERR}>1 "
_NO_ROWS: Final = np.zeros(1, np.int64)


class ColumnFrames:
    """The frames of a table's rows, back to back in `data`; row i's frame is data[starts[i]:starts[i + 1]]."""

    __slots__ = ("data", "host_len", "starts")

    def __init__(self, data: bytes, starts: np.ndarray, host_len: int) -> None:
        self.data = data
        self.starts = starts
        self.host_len = host_len


def _strings(array: pa.Array) -> pa.Array:
    return array.fill_null("") if array.null_count else array


def _offsets(array: pa.Array) -> np.ndarray:
    """A string array's value offsets (n + 1 of them, into its data buffer)."""
    return np.frombuffer(array.buffers()[1], np.int32, len(array) + 1, array.offset * 4).astype(np.int64)


def _data(array: pa.Array) -> np.ndarray:
    buf = array.buffers()[2]
    return np.frombuffer(buf, np.uint8) if buf is not None else np.zeros(0, np.uint8)


def table_frames(table: pa.Table, host_len: int) -> ColumnFrames:
    """The rows' octet-counted frames with the placeholder as HOSTNAME, counted for a hostname of
    `host_len` bytes."""
    n = table.num_rows
    if not n:
        return ColumnFrames(b"", _NO_ROWS, host_len)
    table = table.combine_chunks()
    message = _strings(table.column("message").chunk(0))
    offsets = _offsets(message)
    size = int(offsets[-1] - offsets[0]) + 400 * n  # (a header is far below 400 bytes: its fields are cut)
    if size > PART_BYTES and n > 1:
        half = n // 2
        first, second = table_frames(table.slice(0, half), host_len), table_frames(table.slice(half), host_len)
        starts = np.concatenate((first.starts, second.starts[1:] + len(first.data)))
        return ColumnFrames(first.data + second.data, starts, host_len)
    return _frames(table, message, offsets, host_len)


def _frames(table: pa.Table, message: pa.Array, offsets: np.ndarray, host_len: int) -> ColumnFrames:
    n = table.num_rows
    data = _data(message)
    if data.size and not data[offsets[0]:offsets[-1]].all():  # a NUL somewhere: removed, as format_rfc5424 does
        message = pc.replace_substring(message, "\x00", "")
        offsets, data = _offsets(message), _data(message)
    message_len = np.diff(offsets)
    ends_lf = np.zeros(n, np.bool_)
    if data.size:
        ends_lf = (message_len > 0) & (data[np.maximum(offsets[1:] - 1, 0)] == 10)

    # "<PRI>1 YYYY-MM-DDTHH:MM:SS" per (second, stream).
    time_col = table.column("time").chunk(0)
    if time_col.null_count:
        time_col = time_col.fill_null(pa.scalar(0, time_col.type))
    ts = np.frombuffer(time_col.buffers()[1], np.int64, n, time_col.offset * 8)
    sec, frac = np.divmod(ts, 1_000_000)
    first, last = int(sec.min()), int(sec.max())
    if last - first < DIRECT_SECONDS:
        seconds, second_at = range(first, last + 1), sec - first
    else:
        unique, second_at = np.unique(sec, return_inverse=True)
        seconds = unique.tolist()
    heads: list[str] = []
    for s in seconds:
        prefix = _second_prefix(s)
        heads += (_HEAD_STDOUT + prefix, _HEAD_STDERR + prefix)
    stderr = pc.equal(_strings(table.column("stream").chunk(0)), "stderr").to_numpy(zero_copy_only=False)
    head_at = second_at * 2 + stderr

    # "+00:00 \0 SOURCE INSTANCE - - " per (source, instance).
    sources = pc.dictionary_encode(_strings(table.column("source").chunk(0)))
    instances = pc.dictionary_encode(_strings(table.column("instance").chunk(0)))
    source_names = [header_field(v, APP_NAME_MAX) for v in sources.dictionary.to_pylist()]
    instance_names = [header_field(v, PROCID_MAX) for v in instances.dictionary.to_pylist()]
    width = len(instance_names)
    key = sources.indices.to_numpy().astype(np.int64) * width + instances.indices.to_numpy()
    if len(source_names) * width <= DIRECT_KEYS:
        keys: list[int] | range = range(len(source_names) * width)
        field_at = key
    else:
        unique_keys, field_at = np.unique(key, return_inverse=True)
        keys = unique_keys.tolist()
    fields = [f"+00:00 {PLACEHOLDER} {source_names[k // width]} {instance_names[k % width]} - - " for k in keys]

    # The fraction: ".mmm" + trimmed µs, or the trimmed ".mmm" alone when the µs are 0.
    ms, us = np.divmod(frac, 1000)
    fraction_a = np.where(us != 0, ms + _MILLIS_AT, ms + _MILLIS_TRIMMED_AT)
    fraction_b = us + _MICROS_AT
    lf = _LF_AT + ends_lf

    dynamic = heads + fields
    dynamic_len = np.fromiter(map(len, dynamic), np.int64, len(dynamic))  # (ASCII: characters = bytes)
    body = (dynamic_len[head_at] + _PIECE_LENGTHS[fraction_a] + _PIECE_LENGTHS[fraction_b]
            + dynamic_len[len(heads) + field_at] + message_len + (~ends_lf))
    count = body + (host_len - len(PLACEHOLDER))
    count_at = count.copy()
    big = count >= COUNT_TABLE
    if big.any():  # octet counts beyond the table: their own pieces
        unique_counts, big_at = np.unique(count[big], return_inverse=True)
        count_at[big] = len(_PIECES) + len(dynamic) + big_at
        dynamic += [f"{c} " for c in unique_counts.tolist()]

    at_dynamic = len(_PIECES)
    at_message = at_dynamic + len(dynamic)
    pieces = pa.concat_arrays([_PIECES, pa.array(dynamic, pa.string()), message])
    index = np.empty((n, 7), np.int64)
    index[:, 0] = count_at
    index[:, 1] = head_at + at_dynamic
    index[:, 2] = fraction_a
    index[:, 3] = fraction_b
    index[:, 4] = field_at + (at_dynamic + len(heads))
    index[:, 5] = np.arange(at_message, at_message + n)
    index[:, 6] = lf
    out = pieces.take(pa.array(index.reshape(-1)))
    out_offsets = np.frombuffer(out.buffers()[1], np.int32, 7 * n + 1)
    starts = out_offsets[::7].astype(np.int64)
    end = int(starts[-1])
    return ColumnFrames(bytes(memoryview(out.buffers()[2])[:end]), starts - starts[0], host_len)
