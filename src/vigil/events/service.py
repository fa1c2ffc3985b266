"""Everything platform events need at run time, built from Settings: the deployment registry, the
writer, the lifecycle processor, the stacky views and the report job. Listeners (HTTP, AMQP) hand
notifications to `ingest_http` / `ingest_messages`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.config import Settings
from vigil.errors import ParamsError
from vigil.events.deployments import Deployments
from vigil.events.extract import (
    KINDS,
    Malformed,
    decode,
    extract,
    kind_for_event,
    kind_for_exchange,
    routing_key_for,
    unwrap,
    valid_routing_key,
)
from vigil.events.lifecycle import LifecycleProcessor
from vigil.events.queries import EventQueries
from vigil.events.reports import Reports, ReportScheduler
from vigil.events.views import StackyViews
from vigil.events.writer import SCHEMAS, EventWriter
from vigil.storage import events_schema
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryStore
from vigil.storage.wal import SegmentLog

log = logging.getLogger(__name__)
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class Message:
    """One AMQP delivery: its body, routing key and exchange."""

    body: bytes
    routing_key: str
    exchange: str


class Events:
    def __init__(self, settings: Settings, telemetry: TelemetryStore, metadata: MetadataDB,
                 registry: CollectorRegistry) -> None:
        self.settings = settings
        self.telemetry = telemetry
        self.deployments = Deployments(metadata, limit=settings.events_max_deployments)
        self.processor = LifecycleProcessor(telemetry, metadata, on_failure=self._storage_failed)
        wal = SegmentLog(settings.data_dir / "wal" / "events", SCHEMAS, fsync=settings.fsync)
        self.writer = EventWriter(telemetry, wal, flush_rows=settings.events_flush_rows,
                                  flush_interval=settings.flush_interval, max_pending=settings.events_max_pending,
                                  dedup_window=settings.events_dedup_window, wait_timeout=settings.max_pending_wait,
                                  on_loaded=self.processor.notify, on_failure=self._storage_failed)
        self.queries = EventQueries(telemetry, metadata)
        self.views = StackyViews(self.queries, self.deployments, max_rows=settings.stacky_max_rows,
                                 raw_barrier=self.writer.sync, derived_barrier=self.sync)
        self.reports = Reports(telemetry, metadata, self.deployments, percentile=settings.events_report_percentile,
                               too_long=settings.events_report_too_long, barrier=self.writer.sync)
        self.scheduler = ReportScheduler(self.reports, interval=settings.events_report_interval,
                                         delay=settings.events_report_delay, regions=settings.events_report_regions,
                                         retention=settings.events_retention,
                                         report_retention=settings.events_report_retention)
        self.notifications = Counter("vigil_events_notifications", "Notifications received, by source and outcome",
                                     ["source", "outcome"], registry=registry)
        self.storage_errors = Counter("vigil_events_storage_errors", "Failed event storage statements",
                                      registry=registry)
        pending = Gauge("vigil_events_pending_rows", "Notifications not yet loaded into the engine",
                        registry=registry)
        pending.set_function(lambda: self.writer.pending_rows)

    def _storage_failed(self) -> None:
        self.storage_errors.inc()

    async def start(self) -> None:
        await self.deployments.load()
        await events_schema.apply_retention(self.telemetry, self.settings.events_retention, self.settings.fsync)
        await self.writer.recover()
        self.writer.start()
        await self.processor.start(self.writer.loaded_id)
        self.scheduler.start()

    async def close(self) -> None:
        await self.scheduler.close()
        await self.writer.close()
        await self.processor.close()

    async def sync(self) -> None:
        """A read barrier for derived data: every notification acknowledged so far is folded in (or,
        if folding is stuck, as much as is after `max_pending_wait`: a view answers late, not never)."""
        await self.writer.sync()
        try:
            async with asyncio.timeout(self.settings.max_pending_wait):
                await self.processor.sync(self.writer.loaded_id)
        except TimeoutError:
            log.warning("timings are behind: %d of %d notifications folded", self.processor.processed_id,
                        self.writer.loaded_id)

    # -- ingest -------------------------------------------------------------------------------------

    async def ingest_http(self, data: Any, *, deployment: str, service: str | None,
                          routing_key: str | None) -> list[int]:
        """Store one notification or a list of them, all or none; returns their ids (a notification
        already stored, by message_id, gets the id it was stored under). ParamsError for bad input."""
        if service is not None and service not in KINDS:
            raise ParamsError({"service": [f"must be one of {', '.join(KINDS)}"]})
        if routing_key is not None and not valid_routing_key(routing_key):
            raise ParamsError({"routing_key": ["must be 1-255 letters, digits or . _ - : # * / +"]})
        items = data if isinstance(data, list) else [data]
        if not items:
            raise ParamsError({"notifications": ["must not be empty"]})
        limit = self.settings.events_max_notifications_per_request
        if len(items) > limit:
            raise ParamsError({"notifications": [f"at most {limit} notifications per request"]})
        deployment_id = await self.deployments.ensure(deployment)
        rows = []
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(items):
            try:
                body = unwrap(item)
                event_type = body.get("event_type")
                kind = service or kind_for_event(event_type if isinstance(event_type, str) else "")
                rows.append(extract(body, deployment=deployment_id, routing_key=routing_key or routing_key_for(body),
                                    kind=kind))
            except Malformed as exc:
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors[f"notifications[{index}]" if isinstance(data, list) else "notification"] = [str(exc)]
                else:
                    errors.setdefault("notifications", ["more notifications are malformed"])
        if errors:
            self.notifications.labels("http", "malformed").inc(len(items) - len(rows))
            raise ParamsError(errors)
        ids = await self.writer.write(rows)
        self.notifications.labels("http", "stored").inc(len(rows))
        return ids

    async def ingest_messages(self, deployment_id: int, messages: list[Message]) -> int:
        """Store a batch of AMQP deliveries; malformed ones are logged, counted and skipped (the
        caller acknowledges them with the rest). Returns how many were malformed."""
        rows = []
        malformed = 0
        for message in messages:
            try:
                body = unwrap(decode(message.body))
                event_type = body.get("event_type")
                kind = kind_for_exchange(message.exchange, event_type if isinstance(event_type, str) else "")
                rows.append(extract(body, deployment=deployment_id, routing_key=message.routing_key, kind=kind))
            except Malformed as exc:
                malformed += 1
                # The reason only: a body may carry credentials.
                log.warning("malformed notification from %s (%s, %d bytes) acknowledged and dropped: %s",
                            self.deployments.name(deployment_id), message.routing_key, len(message.body), exc)
        if malformed:
            self.notifications.labels("amqp", "malformed").inc(malformed)
        if rows:
            await self.writer.write(rows)
            self.notifications.labels("amqp", "stored").inc(len(rows))
        return malformed
