"""Telemetry tables of the Prometheus concept: staleness markers (docs/prometheus.md).

A marker says "this series ended here": written when a scraped series disappears or its target
fails, and for every stale NaN a Prometheus server remote-writes. Queries that evaluate instant
values (the Fn statistics, app metrics) stop a series at its marker instead of carrying its last
value forward for the whole look-back window. Markers live beside the samples, not in them, so
that the AppOptics reads never see a NaN.
"""

from __future__ import annotations

from vigil.config import Settings
from vigil.storage.telemetry import TelemetryStore

PROM: list[list[str]] = [
    [
        """
        CREATE TABLE IF NOT EXISTS {db}.prom_stale (
            metric LowCardinality(String),
            series_id UInt64,
            time DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMMDD(time)
        ORDER BY (metric, series_id, time)
        SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000
        """,
    ],
]


async def apply_retention(store: TelemetryStore, settings: Settings) -> None:
    """Markers are kept as long as the raw samples they end."""
    db = store.database
    fsync = 1 if settings.fsync else 0
    seconds = int(settings.raw_retention)
    await store.execute(f"ALTER TABLE {db}.prom_stale MODIFY TTL time + toIntervalSecond({seconds}) "
                        "SETTINGS materialize_ttl_after_modify = 0")
    await store.execute(f"ALTER TABLE {db}.prom_stale MODIFY SETTING fsync_after_insert = {fsync}, "
                        f"fsync_part_directory = {fsync}")
