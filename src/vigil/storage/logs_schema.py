"""Telemetry schema of application logs: one row per line, kept for `log_retention` seconds.

Sorted by (app, time, seq): every read is "lines of these apps in a time window, newest or oldest
first". `seq` is the ingest order, so lines with the same microsecond keep their order. Hourly
partitions let the TTL drop whole parts soon after they expire (the default retention is 6 hours).
"""

from __future__ import annotations

from vigil.storage.telemetry import TelemetryStore

LOGS: list[list[str]] = [
    [
        """
        CREATE TABLE IF NOT EXISTS {db}.logs (
            app LowCardinality(String),
            time DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
            seq UInt64 CODEC(Delta, ZSTD(1)),
            source LowCardinality(String),
            instance LowCardinality(String),
            stream LowCardinality(String),
            host LowCardinality(String),
            message String CODEC(ZSTD(1))
        )
        ENGINE = MergeTree
        PARTITION BY toStartOfHour(time)
        ORDER BY (app, time, seq)
        SETTINGS ttl_only_drop_parts = 1
        """,
    ],
]


async def apply_retention(store: TelemetryStore, retention_seconds: int, fsync: bool) -> None:
    db = store.database
    ttl = f"toDateTime(time) + toIntervalSecond({int(retention_seconds)})"
    await store.execute(f"ALTER TABLE {db}.logs MODIFY TTL {ttl} SETTINGS materialize_ttl_after_modify = 0")
    flag = 1 if fsync else 0
    await store.execute(f"ALTER TABLE {db}.logs MODIFY SETTING fsync_after_insert = {flag}, "
                        f"fsync_part_directory = {flag}")
