"""Raw points and staleness markers of the series of some metrics whose tags equal given values, for
the queries that evaluate Prometheus semantics (instant values, rates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vigil.errors import RequestError
from vigil.storage.telemetry import TelemetryStore


@dataclass
class SeriesData:
    tags: dict[str, str]
    times: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # seconds, ascending
    values: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    stale: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # marker times, ascending


def _runs(ids: np.ndarray) -> list[tuple[int, int, int]]:
    """(series id, start, stop) of each run of equal ids in a sorted array."""
    if ids.size == 0:
        return []
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    stops = np.r_[starts[1:], ids.size]
    return [(int(ids[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


async def read_series(store: TelemetryStore, metrics: list[str], tags: dict[str, str], start: int, end: int, *,
                      max_series: int, max_points: int) -> dict[str, dict[int, SeriesData]]:
    """metric → series id → data, for the series with a point in [start, end] whose tags include
    `tags` exactly (keys and values as stored: lower-case)."""
    db = store.database
    params: dict[str, Any] = {"metrics": metrics, "s": max(0, start), "e": max(0, end)}
    where = ["metric IN {metrics:Array(String)}"]
    for i, (k, v) in enumerate(sorted(tags.items())):
        where.append(f"tags[{{k{i}:String}}] = {{v{i}:String}}")
        params[f"k{i}"], params[f"v{i}"] = k, v
    window = "metric IN {metrics:Array(String)} AND time >= {s:UInt32} AND time <= {e:UInt32}"
    found = await store.query_arrow(
        f"SELECT metric, series_id, any(tags) AS tag_map FROM {db}.series WHERE {' AND '.join(where)} "
        f"AND (metric, series_id) IN (SELECT metric, series_id FROM {db}.samples WHERE {window}) "
        f"GROUP BY metric, series_id LIMIT {int(max_series) + 1}", params)
    if found.num_rows > max_series:
        raise RequestError(f"The query matches more than {max_series} series")
    out: dict[str, dict[int, SeriesData]] = {m: {} for m in metrics}
    by_id: dict[int, SeriesData] = {}
    for metric, sid, tag_map in zip(found.column("metric").to_pylist(), found.column("series_id").to_pylist(),
                                    found.column("tag_map").to_pylist(), strict=True):
        # A series id hashes the metric with the tags: one id is one metric's series.
        out[metric][sid] = by_id[sid] = SeriesData(dict(tag_map))
    sids = sorted(by_id)
    if not sids:
        return out
    params["sids"] = sids
    points = await store.query_arrow(
        f"SELECT series_id, toUInt32(time) AS t, argMax(last, version) AS v FROM {db}.samples "
        f"WHERE {window} AND series_id IN {{sids:Array(UInt64)}} GROUP BY series_id, t "
        f"ORDER BY series_id, t LIMIT {int(max_points) + 1}", params)
    if points.num_rows > max_points:
        raise RequestError(f"The query reads more than {max_points} points; ask for a shorter time range")
    stale = await store.query_arrow(
        f"SELECT DISTINCT series_id, toUInt32(time) AS t FROM {db}.prom_stale "
        f"WHERE {window} AND series_id IN {{sids:Array(UInt64)}} ORDER BY series_id, t "
        f"LIMIT {int(max_points) + 1}", params)
    for table, is_stale in ((points, False), (stale, True)):
        if table.num_rows == 0:
            continue
        ids = table.column("series_id").to_numpy()
        times = table.column("t").to_numpy().astype(np.int64)
        values = None if is_stale else table.column("v").to_numpy().astype(np.float64)
        for sid, lo, hi in _runs(ids):
            data = by_id.get(sid)
            if data is None:
                continue
            if values is None:
                data.stale = times[lo:hi]
            else:
                data.times, data.values = times[lo:hi], values[lo:hi]
    return out
