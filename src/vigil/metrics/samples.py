"""SQL over the samples and series tables (ClickHouse dialect; runs unchanged on chDB and a server)."""

from __future__ import annotations

import pyarrow as pa

from vigil.storage.telemetry import TelemetryStore

# How each stored column combines when points are merged into one bucket. A bucket's `last` is
# the `last` of its latest point; stddev values are averaged (the seed: "standard deviations are
# averaged together when aggregating").
_BUCKET = """
    sum(count) AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
    argMax(last, time) AS last, avg(stddev) AS stddev
"""


async def read_buckets(store: TelemetryStore, metric: str, start: int, end: int, resolution: int,
                       series_ids: list[int] | None = None) -> pa.Table:
    """Per series and per `resolution` bucket, the merged summary columns, ordered by series and time.

    FINAL applies last-write-wins to rewritten points before they are merged.
    """
    db = store.database
    where = ["metric = {metric:String}", "time >= {start:DateTime}", "time <= {end:DateTime}"]
    params: dict[str, object] = {"metric": metric, "start": start, "end": end, "res": resolution}
    if series_ids is not None:
        where.append("series_id IN {sids:Array(UInt64)}")
        params["sids"] = series_ids
    sql = f"""
        SELECT series_id, intDiv(toUInt32(time), {{res:UInt32}}) * {{res:UInt32}} AS t, {_BUCKET}
        FROM {db}.samples FINAL
        WHERE {' AND '.join(where)}
        GROUP BY series_id, t
        ORDER BY series_id, t
    """
    return await store.query_arrow(sql, params)


async def series_tags(store: TelemetryStore, metric: str, series_ids: list[int]) -> dict[int, dict[str, str]]:
    if not series_ids:
        return {}
    db = store.database
    table = await store.query_arrow(
        f"SELECT series_id, any(tags) AS tags FROM {db}.series WHERE metric = {{metric:String}} "
        "AND series_id IN {sids:Array(UInt64)} GROUP BY series_id",
        {"metric": metric, "sids": series_ids})
    return {sid: dict(tags) for sid, tags in zip(table.column("series_id").to_pylist(),
                                                  table.column("tags").to_pylist(), strict=True)}


async def delete_metrics(store: TelemetryStore, keys: list[str]) -> None:
    """Remove every measurement and series of the metrics (lightweight deletes: immediate for reads)."""
    if not keys:
        return
    db = store.database
    for table in ("samples", "series"):
        await store.execute(f"DELETE FROM {db}.{table} WHERE metric IN {{keys:Array(String)}}", {"keys": keys})
