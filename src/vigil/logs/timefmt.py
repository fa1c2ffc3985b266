"""RFC 3339 timestamps <-> integer microseconds, tuned for the syslog hot path.

Parsing avoids `datetime` on the hot path: log lines arrive in time order, so almost every timestamp
shares its "YYYY-MM-DDTHH:MM:SS" prefix with one seen a moment ago. That prefix is validated once and
its epoch seconds cached; the rest (fraction, offset) is a couple of slices and one int().
"""

from __future__ import annotations

import calendar
import datetime as _dt
import time
from typing import Final

_SECOND_CACHE_IN: dict[bytes, int] = {}
_OFFSET_CACHE: dict[bytes, int] = {b"+00:00": 0, b"-00:00": 0}
_CACHE_MAX: Final = 4096
# multiplier turning an n-digit fraction (n <= 6) into microseconds
_FRAC_SCALE: Final = (0, 100_000, 10_000, 1_000, 100, 10, 1)


def _bad(ts: bytes, what: str = "date-time") -> ValueError:
    return ValueError(f"bad RFC 3339 {what} {ts[:40]!r}")


def _second_base(ts: bytes) -> int:
    """Epoch seconds of the validated 'YYYY-MM-DDTHH:MM:SS' prefix of `ts` (then cached)."""
    head = ts[:19]
    if (
        len(head) != 19
        or head[4] != 45  # '-'
        or head[7] != 45
        or head[10] != 84  # 'T' (RFC 5424 6.2.3: upper case only)
        or head[13] != 58  # ':'
        or head[16] != 58
        or not (head[0:4] + head[5:7] + head[8:10] + head[11:13] + head[14:16] + head[17:19]).isdigit()
    ):
        raise _bad(ts)
    y, mo, d = int(head[0:4]), int(head[5:7]), int(head[8:10])
    h, mi, sec = int(head[11:13]), int(head[14:16]), int(head[17:19])
    try:
        _dt.datetime(y, mo, d, h, mi)  # range checks: month 1-12, day of month, hour, minute
    except ValueError:
        raise _bad(ts) from None
    if sec > 60:  # 60 only for a leap second; it lands on the next minute's :00
        raise _bad(ts, "seconds")
    base = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    if len(_SECOND_CACHE_IN) >= _CACHE_MAX:
        _SECOND_CACHE_IN.clear()
    _SECOND_CACHE_IN[head] = base
    return base


def _offset_seconds(tz: bytes) -> int:
    if len(tz) != 6 or tz[0] not in (43, 45) or tz[3] != 58 or not (tz[1:3] + tz[4:6]).isdigit():
        raise _bad(tz, "offset")
    hh, mm = int(tz[1:3]), int(tz[4:6])
    if hh > 23 or mm > 59:
        raise _bad(tz, "offset")
    off = (hh * 3600 + mm * 60) * (1 if tz[0] == 43 else -1)
    if len(_OFFSET_CACHE) < 256:
        _OFFSET_CACHE[tz] = off
    return off


def parse_rfc3339_us(ts: bytes) -> int:
    """Parse an RFC 3339 / RFC 5424 TIMESTAMP (not NILVALUE) to microseconds since the epoch, UTC.

    Accepts 'Z' or a numeric offset, and 0-9 fraction digits (RFC 5424 allows 1-6; digits past the
    sixth are truncated, not rounded). Raises ValueError on anything else.

    Hot path: lines arrive in time order, so the 'YYYY-MM-DDTHH:MM:SS' prefix is nearly always one
    already validated; its epoch seconds come from a dict and only fraction and offset are parsed.
    """
    base = _SECOND_CACHE_IN.get(ts[:19])
    if base is None:
        base = _second_base(ts)
    n = len(ts)
    if ts[-1] == 90:  # 'Z'
        if n == 20:
            return base * 1_000_000
        end = n - 1
    else:
        tz = ts[-6:]
        off = _OFFSET_CACHE.get(tz)
        if off is None:
            off = _offset_seconds(tz)
        base -= off
        end = n - 6
        if end == 19:
            return base * 1_000_000
    if end > 20 and ts[19] == 46:  # '.'
        digits = ts[20:end]
        if digits.isdigit():
            k = len(digits)
            if k <= 6:
                return base * 1_000_000 + int(digits) * _FRAC_SCALE[k]
            if k <= 9:
                return base * 1_000_000 + int(digits[:6])
    raise _bad(ts)


def parse_rfc3339_str_us(ts: str) -> int:
    """`parse_rfc3339_us` for str input."""
    try:
        raw = ts.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"bad RFC 3339 date-time {ts[:40]!r}") from None
    return parse_rfc3339_us(raw)


_SECOND_CACHE_OUT: dict[int, str] = {}


def _second_prefix(sec: int) -> str:
    """'YYYY-MM-DDTHH:MM:SS' in UTC for epoch second `sec` (cached: lines cluster in time)."""
    s = _SECOND_CACHE_OUT.get(sec)
    if s is None:
        t = time.gmtime(sec)
        s = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        if len(_SECOND_CACHE_OUT) >= _CACHE_MAX:
            _SECOND_CACHE_OUT.clear()
        _SECOND_CACHE_OUT[sec] = s
    return s


def format_rfc5424_time(us: int) -> str:
    """Timestamp as Loggregator's syslog agent writes it: UTC, '+00:00', fraction trimmed.

    Go layout "2006-01-02T15:04:05.999999-07:00": up to 6 fraction digits with trailing zeros removed
    and no '.' at all on a whole second, e.g. 2017-10-05T15:00:55.412873+00:00, ...:55.4+00:00,
    ...:55+00:00.
    """
    sec, frac = divmod(us, 1_000_000)
    if frac:
        return f"{_second_prefix(sec)}.{frac:06d}".rstrip("0") + "+00:00"
    return _second_prefix(sec) + "+00:00"


def format_seconds_z(us: int) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ' (Go time.RFC3339 on a UTC time): fraction truncated, as Akkeris writes."""
    return _second_prefix(us // 1_000_000) + "Z"


def format_seconds_offset(us: int) -> str:
    """'YYYY-MM-DDTHH:MM:SS+00:00': Logplex's datetime/1 format (no fraction)."""
    return _second_prefix(us // 1_000_000) + "+00:00"


_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def to_datetime(us: int, tz: _dt.tzinfo = _dt.UTC) -> _dt.datetime:
    """Microseconds since the epoch -> aware datetime in `tz` (exact, no float rounding)."""
    return (_EPOCH + _dt.timedelta(microseconds=us)).astimezone(tz)
