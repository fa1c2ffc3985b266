"""Everything a running server holds, built from Settings, started and closed in order."""

from __future__ import annotations

import logging

from vigil.auth.ratelimit import RateLimiter
from vigil.auth.tokens import TokenStore
from vigil.config import Settings
from vigil.jobs import Jobs
from vigil.metrics.catalog import MetricCatalog
from vigil.metrics.ingest import Ingestor
from vigil.metrics.query import MeasurementReader
from vigil.metrics.writer import SCHEMAS, SampleWriter
from vigil.selfmetrics import SelfMetrics
from vigil.storage import metadata, telemetry_schema
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
        self.rate_limiter = RateLimiter(settings.rate_limit_std, settings.rate_limit_agg, settings.rate_limit_window)
        self.catalog = MetricCatalog(self.metadata)
        self.jobs = Jobs(self.metadata)
        wal = SegmentLog(settings.data_dir / "wal" / "metrics", SCHEMAS, fsync=settings.fsync)
        self.writer = SampleWriter(self.telemetry, wal, flush_rows=settings.flush_rows,
                                   flush_interval=settings.flush_interval,
                                   max_pending_rows=settings.max_pending_rows,
                                   wait_timeout=settings.max_pending_wait,
                                   on_flush=self._flushed, on_failure=self._write_failed)
        self.ingestor = Ingestor(self.catalog, self.writer.write, past_window=settings.accepted_past,
                                 future_window=settings.future_window,
                                 max_measurements=settings.max_measurements_per_request,
                                 series_cache_limit=settings.series_cache_limit)
        self.reader = MeasurementReader(self.telemetry, self.catalog, self.writer.sync)
        self.admin_token: str | None = None

    def _flushed(self, rows: int, seconds: float) -> None:
        self.self_metrics.batch_rows.observe(rows)
        self.self_metrics.flush_seconds.observe(seconds)

    def _write_failed(self) -> None:
        self.self_metrics.storage_errors.labels("telemetry").inc()
        self.ingestor.forget_series()

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.metadata.migrate({"core": metadata.CORE})
        await telemetry_schema.migrate(self.telemetry, self.settings, {"metrics": telemetry_schema.METRICS})
        await self.jobs.recover()
        self.admin_token = await self.tokens.ensure_admin(self.settings.admin_token, self.settings.data_dir)
        self.self_metrics.pending_rows.set_function(lambda: self.writer.pending_rows)
        self.self_metrics.series_cache.set_function(lambda: self.ingestor.cached_series)
        await self.writer.recover()
        self.writer.start()

    async def close(self) -> None:
        await self.writer.close()
        await self.jobs.wait()
        await self.telemetry.close()
        await self.metadata.close()
