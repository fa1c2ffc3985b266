"""GET /v1/measurements/:name, the domain half: parameters → series."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.errors import NotFound, ParamsError, param_error
from vigil.metrics import samples
from vigil.metrics.catalog import Metric, MetricCatalog
from vigil.storage.telemetry import TelemetryStore

MAX_RESOLUTION = 604_800
SUMMARY_FUNCTIONS = ("mean", "sum", "min", "max", "count")
# A metric's summarize_function attribute names the same functions with the seed's other spelling.
_FROM_ATTRIBUTE = {"average": "mean", "sum": "sum", "count": "count", "min": "min", "max": "max"}


def _int_param(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, list):
        raise param_error(name, "must be given once")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise param_error(name, "is not a number") from None
    if not np.isfinite(number) or not number.is_integer():
        raise param_error(name, "must be a whole number")
    return int(number)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: int
    end: int
    resolution: int


def time_window(params: dict[str, Any], now: float | None = None, *, require_start: bool = False) -> TimeWindow:
    """The seed's rules: start_time, or duration (back from end_time, default now); never all three."""
    start = _int_param(params, "start_time")
    end = _int_param(params, "end_time")
    duration = _int_param(params, "duration")
    resolution = _int_param(params, "resolution")
    errors: dict[str, list[str]] = {}
    if start is not None and end is not None and duration is not None:
        errors["duration"] = ["cannot be combined with both start_time and end_time"]
    if resolution is None:
        errors["resolution"] = ["is required"]
    elif not 1 <= resolution <= MAX_RESOLUTION:
        errors["resolution"] = [f"must be between 1 and {MAX_RESOLUTION} seconds"]
    if start is None and (duration is None or require_start):
        errors["start_time"] = ["is required" + ("" if require_start else " (or duration)")]
    if duration is not None and duration <= 0:
        errors["duration"] = ["must be positive"]
    if errors:
        raise ParamsError(errors)
    assert resolution is not None
    now_i = int(time.time() if now is None else now)
    if end is None:
        end = now_i if start is None or duration is None else start + duration  # type: ignore[operator]
    if start is None:
        start = end - duration  # type: ignore[operator]
    if start > end:
        raise param_error("start_time", "must be before end_time")
    return TimeWindow(start - start % resolution, end, resolution)


def summary_function(params: dict[str, Any], metric: Metric) -> str:
    name = params.get("summary_function")
    if name is None or name == "":
        return _FROM_ATTRIBUTE.get(metric.summarize_function, "mean")
    if name not in SUMMARY_FUNCTIONS:
        raise param_error("summary_function", "must be one of " + ", ".join(SUMMARY_FUNCTIONS))
    return str(name)


def bucket_values(columns: dict[str, np.ndarray], function: str) -> np.ndarray:
    if function == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(columns["count"] > 0, columns["sum"] / np.maximum(columns["count"], 1), 0.0)
    return columns[function].astype(np.float64)


class MeasurementReader:
    def __init__(self, store: TelemetryStore, catalog: MetricCatalog,
                 sync: Callable[[], Awaitable[None]]) -> None:
        self.store = store
        self.catalog = catalog
        self.sync = sync  # waits until every acknowledged write is readable

    async def read(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        metric = await self.catalog.get(name)
        if metric is None:
            raise NotFound(f"Metric {name} does not exist")
        window = time_window(params)
        function = summary_function(params, metric)
        await self.sync()
        table = await samples.read_buckets(self.store, metric.key, window.start, window.end, window.resolution)
        sids = table.column("series_id").to_numpy()
        times = table.column("t").to_numpy().astype(np.int64)
        columns = {c: table.column(c).to_numpy() for c in ("count", "sum", "min", "max")}
        values = bucket_values(columns, function)
        unique, starts = np.unique(sids, return_index=True)
        tags = await samples.series_tags(self.store, metric.key, [int(s) for s in unique])
        series = []
        bounds = [*starts.tolist(), len(sids)]
        for i, sid in enumerate(unique.tolist()):
            lo, hi = bounds[i], bounds[i + 1]
            series.append({
                "tags": dict(sorted(tags.get(sid, {}).items())),
                "measurements": [{"time": t, "value": v}
                                 for t, v in zip(times[lo:hi].tolist(), values[lo:hi].tolist(), strict=True)],
            })
        series.sort(key=lambda s: sorted(s["tags"].items()))
        return {"series": series, "links": [], "resolution": window.resolution, "name": metric.name}
