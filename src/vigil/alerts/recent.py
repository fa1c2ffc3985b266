"""Telemetry queries the evaluator needs besides the live data (ClickHouse SQL, chDB or server)."""

from __future__ import annotations

from vigil.storage.telemetry import TelemetryStore


async def last_seen(store: TelemetryStore, metric: str, since: int, limit: int) -> dict[int, int]:
    """The latest sample time of each series of `metric` that reported since `since` (at most `limit`)."""
    table = await store.query_arrow(
        f"SELECT series_id, toUInt32(max(time)) AS last FROM {store.database}.samples "
        "WHERE metric = {metric:String} AND time >= {since:DateTime} GROUP BY series_id "
        "ORDER BY last DESC LIMIT {limit:UInt64}",
        {"metric": metric, "since": since, "limit": limit})
    return dict(zip(table.column("series_id").to_pylist(), table.column("last").to_pylist(), strict=True))
