"""The Fn statistics, as the Fn `ext-statsapi` extension computes them from Prometheus, here from the
metrics Vigil scraped or received from every Fn server:

- calls, completed, errors, timeouts, failed: `sum(fn_calls{fn_appname=…, fn_path=…})` and so on at
  each step — the counters' raw totals (calls since each server started), summed across servers;
- durations: `sum(rate(fn_span_agent_submit_duration_seconds_sum[1m])) /
  sum(rate(fn_span_agent_submit_duration_seconds_count[1m]))`, the one-minute rolling mean of the
  histogram, in seconds.

A step where no series has a value has no point, and NaN or infinite values are left out, as the
extension does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np

from vigil.fnstats.params import StatsWindow
from vigil.prom import evaluate
from vigil.prom.mapping import tag_value
from vigil.prom.reads import read_series
from vigil.storage.telemetry import TelemetryStore

APP_LABEL = "fn_appname"
ROUTE_LABEL = "fn_path"
DURATIONS = "fn_span_agent_submit_duration_seconds"
ROLLING_MEAN = 60.0
# Answer key → counter, in the order of the extension's documented answer.
COUNTERS = {"calls": "fn_calls", "completed": "fn_completed", "errors": "fn_errors", "timeouts": "fn_timeouts"}
FAILED = ("failed", "fn_failed")


def route_path(route: str) -> str:
    """The `fn_path` of a route in the URL: the route with a leading slash."""
    return "/" + route


def _number(v: float) -> float | int:
    """Whole values as integers, as the extension's JSON writes them (`"value":12`)."""
    return int(v) if v.is_integer() else v


class FnStats:
    def __init__(self, store: TelemetryStore, sync: Callable[[], Awaitable[None]], *, lookback: float,
                 max_series: int, max_points: int) -> None:
        self.store = store
        self.sync = sync  # waits until every acknowledged write is readable
        self.lookback = lookback
        self.max_series = max_series
        self.max_points = max_points

    async def stats(self, window: StatsWindow, app: str | None = None,
                    route: str | None = None) -> dict[str, list[dict[str, float | int]]]:
        tags = {}
        if app is not None:
            tags[APP_LABEL] = tag_value(app)
            if route is not None:
                tags[ROUTE_LABEL] = tag_value(route_path(route))
        at = np.array(window.times(), dtype=np.float64)
        counters = [*COUNTERS.values(), FAILED[1]]
        parts = [f"{DURATIONS}_sum", f"{DURATIONS}_count"]
        await self.sync()
        reach = max(self.lookback, ROLLING_MEAN)
        data = await read_series(self.store, counters + parts, tags, int(window.start - reach), int(window.end) + 1,
                                 max_series=self.max_series, max_points=self.max_points)
        out: dict[str, np.ndarray] = {}
        for key, metric in COUNTERS.items():
            out[key] = self._sum_instant(data[metric], at)
        sums = (evaluate.rate(s.times, s.values, at, ROLLING_MEAN) for s in data[parts[0]].values())
        counts = (evaluate.rate(s.times, s.values, at, ROLLING_MEAN) for s in data[parts[1]].values())
        with np.errstate(divide="ignore", invalid="ignore"):
            out["durations"] = evaluate.total(sums, at.size) / evaluate.total(counts, at.size)
        out[FAILED[0]] = self._sum_instant(data[FAILED[1]], at)
        times = [int(t) for t in at.tolist()]
        return {key: [{"time": t, "value": _number(v)} for t, v in zip(times, values.tolist(), strict=True)
                      if np.isfinite(v)] for key, values in out.items()}

    def _sum_instant(self, series: dict, at: np.ndarray) -> np.ndarray:
        return evaluate.total((evaluate.instant(s.times, s.values, s.stale, at, self.lookback)
                               for s in series.values()), at.size)
