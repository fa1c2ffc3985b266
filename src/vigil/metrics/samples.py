"""SQL over the samples, rollup and series tables (ClickHouse dialect; runs unchanged on chDB and a server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
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
    "samples": {"count": "count", "sum": "sum", "min": "min", "max": "max", "last": "last, time AS last_time",
                "stddev": "stddev AS sd_sum, toUInt64(1) AS points"},
    "rollup": {"count": "count", "sum": "sum", "min": "min", "max": "max", "last": "last, last_time",
               "stddev": "sd_sum, points"},
}
MERGED = {"count": "sum(count)", "sum": "sum(sum)", "min": "min(min)", "max": "max(max)",
          "last": "argMax(last, last_time)", "stddev": "sum(sd_sum) / sum(points)"}
FIELDS = tuple(MERGED)
# A bucket's value under each summary function, from its merged fields.
VALUE = {"mean": "if(sum(count) > 0, sum(sum) / sum(count), 0)", "sum": "sum(sum)", "min": "min(min)",
         "max": "max(max)", "count": "toFloat64(sum(count))", "stddev": MERGED["stddev"]}
_NEEDS = {"mean": ("count", "sum"), "stddev": ("stddev",)}
GROUP = {"sum": "sum", "min": "min", "max": "max", "mean": "avg"}


# FINAL merges the parts a read touches; with one thread it took half the time of the default for reads of
# 6,000 to 60,000 rows over four parts here (the threads' hand-offs cost more than the merge). These
# tables have no projections, but planning still considered the implicit min-max one for each part:
# ~2 ms of CPU per read over four parts.
_READ = " SETTINGS max_final_threads = 1, optimize_use_projections = 0"


def bucket_values(merged: dict[str, np.ndarray], function: str) -> np.ndarray:
    """Buckets' values under a summary function, from their merged fields (`VALUE`, in numpy)."""
    if function == "mean":
        counts = merged["count"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(counts > 0, merged["sum"] / np.maximum(counts, 1), 0.0)
    return merged[function].astype(np.float64)


def needed_fields(summary: str) -> tuple[str, ...]:
    """The merged fields a summary function reads (`all` reads every one)."""
    return FIELDS if summary == "all" else _NEEDS.get(summary, (summary,))


def _union(store: TelemetryStore, metric: str, sources: list[Source], series_ids: np.ndarray | None,
           fields: tuple[str, ...] = FIELDS) -> tuple[str, dict[str, Any]]:
    """Rows of every source with the columns that `fields` merge from; `series_ids` None: every series."""
    params: dict[str, Any] = {"metric": metric}
    if series_ids is not None:
        params["sids"] = series_ids.tolist()
    selects = []
    for i, source in enumerate(sources):
        columns = _COLUMNS["samples" if source.table == "samples" else "rollup"]
        where = ["metric = {metric:String}", f"time >= {{s{i}:UInt32}}", f"time < {{e{i}:UInt32}}"]
        params[f"s{i}"], params[f"e{i}"] = source.start, source.end
        if series_ids is not None:
            where.append("series_id IN {sids:Array(UInt64)}")
        selects.append(f"SELECT series_id, time, {', '.join(columns[f] for f in fields)} "
                       f"FROM {store.database}.{source.table} FINAL WHERE {' AND '.join(where)}")
    return " UNION ALL ".join(selects), params


async def matching_series(store: TelemetryStore, metric: str, tag_filter: TagFilter, sources: list[Source],
                          limit: int) -> dict[int, dict[str, str]]:
    """Series of the metric whose tags pass the filter and that have a point in the sources (at most
    `limit` + 1, so callers can tell). For metrics too large for the series index in memory."""
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


def _points(store: TelemetryStore, metric: str, sources: list[Source], among: np.ndarray | None,
            select: str) -> tuple[str, dict[str, Any]]:
    """`select` over the points of the sources (of the series `among`, when given). Which series have
    points does not depend on last-write-wins: no FINAL."""
    params: dict[str, Any] = {"metric": metric}
    only = ""
    if among is not None:
        params["sids"] = among.tolist()
        only = " AND series_id IN {sids:Array(UInt64)}"
    selects = []
    for i, s in enumerate(sources):
        params[f"s{i}"], params[f"e{i}"] = s.start, s.end
        selects.append(f"SELECT {select} FROM {store.database}.{s.table} WHERE metric = {{metric:String}} "
                       f"AND time >= {{s{i}:UInt32}} AND time < {{e{i}:UInt32}}{only}")
    return selects[0] if len(selects) == 1 else " UNION DISTINCT ".join(selects), params


async def active_series(store: TelemetryStore, metric: str, sources: list[Source],
                        among: np.ndarray | None) -> np.ndarray:
    """Ids of the metric's series with a point in the sources (of `among`, when given)."""
    sql, params = _points(store, metric, sources, among, "DISTINCT series_id")
    return (await store.query_arrow(sql, params)).column("series_id").to_numpy()


async def any_active(store: TelemetryStore, metric: str, sources: list[Source], among: np.ndarray) -> bool:
    """Whether any of the series `among` has a point in the sources (the engine stops at the first)."""
    sql, params = _points(store, metric, sources, among, "1 AS found")
    return (await store.query_arrow(f"SELECT found FROM ({sql}) LIMIT 1", params)).num_rows > 0


async def read_buckets(store: TelemetryStore, metric: str, sources: list[Source], series_ids: np.ndarray,
                       resolution: int, limit: int, fields: tuple[str, ...] = FIELDS) -> pa.Table:
    """Per series and per `resolution` bucket: the merged `fields`; ordered by series, time.
    At most `limit` + 1 rows, so callers can tell the result was cut."""
    if not series_ids.size:
        return pa.table({"series_id": pa.array([], pa.uint64()), "t": pa.array([], pa.uint32())})
    inner, params = _union(store, metric, sources, series_ids, fields)
    params["res"] = resolution
    merged = ", ".join(f"{MERGED[f]} AS {f}" for f in fields)
    return await store.query_arrow(
        f"SELECT series_id, intDiv(toUInt32(time), {{res:UInt32}}) * {{res:UInt32}} AS t, {merged} "
        f"FROM ({inner}) GROUP BY series_id, t ORDER BY series_id, t LIMIT {int(limit) + 1}{_READ}", params)


async def read_grouped(store: TelemetryStore, metric: str, sources: list[Source], series_ids: np.ndarray | None,
                       groups: np.ndarray | None, resolution: int, summary: str, group_function: str,
                       limit: int, members: bool = False) -> tuple[pa.Table, np.ndarray | None]:
    """Each series summarised per `resolution` bucket, then combined across the series of each group
    with `group_function`: rows (g, t, value) ordered by group, time. `groups[i]` is the group of
    `series_ids[i]` (None: one group, 0); `series_ids` None: every series of the metric. At most
    `limit` + 1 rows. The engine does the combining, so only the groups' points travel. With `members`,
    the same scan also returns the ids of the series that had points (else None)."""
    inner, params = _union(store, metric, sources, series_ids, needed_fields(summary))
    params["res"] = resolution
    group = "0"
    if groups is not None:
        params["gids"] = groups.tolist()
        group = "transform(series_id, {sids:Array(UInt64)}, {gids:Array(UInt32)}, toUInt32(0))"
    summarised = (f"SELECT series_id, intDiv(toUInt32(time), {{res:UInt32}}) * {{res:UInt32}} AS t, "
                  f"{VALUE[summary]} AS v FROM ({inner}) GROUP BY series_id, t")
    combined = f"toUInt32({group}) AS g, t, {GROUP[group_function]}(v) AS value"
    if not members:
        table = await store.query_arrow(
            f"SELECT {combined} FROM ({summarised}) GROUP BY g, t ORDER BY g, t LIMIT {int(limit) + 1}{_READ}", params)
        return table, None
    # GROUPING SETS: the (series_id) set lists the series with points, from the same scan.
    table = await store.query_arrow(
        f"SELECT {combined}, series_id, grouping(series_id) = 0 AS member FROM ({summarised}) "
        f"GROUP BY GROUPING SETS ((g, t), (series_id)) ORDER BY member, g, t "
        f"LIMIT {int(limit) + 1 + (len(series_ids) if series_ids is not None else limit)}{_READ}", params)
    is_member = table.column("member").to_numpy(zero_copy_only=False).astype(bool)
    points = int(np.count_nonzero(~is_member))
    return table.slice(0, points), table.column("series_id").to_numpy()[points:]


async def read_points(store: TelemetryStore, metric: str, sources: list[Source], series_ids: np.ndarray,
                      limit: int) -> pa.Table:
    """Each point of the tiers read (raw points, or rollup buckets) with its `last`, ordered by series, time."""
    if not series_ids.size:
        return pa.table({"series_id": pa.array([], pa.uint64()), "time": pa.array([], pa.uint32()),
                         "last": pa.array([], pa.float64())})
    inner, params = _union(store, metric, sources, series_ids, ("last",))
    return await store.query_arrow(
        f"SELECT series_id, toUInt32(time) AS time, argMax(last, last_time) AS last FROM ({inner}) "
        f"GROUP BY series_id, time ORDER BY series_id, time LIMIT {int(limit) + 1}{_READ}", params)


async def series_tags(store: TelemetryStore, metric: str, series_ids: list[int]) -> dict[int, dict[str, str]]:
    if not series_ids:
        return {}
    table = await store.query_arrow(
        f"SELECT series_id, any(tags) AS tags FROM {store.database}.series WHERE metric = {{metric:String}} "
        "AND series_id IN {sids:Array(UInt64)} GROUP BY series_id",
        {"metric": metric, "sids": series_ids})
    return {sid: dict(tags) for sid, tags in zip(table.column("series_id").to_pylist(),
                                                  table.column("tags").to_pylist(), strict=True)}


async def latest_sample_time(store: TelemetryStore) -> int | None:
    """The time of the latest point stored (None: none is)."""
    row = (await store.query_arrow(f"SELECT count() AS n, max(toUInt32(time)) AS t FROM {store.database}.samples"))
    return int(row.column("t")[0].as_py()) if row.column("n")[0].as_py() else None


async def delete_metrics(store: TelemetryStore, keys: list[str]) -> None:
    """Remove every measurement, rollup and series of the metrics (lightweight deletes: immediate for reads)."""
    if not keys:
        return
    for table in ("samples", "rollup_60", "rollup_3600", "rollup_dirty", "series"):
        await store.execute(f"DELETE FROM {store.database}.{table} WHERE metric IN {{keys:Array(String)}}",
                            {"keys": keys})

