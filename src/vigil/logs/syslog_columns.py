"""Syslog frames -> Arrow columns, and columns -> Akkeris text, a whole batch at a time.

The syslog workers' hot path. `parse_frame` + `lines_columns` cost ~2.5 µs a line in Python; here
the common frame shape is parsed with numpy over the batch's bytes, and every other frame goes
through `parse_frame` itself, so the answer is always exactly the Python parser's:

    parse_columns(frames, host, received_us) == lines_columns(accepted parse_frame results)
    akkeris_text(table) == format_akkeris_lines(table_lines(table)).encode()

The fast path takes a frame only when it is certain of the answer (`_fast_rows` lists the exact
conditions); anything it doubts, however harmless, is the Python parser's to decide, row by row, and
the two results are merged back in the frames' order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.logs.columns import SCHEMA, TIME, lines_columns, table_lines
from vigil.logs.formats import format_akkeris_lines
from vigil.logs.model import STDERR, STDOUT, LogLine
from vigil.logs.syslog import SyslogError, parse_frame
from vigil.logs.timefmt import format_seconds_z

# Frames' bytes per Arrow buffer: offsets are int32 (pa.string()), so a larger batch is split.
_MAX_BYTES: Final = (1 << 31) - 1024
# Bytes of a TIMESTAMP the fast path reads: "YYYY-MM-DDTHH:MM:SS" + "." + 9 digits + "+hh:mm".
_TS_MAX: Final = 35
_PAD: Final = 64  # zeros after the frames' bytes: > _TS_MAX, the widest read from a space's position
_STREAM_NAMES: Final = pa.array([STDOUT, STDERR], pa.string())  # index: severity <= 3
# Exactly what Python's str.strip() removes (str.isspace()); Arrow's own whitespace trim uses a
# different notion (e.g. U+001C..U+001F), so it is given the set explicitly.
# (All of them are below U+3001; a test checks the set against every code point.)
_PY_WHITESPACE: Final = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# Days before each month in a common year (index: month 1..12), for the days-since-epoch sum.
_DAYS_BEFORE: Final = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334], np.int64)
_DAYS_IN: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_FRAC_WEIGHT: Final = (100_000, 10_000, 1_000, 100, 10, 1)

_LT, _GT, _SP, _DASH, _ONE = 60, 62, 32, 45, 49


# --------------------------------------------------------------------------------------------- parse


def parse_columns(frames: Sequence[bytes], host: str, received_us: int) -> tuple[pa.Table, int]:
    """The frames of one connection read as a SCHEMA table, and how many of them were rejected.

    One row per frame that `parse_frame(frame, host, received_us)` accepts, in order, with exactly
    its values (app = HOSTNAME as parse_frame gives it: no app-name mapping here).
    """
    return parse_reads([(frames, host, received_us)])


def parse_reads(reads: Sequence[tuple[Sequence[bytes], str, int]]) -> tuple[pa.Table, int]:
    """`parse_columns` of several reads (frames, host, received_us) at once, their rows in order:
    one pass over all their bytes instead of one per read."""
    frames: list[bytes] = []
    for part, _, _ in reads:
        frames.extend(part)
    n = len(frames)
    if n == 0:
        return lines_columns([]), 0
    sizes = np.fromiter((len(part) for part, _, _ in reads), np.int64, len(reads))
    which = np.repeat(np.arange(len(reads)), sizes)
    received = np.fromiter((r for _, _, r in reads), np.int64, len(reads))[which]
    return _parse(frames, _Hosts([host for _, host, _ in reads], which), received)


class _Hosts:
    """Each row's peer: the reads' hosts and which read each row came from."""

    def __init__(self, hosts: list[str], which: np.ndarray) -> None:
        self.hosts = hosts
        self.which = which

    def __getitem__(self, row: int) -> str:
        return self.hosts[int(self.which[row])]

    def column(self, rows: np.ndarray) -> pa.Array:
        if len(set(self.hosts)) == 1:
            return pa.repeat(self.hosts[0], len(rows))
        return pa.array(self.hosts, pa.string()).take(self.which[rows])

    def part(self, start: int, stop: int) -> _Hosts:
        return _Hosts(self.hosts, self.which[start:stop])


def _parse(frames: Sequence[bytes], hosts: _Hosts, received: np.ndarray) -> tuple[pa.Table, int]:
    n = len(frames)
    try:
        arr = pa.array(frames, pa.binary())
    except pa.ArrowCapacityError:
        arr = None
    if not isinstance(arr, pa.BinaryArray) or arr.nbytes > _MAX_BYTES:  # ~2 GiB of frames: in halves
        half = n // 2
        if half == 0:
            return _python_rows(frames, hosts, received)
        first, bad1 = _parse(frames[:half], hosts.part(0, half), received[:half])
        second, bad2 = _parse(frames[half:], hosts.part(half, n), received[half:])
        return pa.concat_tables([first, second]).combine_chunks(), bad1 + bad2
    offsets = np.frombuffer(arr.buffers()[1], np.int32, n + 1).astype(np.int64)
    data_buf = arr.buffers()[2]
    if data_buf is None or offsets[-1] == 0:
        return _python_rows(frames, hosts, received)
    data = np.frombuffer(data_buf, np.uint8, int(offsets[-1]))
    fast, fields = _fast_rows(data, offsets, received)
    if not _valid_utf8(arr):
        fast &= _utf8_rows(frames, fast)
    return _merge(frames, hosts, received, data_buf, fast, fields)


def _python_rows(frames: Sequence[bytes], hosts: _Hosts, received: np.ndarray) -> tuple[pa.Table, int]:
    lines: list[LogLine] = []
    rejected = 0
    for i, frame in enumerate(frames):
        try:
            lines.append(parse_frame(frame, hosts[i], int(received[i])))
        except SyslogError:
            rejected += 1
    return lines_columns(lines), rejected


def _valid_utf8(arr: pa.Array) -> bool:
    """Whether every frame is valid UTF-8 on its own (Arrow checks each element apart, as strictly as
    Python's decoder: a character split across two frames is invalid in both)."""
    try:
        pa.Array.from_buffers(pa.string(), len(arr), arr.buffers()).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _utf8_rows(frames: Sequence[bytes], fast: np.ndarray) -> np.ndarray:
    """Per frame: is it valid UTF-8, asked only for the fast rows (the others go to Python anyway).
    Python's own decoder decides; this runs only when Arrow found a frame that is not."""
    ok = np.ones(len(frames), bool)
    for i in np.flatnonzero(fast).tolist():
        frame = frames[i]
        if not frame.isascii():
            try:
                frame.decode()
            except UnicodeDecodeError:
                ok[i] = False
    return ok


def _fast_rows(data: np.ndarray, offsets: np.ndarray, received: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which frames the fast path parses, and their fields (valid where the mask is True).

    A frame is taken only when all of these hold (bytes are counted from the frame's start):
      - it has at least 7 spaces; the text before the first is "<PRI>1" with PRI 0..191 in 1..3
        digits and no leading zero (so `parse_frame` takes its RFC 5424 path);
      - TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID (between the first six spaces) are non-empty;
      - STRUCTURED-DATA is exactly "-" followed by the seventh space (NILVALUE, then MSG);
      - TIMESTAMP is "-" or one of YYYY-MM-DDTHH:MM:SS followed by "Z", "+hh:mm"/"-hh:mm",
        ".F{1..9}Z" or ".F{1..9}+hh:mm" (ASCII digits), a real date (year 1..9999, month 1..12, day of
        the month incl. Feb 29 of leap years), hour <= 23, minute <= 59, second <= 60, offset hours
        <= 23 and minutes <= 59;
      - the whole frame is valid UTF-8 (checked by the caller).
    MSG is the rest after a leading BOM and without one trailing LF or CRLF, as `_clean_msg` does.
    A PROCID in brackets holding a "/" (Loggregator's "[APP/PROC/WEB/0]") is split at its last "/"
    into source and instance, and APP-NAME is not used, as `parse_rfc5424` does.
    """
    size = len(data)
    # A copy with zeros after the end: fixed-width reads from any position up to the end stay inside
    # it (and an index of -1 or -2, before an empty first frame, reads the zeros). What such a read
    # returns past a row's end never decides anything: each check is bounded by the row's spaces or
    # length too.
    buf = np.zeros(size + _PAD, np.uint8)
    buf[:size] = data
    starts, ends = offsets[:-1], offsets[1:]
    spaces = np.flatnonzero(data == _SP)
    count = len(spaces)
    if count == 0:
        return np.zeros(len(starts), bool), {}
    # The first seven spaces from each frame's start; past the last space of all, the last one again
    # (then the seventh is not inside the frame, or not the seventh: both fail the test of `ok`).
    first = np.searchsorted(spaces, starts)
    sp = [spaces[np.minimum(first + k, count - 1)] for k in range(7)]
    ok = (first + 6 < count) & (sp[6] < ends)
    head = sp[0] - starts
    ok &= (head >= 4) & (head <= 6)
    for k in range(1, 6):
        ok &= sp[k] > sp[k - 1] + 1
    ok &= (sp[6] == sp[5] + 2) & (buf[sp[5] + 1] == _DASH)

    # "<PRI>1": '<', 1..3 digits, '>', '1'
    ok &= (buf[starts] == _LT) & (buf[sp[0] - 1] == _ONE) & (buf[sp[0] - 2] == _GT)
    d1, d2, d3 = (buf[starts + j].astype(np.int16) - 48 for j in (1, 2, 3))
    is1, is2, is3 = (d1 >= 0) & (d1 <= 9), (d2 >= 0) & (d2 <= 9), (d3 >= 0) & (d3 <= 9)
    one, two = head == 4, head == 5
    pri = np.where(one, d1, np.where(two, d1 * 10 + d2, d1 * 100 + d2 * 10 + d3))
    ok &= np.where(one, is1, np.where(two, is1 & is2, is1 & is2 & is3) & (d1 != 0)) & (pri <= 191)


    times, good = _timestamps(buf, sp[0] + 1, sp[1] - sp[0] - 1, ok, received)
    ok &= good

    # MSG bounds: BOM and one LF / CRLF off (they cannot overlap: no BOM byte is CR or LF)
    msg_start = sp[6] + 1
    bom = (ends - msg_start >= 3) & (buf[msg_start] == 0xEF) & (buf[msg_start + 1] == 0xBB) & (
        buf[msg_start + 2] == 0xBF)
    msg_start = msg_start + 3 * bom
    lf = buf[ends - 1] == 10
    msg_end = ends - lf - (lf & (buf[ends - 2] == 13))
    # Per row, the bounds of [HOSTNAME, gap, APP-NAME, gap, PROCID, gap, MSG, gap]: a NILVALUE field
    # is an empty element, and each gap runs to the next element (the last to the next row).
    bounds = np.empty((len(starts), 8), np.int32)
    for j in range(3):  # from after space j+1 to space j+2
        begin, end = sp[j + 1] + 1, sp[j + 2]
        bounds[:, 2 * j] = begin
        bounds[:, 2 * j + 1] = np.where((end - begin == 1) & (buf[begin] == _DASH), begin, end)
    _loggregator_procids(buf, data, sp[3] + 1, sp[4], bounds)
    bounds[:, 6] = msg_start
    bounds[:, 7] = msg_end
    return ok, {"pri": pri, "time": times, "bounds": bounds}


def _loggregator_procids(buf: np.ndarray, data: np.ndarray, begin: np.ndarray, end: np.ndarray,
                         bounds: np.ndarray) -> None:
    """Rows whose PROCID (buf[begin:end]) is "[source/instance]": source and instance are the parts
    around its last "/" (each NILVALUE "-" -> empty), in place of APP-NAME and PROCID in `bounds`."""
    bracketed = (buf[begin] == 91) & (buf[end - 1] == 93) & (end - begin >= 2)
    if not bracketed.any():
        return
    slashes = np.flatnonzero(data == 47)
    if not len(slashes):
        return
    last = np.searchsorted(slashes, end - 1) - 1  # the last "/" before the closing "]"
    slash = slashes[np.maximum(last, 0)]
    rows = np.flatnonzero(bracketed & (last >= 0) & (slash > begin))
    if not len(rows):
        return
    for column, (start, stop) in ((2, (begin[rows] + 1, slash[rows])), (4, (slash[rows] + 1, end[rows] - 1))):
        nil = (stop - start == 1) & (buf[start] == _DASH)
        bounds[rows, column] = start
        bounds[rows, column + 1] = np.where(nil, start, stop)


def _timestamps(buf: np.ndarray, start: np.ndarray, length: np.ndarray, ok: np.ndarray,
                received: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(microseconds, valid) of each row's TIMESTAMP at buf[start:start+length] (rows where `ok`);
    a NILVALUE takes the row's `received` time."""
    times = received.copy()
    nil = (length == 1) & (buf[start] == _DASH)
    shaped = ok & ~nil & (length >= 20) & (length <= _TS_MAX)
    valid = ok & (nil | shaped)
    rows = np.flatnonzero(shaped)
    if len(rows) == 0:
        return times, valid
    s, length = start[rows], length[rows]
    base, good = _second_bases(buf, s)

    last = buf[s + length - 1]
    zulu = last == 90  # 'Z'
    # fraction: '.' at 19, k digits from 20 (k = 1..9); digits past the sixth are cut off
    k = np.where(zulu, length - 21, length - 26)
    frac_ok = (buf[s + 19] == 46) & (k >= 1) & (k <= 9)
    frac = np.zeros(len(s), np.int64)
    for j in range(9):  # column by column: numpy reduces short rows of a matrix slowly
        digit = buf[s + (20 + j)] - np.uint8(48)  # wraps: a non-digit is >= 10
        frac_ok &= (digit < 10) | (k <= j)
        if j < 6:
            frac += np.where(k > j, digit, 0).astype(np.int64) * _FRAC_WEIGHT[j]
    plain = np.where(zulu, length == 20, length == 25)
    good &= plain | frac_ok  # (a plain one counts no digit: k < 1)
    # zone "+hh:mm" / "-hh:mm" in the last six bytes, where it is not 'Z'
    zoned = np.flatnonzero(~zulu)
    if len(zoned):
        zone = buf[(s[zoned] + length[zoned] - 6)[:, None] + np.arange(6)].astype(np.int64)
        zd = zone[:, [1, 2, 4, 5]] - 48
        zh, zm = zd[:, 0] * 10 + zd[:, 1], zd[:, 2] * 10 + zd[:, 3]
        good[zoned] &= (((zone[:, 0] == 43) | (zone[:, 0] == 45)) & (zone[:, 3] == 58)
                        & ((zd >= 0) & (zd <= 9)).all(axis=1) & (zh <= 23) & (zm <= 59))
        base[zoned] -= np.where(zone[:, 0] == 45, -1, 1) * (zh * 3600 + zm * 60)
    times[rows] = np.where(good, base * 1_000_000 + frac, 0)
    valid[rows] = good
    return times, valid


def _second_bases(buf: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, valid) of the "YYYY-MM-DDTHH:MM:SS" at each buf[s:s+19].

    Lines come in time order, so neighbours mostly share that prefix: it is compared as three
    unaligned 8-byte words with the previous row's and checked once per run of equal prefixes.
    """
    words = np.ndarray((len(buf) - 7,), "<u8", buf, 0, (1,))
    k0, k1, k2 = words[s], words[s + 8], words[s + 16] & 0xFFFFFF
    change = np.empty(len(s), bool)
    change[0] = True
    change[1:] = (k0[1:] != k0[:-1]) | (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    heads = s[change]
    t = buf[heads[:, None] + np.arange(19)].astype(np.int64)
    v = t - 48
    good = (((v[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]] >= 0)
             & (v[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]] <= 9)).all(axis=1)
            & (t[:, 4] == _DASH) & (t[:, 7] == _DASH) & (t[:, 10] == 84) & (t[:, 13] == 58) & (t[:, 16] == 58))
    year = v[:, 0] * 1000 + v[:, 1] * 100 + v[:, 2] * 10 + v[:, 3]
    month, day = v[:, 5] * 10 + v[:, 6], v[:, 8] * 10 + v[:, 9]
    hour, minute, second = v[:, 11] * 10 + v[:, 12], v[:, 14] * 10 + v[:, 15], v[:, 17] * 10 + v[:, 18]
    good &= (year >= 1) & (month >= 1) & (month <= 12) & (hour <= 23) & (minute <= 59) & (second <= 60)
    month = np.clip(month, 1, 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    good &= (day >= 1) & (day <= _DAYS_IN[month] + (leap & (month == 2)))
    # days since 1970-01-01 in the proleptic Gregorian calendar, as calendar.timegm counts them
    y1 = year - 1
    days = 365 * y1 + y1 // 4 - y1 // 100 + y1 // 400 + _DAYS_BEFORE[month] + (leap & (month > 2)) + day - 1 - 719162
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    run = np.cumsum(change) - 1
    return seconds[run], good[run]


def _merge(frames: Sequence[bytes], hosts: _Hosts, received: np.ndarray, data_buf: pa.Buffer, fast: np.ndarray,
           fields: dict[str, np.ndarray]) -> tuple[pa.Table, int]:
    """The fast rows' table, with the others parsed by `parse_frame` and put back in order."""
    n = len(frames)
    rows = np.flatnonzero(fast)
    if len(rows) == n:
        return _fast_table(rows, hosts, data_buf, fields), 0
    slow = np.flatnonzero(~fast)
    lines: list[LogLine] = []
    accepted: list[int] = []
    for i in slow.tolist():
        try:
            lines.append(parse_frame(frames[i], hosts[i], int(received[i])))
        except SyslogError:
            continue
        accepted.append(i)
    rejected = len(slow) - len(accepted)
    if not rows.size:
        return lines_columns(lines), rejected
    position = np.full(n, -1, np.int64)
    position[rows] = np.arange(len(rows))
    position[np.array(accepted, np.int64)] = len(rows) + np.arange(len(accepted))
    order = position[position >= 0]
    both = pa.concat_tables([_fast_table(rows, hosts, data_buf, fields), lines_columns(lines)])
    return both.take(order).combine_chunks(), rejected


def _fast_table(rows: np.ndarray, hosts: _Hosts, data_buf: pa.Buffer, fields: dict[str, np.ndarray]) -> pa.Table:
    """The fast rows as a SCHEMA table. Every string column is cut from the frames' own buffer: the
    rows' `bounds` end to end are the offsets of one string array (elements: HOSTNAME, gap, APP-NAME,
    gap, PROCID, gap, MSG, gap), and a column takes every eighth element from it."""
    m = len(rows)
    every = m == len(fields["time"])
    bounds = fields["bounds"] if every else fields["bounds"][rows]
    offsets = np.empty(8 * m + 1, np.int32)
    offsets[:-1] = bounds.ravel()
    offsets[-1] = bounds[-1, 7]
    pieces = pa.Array.from_buffers(pa.string(), 8 * m, [None, pa.py_buffer(offsets), data_buf])
    pick = np.arange(0, 8 * m, 8, dtype=np.int64)
    pri = fields["pri"] if every else fields["pri"][rows]
    columns = {
        "app": pieces.take(pick),
        "time": pa.array(fields["time"] if every else fields["time"][rows], TIME),
        "source": pieces.take(pick + 2),
        "instance": pieces.take(pick + 4),
        "stream": _STREAM_NAMES.take(((pri & 7) <= 3).view(np.int8)),
        "host": hosts.column(rows),
        "message": pieces.take(pick + 6),
    }
    return pa.table([columns[name] for name in SCHEMA.names], schema=SCHEMA)


# -------------------------------------------------------------------------------------------- format


def akkeris_text(table: pa.Table) -> bytes:
    """`format_akkeris_lines(table_lines(table)).encode()`: each row as an Akkeris log-session line
    (``TIME app source[instance]: message`` with the message stripped, then LF), all in one bytes."""
    if table.num_rows == 0:
        return b""
    text = akkeris_rows(table)
    if text is None:
        return format_akkeris_lines(table_lines(table)).encode()
    return text_bytes(text, 0, len(text))


def text_bytes(text: pa.StringArray, start: int, stop: int) -> bytes:
    """Rows start..stop of an `akkeris_rows` array, end to end."""
    offsets = np.frombuffer(text.buffers()[1], np.int32, len(text) + 1, text.offset)
    return text.buffers()[2][int(offsets[start]):int(offsets[stop])].to_pybytes()


def akkeris_rows(table: pa.Table) -> pa.StringArray | None:
    """Each row's Akkeris line with its LF (see `akkeris_text`), or None for a table this cannot
    render exactly (another schema, nulls): `format_akkeris_lines` then does."""
    n = table.num_rows
    if not table.schema.equals(SCHEMA) or any(column.null_count for column in table.columns):
        return None
    micros = table.column("time").combine_chunks().cast(pa.int64()).to_numpy()
    seconds = micros // 1_000_000
    change = np.empty(n, bool)
    change[0] = True
    np.not_equal(seconds[1:], seconds[:-1], out=change[1:])
    firsts = np.flatnonzero(change)
    # The same function the Python formatter uses, once per run of lines in the same second.
    stamps = pa.array([format_seconds_z(us) for us in micros[firsts].tolist()], pa.string())
    stamp = stamps.take(np.cumsum(change) - 1)
    instance = table.column("instance").combine_chunks()
    bare = pc.equal(pc.binary_length(instance), 0)
    message = pc.utf8_trim(table.column("message").combine_chunks(), characters=_PY_WHITESPACE)
    return pc.binary_join_element_wise(
        stamp, " ", table.column("app").combine_chunks(), " ", table.column("source").combine_chunks(),
        pc.if_else(bare, "", "["), instance, pc.if_else(bare, ": ", "]: "), message, "\n", "")
