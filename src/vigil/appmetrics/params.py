"""GET /apps/{app}/metrics parameters: `resolution` (1m, 10m, 1h …; default 10m), `from` and `to`
(ISO 8601; default one week back from now, and now)."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

from vigil.errors import ParamsError

DEFAULT_RESOLUTION = 600
DEFAULT_SPAN = 7 * 86_400
_RESOLUTION = re.compile(r"\A(\d{1,9})(s|m|h|d|w)\Z")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class MetricsWindow:
    start: int  # the first step's beginning, a multiple of the resolution
    end: int  # exclusive
    resolution: int

    def steps(self) -> int:
        return (self.end - self.start + self.resolution - 1) // self.resolution


def parse_resolution(text: str) -> int | None:
    m = _RESOLUTION.match(text.strip())
    if not m:
        return None
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    return seconds if seconds > 0 else None


def parse_date(text: str) -> float | None:
    """An ISO 8601 date or date-time (2017-06-20T23:30:45.737Z); without a zone it is UTC."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _single(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ParamsError({name: ["must be given once"]})
    return value


def parse_window(params: dict[str, Any], *, max_points: int, now: float | None = None) -> MetricsWindow:
    errors: dict[str, list[str]] = {}
    raw_resolution = _single(params, "resolution")
    resolution = DEFAULT_RESOLUTION if raw_resolution is None else parse_resolution(raw_resolution)
    if resolution is None:
        errors["resolution"] = ["must be a number and a unit: s, m, h, d or w (1m, 10m, 1h …)"]
    dates: dict[str, float | None] = {}
    for name in ("from", "to"):
        raw = _single(params, name)
        dates[name] = None if raw is None else parse_date(raw)
        if raw is not None and dates[name] is None:
            errors[name] = ["must be an ISO 8601 date, like 2017-06-20T23:30:45.737Z"]
    if errors:
        raise ParamsError(errors)
    assert resolution is not None
    end = dates["to"] if dates["to"] is not None else (time.time() if now is None else now)
    start = dates["from"] if dates["from"] is not None else end - DEFAULT_SPAN
    if start > end:
        raise ParamsError({"from": ["must be before to"]})
    first = int(start) - int(start) % resolution
    window = MetricsWindow(first, int(end) + 1, resolution)
    if window.steps() > max_points:
        raise ParamsError({"resolution": [f"gives more than {max_points} steps from `from` to `to`; "
                                          "use a coarser resolution or a shorter range"]})
    return window
