"""SQL over the samples, rollup and series tables (ClickHouse dialect; runs unchanged on chDB and a server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from vigil.metrics.tagfilter import TagFilter, to_sql
from vigil.storage.telemetry import TelemetryStore


@dataclass(frozen=True, slots=True)
class Source:
    """One tier read over [start, end): `samples` (raw) or `rollup_<seconds>`."""

    table: str
    start: int
    end: int


# Each tier as rows of mergeable summaries. Merging: counts and sums add, min/max combine, `last`
# is the value of the latest point, stddevs are averaged over points (the seed: "standard
# deviations are averaged together when aggregating").
_COLUMNS = {
    "samples": "series_id, time, count, sum, min, max, last, time AS last_time, stddev AS sd_sum, "
               "toUInt64(1) AS points",
    "rollup": "series_id, time, count, sum, min, max, last, last_time, sd_sum, points",
}
MERGED = ("sum(count) AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max, "
          "argMax(last, last_time) AS last, sum(sd_sum) / sum(points) AS stddev")


def _union(store: TelemetryStore, metric: str, sources: list[Source], series_ids: list[int] | None,
           columns: str | None = None) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"metric": metric}
    selects = []
    for i, source in enumerate(sources):
        cols = columns or _COLUMNS["samples" if source.table == "samples" else "rollup"]
        where = ["metric = {metric:String}", f"time >= {{s{i}:UInt32}}", f"time < {{e{i}:UInt32}}"]
        params[f"s{i}"], params[f"e{i}"] = source.start, source.end
        if series_ids is not None:
            where.append("series_id IN {sids:Array(UInt64)}")
            params["sids"] = series_ids
        selects.append(f"SELECT {cols} FROM {store.database}.{source.table} FINAL WHERE {' AND '.join(where)}")
    return " UNION ALL ".join(selects), params


async def matching_series(store: TelemetryStore, metric: str, tag_filter: TagFilter, sources: list[Source],
                          limit: int) -> dict[int, dict[str, str]]:
    """Series of the metric whose tags pass the filter and that have a point in the sources (at most
    `limit` + 1, so callers can tell)."""
    predicate, params = to_sql(tag_filter)
    # Which series have points does not depend on last-write-wins: no FINAL needed here.
    points = " UNION ALL ".join(
        f"SELECT series_id FROM {store.database}.{s.table} WHERE metric = {{metric:String}} "
        f"AND time >= {{s{i}:UInt32}} AND time < {{e{i}:UInt32}}" for i, s in enumerate(sources))
    for i, s in enumerate(sources):
        params[f"s{i}"], params[f"e{i}"] = s.start, s.end
    table = await store.query_arrow(
        f"SELECT series_id, any(tags) AS tag_map FROM {store.database}.series "
        f"WHERE metric = {{metric:String}} AND {predicate} AND series_id IN ({points}) "
        f"GROUP BY series_id LIMIT {int(limit) + 1}",
        {**params, "metric": metric})
    return {sid: dict(tags) for sid, tags in zip(table.column("series_id").to_pylist(),
                                                  table.column("tag_map").to_pylist(), strict=True)}


async def read_buckets(store: TelemetryStore, metric: str, sources: list[Source], series_ids: list[int],
                       resolution: int, limit: int) -> pa.Table:
    """Per series and per `resolution` bucket: count, sum, min, max, last, stddev; ordered by series, time.
    At most `limit` + 1 rows, so callers can tell the result was cut."""
    if not series_ids:
        return pa.table({"series_id": pa.array([], pa.uint64()), "t": pa.array([], pa.uint32())})
    inner, params = _union(store, metric, sources, series_ids)
    params["res"] = resolution
    return await store.query_arrow(
        f"SELECT series_id, intDiv(toUInt32(time), {{res:UInt32}}) * {{res:UInt32}} AS t, {MERGED} "
        f"FROM ({inner}) GROUP BY series_id, t ORDER BY series_id, t LIMIT {int(limit) + 1}", params)


async def read_points(store: TelemetryStore, metric: str, sources: list[Source], series_ids: list[int],
                      limit: int) -> pa.Table:
    """Each point of the tiers read (raw points, or rollup buckets) with its `last`, ordered by series, time."""
    if not series_ids:
        return pa.table({"series_id": pa.array([], pa.uint64()), "time": pa.array([], pa.uint32()),
                         "last": pa.array([], pa.float64())})
    inner, params = _union(store, metric, sources, series_ids)
    return await store.query_arrow(
        f"SELECT series_id, toUInt32(time) AS time, argMax(last, last_time) AS last FROM ({inner}) "
        f"GROUP BY series_id, time ORDER BY series_id, time LIMIT {int(limit) + 1}", params)


async def series_tags(store: TelemetryStore, metric: str, series_ids: list[int]) -> dict[int, dict[str, str]]:
    if not series_ids:
        return {}
    table = await store.query_arrow(
        f"SELECT series_id, any(tags) AS tags FROM {store.database}.series WHERE metric = {{metric:String}} "
        "AND series_id IN {sids:Array(UInt64)} GROUP BY series_id",
        {"metric": metric, "sids": series_ids})
    return {sid: dict(tags) for sid, tags in zip(table.column("series_id").to_pylist(),
                                                  table.column("tags").to_pylist(), strict=True)}


async def delete_metrics(store: TelemetryStore, keys: list[str]) -> None:
    """Remove every measurement, rollup and series of the metrics (lightweight deletes: immediate for reads)."""
    if not keys:
        return
    for table in ("samples", "rollup_60", "rollup_3600", "rollup_dirty", "series"):
        await store.execute(f"DELETE FROM {store.database}.{table} WHERE metric IN {{keys:Array(String)}}",
                            {"keys": keys})

