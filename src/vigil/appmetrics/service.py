"""Akkeris app metrics: per resolution step, the average across the app's running instances and the
90th percentile (nearest rank) across them.

A series belongs to the app whose name is its `app` tag, else its `container`, else its
`container_name` tag; its instance is its `pod`, else `pod_name`, else `instance` tag. An instance's
value is the sum of its series of that metric (cAdvisor reports a series per network interface and
per file-system device). An instance runs in a step if it has a value there.

- Gauges: the mean of the series' points in the step.
- Counters: a per-second rate: the increase from the series' last point in the previous step to
  its last point in this step, divided by the seconds between those two points. A drop is a
  restart from zero (the increase is the new value). A series' first step has no rate.

Reads raw samples, or a rollup tier when the resolution is a whole number of its buckets and the
range reaches past the raw retention (the tier planner of the measurement queries).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from vigil.appmetrics.names import APP_TAGS, INSTANCE_TAGS, METRICS, P90_SUFFIX
from vigil.appmetrics.params import MetricsWindow
from vigil.errors import RequestError
from vigil.metrics import tiers
from vigil.metrics.samples import Source
from vigil.storage.telemetry import TelemetryStore

_SOURCE_COLUMNS = {"samples": "series_id, time, sum, count, last, time AS last_time",
                   "rollup": "series_id, time, sum, count, last, last_time"}


def _app_expression() -> str:
    """The app a series belongs to, in ClickHouse: the first of APP_TAGS that it has."""
    parts = [f"mapContains(tags, '{tag}'), tags['{tag}']" for tag in APP_TAGS[:-1]]
    return f"multiIf({', '.join(parts)}, tags['{APP_TAGS[-1]}'])"


def instance_of(tags: dict[str, str]) -> str:
    return next((tags[t] for t in INSTANCE_TAGS if t in tags), "")


def nearest_rank_p90(ordered: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per group of `ordered` (values sorted within each group; group i is `counts[i]` values from
    `starts[i]`): the smallest value with at least 90% of the group at or below it — rank ⌈0.9·n⌉."""
    rank = (9 * counts + 9) // 10  # ⌈0.9·n⌉ in whole numbers
    return ordered[starts + rank - 1]


class AppMetrics:
    def __init__(self, store: TelemetryStore, sync: Callable[[], Awaitable[None]], tier_list: list[tiers.Tier],
                 watermark: Callable[[str], int], *, max_series: int, max_points: int) -> None:
        self.store = store
        self.sync = sync
        self.tiers = tier_list
        self.watermark = watermark
        self.max_series = max_series
        self.max_points = max_points

    async def metrics(self, app: str, window: MetricsWindow) -> dict[str, dict[str, float]]:
        res = window.resolution
        read_start = window.start - res  # one step more: the counters' first rates need a predecessor
        keys = [m.source for m in METRICS]
        await self.sync()
        watermark = min(self.watermark(k) for k in keys)
        sources = tiers.plan(self.tiers, read_start, window.end - 1, res, int(time.time()), watermark)
        series = await self._series(app, keys, sources)
        out: dict[str, dict[str, float]] = {}
        for metric in METRICS:
            out[metric.key] = {}
            out[metric.key + P90_SUFFIX] = {}
        if not series:
            return out
        table = await self._buckets(keys, sorted(series), sources, res)
        metric_of, instance_of_, step, value = self._step_values(table, series, read_start, res)
        keep = step >= 1  # the extra step before `from` only served as a predecessor
        metric_of, instance_of_, step, value = metric_of[keep], instance_of_[keep], step[keep], value[keep]
        if value.size == 0:
            return out
        # An instance's value: the sum of its series (interfaces, devices) in the step.
        steps = int(step.max()) + 1
        instances = int(instance_of_.max()) + 1
        cell = (metric_of * instances + instance_of_) * steps + step
        cells, inverse = np.unique(cell, return_inverse=True)
        per_instance = np.bincount(inverse, weights=value)
        group = (cells // steps // instances) * steps + cells % steps  # (metric, step)
        order = np.lexsort((per_instance, group))
        group, per_instance = group[order], per_instance[order]
        groups, starts, counts = np.unique(group, return_index=True, return_counts=True)
        means = np.add.reduceat(per_instance, starts) / counts
        p90 = nearest_rank_p90(per_instance, starts, counts)
        for g, mean, high in zip(groups.tolist(), means.tolist(), p90.tolist(), strict=True):
            metric = METRICS[g // steps]
            label = str(read_start + (g % steps) * res)
            out[metric.key][label] = mean
            out[metric.key + P90_SUFFIX][label] = high
        return out

    async def _series(self, app: str, keys: list[str], sources: list[Source]) -> dict[int, tuple[int, str]]:
        """series id → (index of its metric in METRICS, instance), for the app's series with points."""
        db = self.store.database
        params: dict[str, Any] = {"metrics": keys, "app": app}
        exists = " UNION ALL ".join(
            f"SELECT metric, series_id FROM {db}.{s.table} WHERE metric IN {{metrics:Array(String)}} "
            f"AND time >= {{s{i}:UInt32}} AND time < {{e{i}:UInt32}}" for i, s in enumerate(sources))
        for i, s in enumerate(sources):
            params[f"s{i}"], params[f"e{i}"] = max(0, s.start), max(0, s.end)
        table = await self.store.query_arrow(
            f"SELECT metric, series_id, any(tags) AS tag_map FROM {db}.series "
            f"WHERE metric IN {{metrics:Array(String)}} AND {_app_expression()} = {{app:String}} "
            f"AND (metric, series_id) IN ({exists}) GROUP BY metric, series_id LIMIT {int(self.max_series) + 1}",
            params)
        if table.num_rows > self.max_series:
            raise RequestError(f"The app has more than {self.max_series} series in this range; ask for a shorter one")
        index = {m.source: i for i, m in enumerate(METRICS)}
        return {sid: (index[metric], instance_of(dict(tags))) for metric, sid, tags in zip(
            table.column("metric").to_pylist(), table.column("series_id").to_pylist(),
            table.column("tag_map").to_pylist(), strict=True)}

    async def _buckets(self, keys: list[str], sids: list[int], sources: list[Source], res: int) -> Any:
        db = self.store.database
        params: dict[str, Any] = {"metrics": keys, "sids": sids, "res": res}
        parts = []
        for i, s in enumerate(sources):
            columns = _SOURCE_COLUMNS["samples" if s.table == "samples" else "rollup"]
            parts.append(f"SELECT {columns} FROM {db}.{s.table} FINAL WHERE metric IN {{metrics:Array(String)}} "
                         f"AND series_id IN {{sids:Array(UInt64)}} AND time >= {{s{i}:UInt32}} "
                         f"AND time < {{e{i}:UInt32}}")
            params[f"s{i}"], params[f"e{i}"] = max(0, s.start), max(0, s.end)
        table = await self.store.query_arrow(
            "SELECT series_id, intDiv(toUInt32(time), {res:UInt32}) * {res:UInt32} AS t, sum(sum) AS total, "
            "sum(count) AS n, argMax(last, last_time) AS last, toUInt32(max(last_time)) AS lt "
            f"FROM ({' UNION ALL '.join(parts)}) GROUP BY series_id, t ORDER BY series_id, t "
            f"LIMIT {int(self.max_points) + 1}", params)
        if table.num_rows > self.max_points:
            raise RequestError(f"The query reads more than {self.max_points} points; "
                               "use a coarser resolution or a shorter range")
        return table

    @staticmethod
    def _step_values(table: Any, series: dict[int, tuple[int, str]], first: int,
                     res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each series' value per step (mean, or rate for a counter) as columns: metric index,
        instance index, step index (0 = the step before `from`), value. O(rows read)."""
        empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
        if table.num_rows == 0:
            return empty
        instance_index = {name: i for i, name in enumerate(sorted({inst for _, inst in series.values()}))}
        ids = table.column("series_id").to_numpy()
        steps = (table.column("t").to_numpy().astype(np.int64) - first) // res
        total = table.column("total").to_numpy()
        n = table.column("n").to_numpy().astype(np.float64)
        last = table.column("last").to_numpy()
        last_time = table.column("lt").to_numpy().astype(np.float64)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        stops = np.r_[starts[1:], ids.size]
        parts: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
            metric_index, instance = series[int(ids[lo])]
            step = steps[lo:hi]
            if METRICS[metric_index].counter:
                if hi - lo < 2:
                    continue
                increase = np.diff(last[lo:hi])
                increase = np.where(increase < 0, last[lo + 1:hi], increase)  # a restart from zero
                elapsed = np.diff(last_time[lo:hi])
                ok = elapsed > 0
                values, step = increase[ok] / elapsed[ok], step[1:][ok]
            else:
                ok = n[lo:hi] > 0
                values, step = total[lo:hi][ok] / n[lo:hi][ok], step[ok]
            parts.append((metric_index, instance_index[instance], step, values))
        if not parts:
            return empty
        return (np.concatenate([np.full(p[2].size, p[0]) for p in parts]),
                np.concatenate([np.full(p[2].size, p[1]) for p in parts]),
                np.concatenate([p[2] for p in parts]).astype(np.int64),
                np.concatenate([p[3] for p in parts]).astype(np.float64))
