"""Versioned schema of the telemetry engine.

Each concept (metrics, logs, events …) owns a list of migrations; a migration is a list of
statements with `{db}` for the database name. Lists only ever grow; each migration runs once, in
order, and `schema_migrations` records (component, version).
"""

from __future__ import annotations

import logging

from vigil.config import Settings
from vigil.storage.telemetry import TelemetryStore

log = logging.getLogger(__name__)

_ROLLUP = """
CREATE TABLE IF NOT EXISTS {{db}}.rollup_{size} (
    metric LowCardinality(String),
    series_id UInt64,
    time DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    count UInt64 CODEC(T64, ZSTD(1)),
    sum Float64 CODEC(Gorilla, ZSTD(1)),
    min Float64 CODEC(Gorilla, ZSTD(1)),
    max Float64 CODEC(Gorilla, ZSTD(1)),
    last Float64 CODEC(Gorilla, ZSTD(1)),
    last_time DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    sd_sum Float64 CODEC(Gorilla, ZSTD(1)),
    points UInt64 CODEC(T64, ZSTD(1)),
    version UInt64 CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(time)
ORDER BY (metric, series_id, time)
SETTINGS ttl_only_drop_parts = 1
"""

# Each migration is a list of statements; `{db}` is the database name.
# Gorilla suits slowly changing floats, DoubleDelta regular timestamps; ZSTD on top of both.
METRICS: list[list[str]] = [
    [
        # One row per accepted measurement. `uniq` is 0 for ordinary points, so that a second write
        # to the same (series, time) replaces the first (ReplacingMergeTree keeps the highest
        # `version`); service-side aggregated metrics give each point its own `uniq` so that
        # every point of a period is kept and combined when read.
        """
        CREATE TABLE IF NOT EXISTS {db}.samples (
            metric LowCardinality(String),
            series_id UInt64,
            time DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
            uniq UInt64 CODEC(ZSTD(1)),
            count UInt64 CODEC(T64, ZSTD(1)),
            sum Float64 CODEC(Gorilla, ZSTD(1)),
            min Float64 CODEC(Gorilla, ZSTD(1)),
            max Float64 CODEC(Gorilla, ZSTD(1)),
            last Float64 CODEC(Gorilla, ZSTD(1)),
            stddev Float64 CODEC(Gorilla, ZSTD(1)),
            version UInt64 CODEC(Delta, ZSTD(1))
        )
        ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMMDD(time)
        ORDER BY (metric, series_id, time, uniq)
        SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000
        """,
        # The series index: one row per (metric, tag set), written the first time a process sees it.
        """
        CREATE TABLE IF NOT EXISTS {db}.series (
            metric LowCardinality(String),
            series_id UInt64,
            tags Map(LowCardinality(String), String),
            first_seen DateTime('UTC')
        )
        ENGINE = ReplacingMergeTree(first_seen)
        ORDER BY (metric, series_id)
        SETTINGS non_replicated_deduplication_window = 10000
        """,
    ],
    [
        # Rollup tiers, recomputed from `samples FINAL` for every hour that received data (so they
        # agree with last-write-wins), and the marks of those hours, written with the samples.
        _ROLLUP.format(size=60),
        _ROLLUP.format(size=3600),
        """
        CREATE TABLE IF NOT EXISTS {db}.rollup_dirty (
            metric LowCardinality(String),
            window DateTime('UTC'),
            marked_at DateTime64(6, 'UTC') DEFAULT now64(6)
        )
        ENGINE = MergeTree
        ORDER BY (metric, window)
        SETTINGS non_replicated_deduplication_window = 10000
        """,
    ],
]

ROLLUP_SIZES = (60, 3600)


async def migrate(store: TelemetryStore, settings: Settings, components: dict[str, list[list[str]]]) -> None:
    """Bring every component's schema up to date, then apply the configured retention."""
    db = store.database
    await store.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    await store.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (component LowCardinality(String), version UInt32, "
        "applied_at DateTime('UTC') DEFAULT now()) ENGINE = MergeTree ORDER BY (component, version)"
    )
    done = await store.query_arrow(
        f"SELECT component, max(version) AS v FROM {db}.schema_migrations GROUP BY component")
    current = dict(zip(done.column("component").to_pylist(), done.column("v").to_pylist(), strict=True))
    for component, migrations in components.items():
        for version, statements in enumerate(migrations, start=1):
            if version <= current.get(component, 0):
                continue
            for statement in statements:
                await store.execute(statement.format(db=db))
            await store.execute(f"INSERT INTO {db}.schema_migrations (component, version) VALUES "
                                "({component:String}, {version:UInt32})", {"component": component, "version": version})
            log.info("telemetry schema of %s migrated to version %d", component, version)
    await apply_retention(store, settings)


async def apply_retention(store: TelemetryStore, settings: Settings) -> None:
    db = store.database
    fsync = 1 if settings.fsync else 0
    for table, seconds in (("samples", settings.raw_retention), ("rollup_60", settings.rollup_1m_retention),
                           ("rollup_3600", settings.rollup_1h_retention)):
        await store.execute(
            f"ALTER TABLE {db}.{table} MODIFY TTL time + toIntervalSecond({int(seconds)}) "
            "SETTINGS materialize_ttl_after_modify = 0"
        )
    for table in ("samples", "series", "rollup_dirty"):
        await store.execute(f"ALTER TABLE {db}.{table} MODIFY SETTING fsync_after_insert = {fsync}, "
                            f"fsync_part_directory = {fsync}")
