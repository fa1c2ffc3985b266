"""Times as StackTach prints and parses them. Internally a time is integer microseconds since the epoch
(UTC) and a duration integer microseconds, so differences and sums are exact."""

from __future__ import annotations

import datetime as _dt
import decimal

EPOCH = _dt.datetime(1970, 1, 1)
_UTC_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MICRO = _dt.timedelta(microseconds=1)
US = 1_000_000


class TimeFormatError(ValueError):
    pass


def sec_to_time(us: int, *, fraction: bool = True) -> str:
    """`0d 00:00:55.50`: days, hours, minutes, seconds and hundredths (truncated, as the original cut
    the decimal's text). Without `fraction` the hundredths are left out (the summary's average)."""
    sign = "-" if us < 0 else ""
    seconds, micros = divmod(abs(us), US)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{micros // 10_000:02d}" if fraction else text


def sec_to_str(seconds: float) -> str:
    """The reports' short form: `5s`, `5:44s`, `01:02:03` (whole seconds, truncated)."""
    sec = int(seconds)
    if sec < 60:
        return f"{sec}s"
    minutes, sec = divmod(sec, 60)
    if minutes < 60:
        return f"{minutes}:{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{sec:02d}"


def to_datetime(us: int) -> _dt.datetime:
    return EPOCH + _dt.timedelta(microseconds=us)


def when_text(us: int) -> str:
    """`2014-01-14 15:39:22.574829`, the microseconds left out when zero (Python's own str of a time)."""
    return str(to_datetime(us))


def parse_timestamp(text: str) -> int:
    """A notification's `timestamp`: ISO 8601 with a space or a `T`, optional fraction, optional `Z` or
    offset (naive means UTC). Raises TimeFormatError."""
    try:
        parsed = _dt.datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError, TypeError):
        raise TimeFormatError(f"{text!r} is not a timestamp") from None
    if parsed.tzinfo is not None:
        return (parsed - _UTC_EPOCH) // _MICRO
    return (parsed - EPOCH) // _MICRO


def parse_unixtime(text: str | float | int) -> int:
    """A query's unixtime (seconds, decimals allowed) as microseconds. Raises TimeFormatError."""
    try:
        value = decimal.Decimal(str(text).strip())
    except decimal.InvalidOperation:
        raise TimeFormatError(f"{text!r} is not a unixtime") from None
    if not value.is_finite() or abs(value) > 10**11:
        raise TimeFormatError(f"{text!r} is not a unixtime")
    return int(value * US)


def unixtime(us: int) -> float:
    return us / US
