"""Everything a running server holds, built from Settings, started and closed in order."""

from __future__ import annotations

import logging

from vigil.alerts.manager import AlertManager
from vigil.annotations.store import Annotations
from vigil.appmetrics.service import AppMetrics
from vigil.auth.api_tokens import ApiTokens
from vigil.auth.environments import Environments
from vigil.auth.ratelimit import RateLimiter
from vigil.auth.tokens import TokenStore
from vigil.broker.memory import MemoryBroker
from vigil.config import Settings, amqp_deployments
from vigil.dashboards.charts import Charts
from vigil.dashboards.data import ChartData
from vigil.dashboards.snapshots import Snapshots
from vigil.dashboards.spaces import Spaces
from vigil.drains.manager import DrainManager
from vigil.drains.selfmetrics import DrainCollector
from vigil.events.service import Events
from vigil.fnstats.service import FnStats
from vigil.ingest.amqp import AmqpIngest
from vigil.ingest.log_listeners import LogListeners
from vigil.jobs import Jobs
from vigil.logs.selfmetrics import LogCollector
from vigil.logs.service import LogService
from vigil.metrics.catalog import MetricCatalog
from vigil.metrics.composer import Composer
from vigil.metrics.composite import Limits
from vigil.metrics.ingest import Ingestor, SampleBatch
from vigil.metrics.query import MeasurementReader
from vigil.metrics.recent import RecentSamples
from vigil.metrics.rollup import Rollups
from vigil.metrics.samples import latest_sample_time
from vigil.metrics.series_index import SeriesIndex
from vigil.metrics.tiers import Tier
from vigil.metrics.writer import SCHEMAS, SampleWriter
from vigil.prom.service import PromService
from vigil.selfmetrics import SelfMetrics
from vigil.storage import (
    alerts_tables,
    annotations_tables,
    dashboards_tables,
    drains_tables,
    environments_tables,
    events_schema,
    events_tables,
    logs_schema,
    logs_tables,
    metadata,
    prom_schema,
    prom_tables,
    telemetry_schema,
)
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import ChdbTelemetry, TelemetryStore
from vigil.storage.wal import SegmentLog

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings, *, telemetry: TelemetryStore | None = None) -> None:
        self.settings = settings
        self.self_metrics = SelfMetrics()
        self.telemetry: TelemetryStore = telemetry or ChdbTelemetry(settings.data_dir / "telemetry")
        self.metadata = MetadataDB(settings.metadata_dsn)
        self.tokens = TokenStore(self.metadata)
        self.environments = Environments(self.metadata, self.tokens)
        self.api_tokens = ApiTokens(self.metadata, self.tokens, self.environments)
        self.rate_limiter = RateLimiter(settings.rate_limit_std, settings.rate_limit_agg, settings.rate_limit_window)
        self.catalog = MetricCatalog(self.metadata)
        self.jobs = Jobs(self.metadata)
        wal = SegmentLog(settings.data_dir / "wal" / "metrics", SCHEMAS, fsync=settings.fsync)
        self.writer = SampleWriter(self.telemetry, wal, flush_rows=settings.flush_rows,
                                   flush_interval=settings.flush_interval,
                                   max_pending_rows=settings.max_pending_rows,
                                   wait_timeout=settings.max_pending_wait,
                                   on_flush=self._flushed, on_failure=self._write_failed)
        self.series_index = SeriesIndex(self.telemetry, settings.series_index_limit, self.writer.sync)
        self.recent = RecentSamples(settings.recent_samples_rows, settings.raw_retention)
        self.ingestor = Ingestor(self.catalog, self._write_samples, past_window=settings.accepted_past,
                                 future_window=settings.future_window,
                                 max_measurements=settings.max_measurements_per_request,
                                 series_cache_limit=settings.series_cache_limit)
        self.rollups = Rollups(self.telemetry, settings.rollup_interval, self.writer.sync)
        self.reader = MeasurementReader(
            self.telemetry, self.catalog, self.writer.sync,
            tiers_=[Tier(3600, "rollup_3600", settings.rollup_1h_retention),
                    Tier(60, "rollup_60", settings.rollup_1m_retention),
                    Tier(1, "samples", settings.raw_retention)],
            watermark=self._rollup_watermark,
            max_series=settings.max_query_series, max_points=settings.max_query_points, index=self.series_index,
            recent=self.recent)
        self.composer = Composer(self.reader, self.catalog,
                                 Limits(max_series=settings.max_query_series, max_points=settings.max_query_points))
        self.reader.composites = self.composer.read_persisted
        self.spaces = Spaces(self.metadata)
        self.charts = Charts(self.metadata, self.catalog, max_charts=settings.max_charts_per_space,
                             max_streams=settings.max_streams_per_chart)
        self.chart_data = ChartData(self.reader.read, lambda: getattr(self, "composer", None),
                                    max_series=settings.chart_data_max_series,
                                    max_points=settings.chart_data_max_points)
        self.annotations = Annotations(self.metadata, max_events=settings.annotation_max_events)
        self.snapshots = Snapshots(self.metadata, self.charts, self.chart_data, self.jobs,
                                   width=settings.snapshot_width, height=settings.snapshot_height,
                                   max_side=settings.snapshot_max_side, max_pending=settings.snapshot_max_pending,
                                   keep=settings.snapshot_keep)
        self.events = Events(settings, self.telemetry, self.metadata, self.self_metrics.registry)
        self.amqp = AmqpIngest(amqp_deployments(settings), self.events, exchanges=settings.amqp_exchanges,
                               routing_keys=settings.amqp_routing_keys, queue_prefix=settings.amqp_queue_prefix,
                               durable=settings.amqp_durable, prefetch=settings.amqp_prefetch,
                               reconnect_max=settings.amqp_reconnect_max)
        self.alerts = AlertManager(settings, self.metadata, self.telemetry, self.writer, self.self_metrics)
        self.writer.observe(self.alerts.observe)
        self.broker = MemoryBroker()  # live fan-out (log tails, drains)
        self.logs = LogService(settings, self.telemetry, self.metadata, self.broker)
        self.log_listeners = LogListeners(settings, self.logs, self.ingestor.ingest)
        self.drains = DrainManager(settings, self.metadata, self.logs.pipeline, self.logs.sites)
        # Prometheus in (scrape, remote write); Fn statistics and Akkeris app metrics out.
        self.prom = PromService(settings, self.ingestor, self.telemetry, self.metadata, self.self_metrics.registry)
        self.fn_stats = FnStats(self.telemetry, self.writer.sync, lookback=settings.prom_lookback,
                                max_series=settings.max_query_series, max_points=settings.max_query_points)
        self.app_metrics = AppMetrics(self.telemetry, self.writer.sync, self.reader.tiers, self._rollup_watermark,
                                      max_series=settings.max_query_series, max_points=settings.max_query_points)
        self.self_metrics.registry.register(LogCollector(self.logs, self.log_listeners.stats))
        self.self_metrics.registry.register(DrainCollector(self.drains))
        self.admin_token: str | None = None

    async def _write_samples(self, batch: SampleBatch) -> None:
        await self.writer.write(batch)
        # Before the 202: a read the client starts after it finds the new series in the index.
        self.series_index.announce(batch.new_series)

    def _rollup_watermark(self, metric: str) -> int:
        pending = self.rollups.oldest_pending(metric)
        return self.rollups.watermark if pending is None else min(self.rollups.watermark, pending)

    def _flushed(self, rows: int, seconds: float) -> None:
        self.self_metrics.batch_rows.observe(rows)
        self.self_metrics.flush_seconds.observe(seconds)

    def _write_failed(self) -> None:
        self.self_metrics.storage_errors.labels("telemetry").inc()
        self.ingestor.forget_series()

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.metadata.migrate({"core": metadata.CORE, "environments": environments_tables.MIGRATIONS,
                                     "dashboards": dashboards_tables.MIGRATIONS,
                                     "annotations": annotations_tables.MIGRATIONS,
                                     "events": events_tables.MIGRATIONS, "logs": logs_tables.MIGRATIONS})
        await telemetry_schema.migrate(self.telemetry, self.settings, {"metrics": telemetry_schema.METRICS,
                                                                          "events": events_schema.EVENTS,
                                                                          "logs": logs_schema.LOGS})
        await logs_schema.apply_retention(self.telemetry, self.settings.log_retention, self.settings.fsync)
        await self.jobs.recover()
        self.admin_token = await self.tokens.ensure_admin(self.settings.admin_token, self.settings.data_dir)
        self.self_metrics.pending_rows.set_function(lambda: self.writer.pending_rows)
        self.self_metrics.series_cache.set_function(lambda: self.ingestor.cached_series)
        self.self_metrics.recent_rows.set_function(lambda: self.recent.rows)
        self.self_metrics.recent_since.set_function(lambda: min(self.recent.since, 2**32))
        self.writer.observe(self.rollups.mark)
        await self.writer.recover()
        self.recent.start(await latest_sample_time(self.telemetry))
        self.writer.observe(self.recent.add)
        await self.rollups.load_pending()
        await self.metadata.migrate({"alerts": alerts_tables.MIGRATIONS})
        await self.alerts.start()
        self.writer.start()
        await self.rollups.run_once()
        self.rollups.start()
        await self.events.start()
        self.amqp.start()
        self.logs.start()
        await self.metadata.migrate({"drains": drains_tables.MIGRATIONS})
        await self.drains.start()  # before the listeners: lines from the first one on reach the drains
        await self.log_listeners.start()
        await self.metadata.migrate({"prom": prom_tables.MIGRATIONS})
        await telemetry_schema.migrate(self.telemetry, self.settings, {"prom": prom_schema.PROM})
        await prom_schema.apply_retention(self.telemetry, self.settings)
        await self.prom.start()

    async def close(self) -> None:
        await self.prom.close()
        await self.log_listeners.close()
        await self.drains.close()
        await self.logs.close()
        await self.amqp.close()
        await self.events.close()
        await self.rollups.close()
        await self.alerts.close()
        await self.writer.close()
        await self.jobs.wait()
        await self.telemetry.close()
        await self.metadata.close()
