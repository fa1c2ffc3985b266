"""The Fn statistics API's parameters: `starttime`, `endtime` (RFC 3339, e.g. 2017-11-24T18:01:30.851Z)
and `step` (a Go duration such as 30s, 5m or 1h30m), with the extension's defaults: the last five
minutes, a 30-second step."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

DEFAULT_WINDOW = 300.0
DEFAULT_STEP = 30.0
_TIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class StatsParamError(ValueError):
    """A bad parameter; the message is what the API answers in `error`."""


@dataclass(frozen=True)
class StatsWindow:
    start: float  # seconds since the epoch
    end: float
    step: float

    def times(self) -> list[float]:
        """The evaluation times: start, start + step, … up to end (Prometheus' range query steps)."""
        count = int((self.end - self.start) // self.step) + 1
        return [self.start + i * self.step for i in range(count)]


def _format(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(name: str, text: str) -> float:
    if not _TIME.match(text):
        raise StatsParamError(f"Unable to parse {name} parameter: {text!r} is not a time like 2017-11-24T18:01:30.851Z")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise StatsParamError(f"Unable to parse {name} parameter: {exc}") from None


def parse_duration(text: str) -> float:
    """A Go duration (`time.ParseDuration`): a sequence of decimal numbers with units, optional sign."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    total = 0.0
    pos = 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if not m:
            raise StatsParamError(f"Unable to parse step parameter: invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not body:
        raise StatsParamError(f"Unable to parse step parameter: invalid duration {text!r}")
    return -total if text.startswith("-") else total


def parse_window(starttime: str | None, endtime: str | None, step: str | None, *, max_points: int,
                 now: float | None = None) -> StatsWindow:
    start = parse_time("starttime", starttime) if starttime is not None else None
    end = parse_time("endtime", endtime) if endtime is not None else None
    step_s = parse_duration(step) if step is not None else DEFAULT_STEP
    if end is None:
        end = time.time() if now is None else now
    if start is None:
        start = end - DEFAULT_WINDOW
    if end < start:
        raise StatsParamError(f"endtime ({_format(end)}) is before starttime ({_format(start)})")
    if step_s <= 0:
        raise StatsParamError("zero or negative query resolution step widths are not accepted. "
                              "Try a positive integer")
    if (end - start) / step_s + 1 > max_points:
        raise StatsParamError(f"exceeded maximum resolution of {max_points:,} points per timeseries. "
                              "Try decreasing the query resolution (?step=XX)")
    return StatsWindow(start, end, step_s)
