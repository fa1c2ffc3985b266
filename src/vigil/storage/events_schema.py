"""Telemetry schema of platform events: one row per notification received (StackTach's RawData,
GlanceRawData and GenericRawData in one table, told apart by `kind`).

`id` is assigned by the writer, strictly increasing in the order notifications were accepted; it
is the `#` column of every stacky view. Reads go by instance, request id or image id (bloom
filters), by time (the sort key) or by id (minmax).
"""

from __future__ import annotations

from vigil.storage.telemetry import TelemetryStore

EVENTS: list[list[str]] = [
    [
        """
        CREATE TABLE IF NOT EXISTS {db}.events (
            id UInt64 CODEC(Delta, ZSTD(1)),
            kind LowCardinality(String),
            deployment UInt32,
            routing_key LowCardinality(String),
            `when` DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
            publisher LowCardinality(String),
            event LowCardinality(String),
            service LowCardinality(Nullable(String)),
            host LowCardinality(Nullable(String)),
            instance Nullable(String),
            request_id String,
            tenant Nullable(String),
            message_id Nullable(String),
            state LowCardinality(Nullable(String)),
            old_state LowCardinality(Nullable(String)),
            old_task LowCardinality(Nullable(String)),
            task LowCardinality(Nullable(String)),
            image_type UInt32,
            owner Nullable(String),
            status LowCardinality(Nullable(String)),
            uuid Nullable(String),
            json String CODEC(ZSTD(3)),
            INDEX ix_instance instance TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX ix_request request_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX ix_uuid uuid TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX ix_tenant tenant TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX ix_id id TYPE minmax GRANULARITY 1
        )
        ENGINE = MergeTree
        PARTITION BY toYYYYMM(`when`)
        ORDER BY (kind, `when`, id)
        SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000
        """,
    ],
]


async def apply_retention(store: TelemetryStore, retention_seconds: int, fsync: bool) -> None:
    db = store.database
    await store.execute(f"ALTER TABLE {db}.events MODIFY TTL toDateTime(`when`) + "
                        f"toIntervalSecond({int(retention_seconds)}) SETTINGS materialize_ttl_after_modify = 0")
    flag = 1 if fsync else 0
    await store.execute(f"ALTER TABLE {db}.events MODIFY SETTING fsync_after_insert = {flag}, "
                        f"fsync_part_directory = {flag}")
