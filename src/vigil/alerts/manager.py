"""What the API calls: alert and service CRUD, status and clear, kept in step with the evaluator."""

from __future__ import annotations

import time
from typing import Any

from vigil.alerts.delivery import Deliverer, make_context
from vigil.alerts.engine import AlertEngine, EngineLimits
from vigil.alerts.model import Alert, Service, ServiceSpec
from vigil.alerts.notify.context import SmtpConfig
from vigil.alerts.store import AlertStore
from vigil.alerts.validation import as_int, parse_alert, parse_service
from vigil.config import Settings
from vigil.errors import NotFound, ParamsError, param_error
from vigil.metrics.writer import SampleWriter
from vigil.selfmetrics import SelfMetrics
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryStore

STATUS_HISTORY = 20


class AlertManager:
    def __init__(self, settings: Settings, db: MetadataDB, telemetry: TelemetryStore, writer: SampleWriter,
                 metrics: SelfMetrics) -> None:
        self.settings = settings
        self.store = AlertStore(db)
        smtp = SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password,
                          settings.smtp_starttls, settings.smtp_from)
        self._smtp = smtp
        self._metrics = metrics
        self._writer = writer
        self._telemetry = telemetry
        self.deliverer: Deliverer | None = None
        self.engine: AlertEngine | None = None

    def observe(self, samples: Any) -> None:
        if self.engine is not None:
            self.engine.observe(samples)

    async def start(self) -> None:
        s = self.settings
        context = make_context(timeout=s.alert_delivery_timeout, smtp=self._smtp,
                               pagerduty_url=s.pagerduty_events_url)
        self.deliverer = Deliverer(context, self._metrics, queue_limit=s.alert_delivery_queue,
                                   workers=s.alert_delivery_workers, attempts=s.alert_delivery_attempts,
                                   backoff=s.alert_delivery_backoff, on_outcome=self._delivered)
        limits = EngineLimits(queue_rows=s.alert_queue_rows, streams_per_condition=s.alert_streams_per_condition,
                              series_cache=s.alert_series_cache, history_per_alert=s.alert_history_per_alert)
        self.engine = AlertEngine(self.store, self._telemetry, self._writer, self._metrics, self.deliverer, limits,
                                  s.organization_name)
        await self.engine.start()
        self.deliverer.start()

    def _delivered(self, *args: Any) -> None:
        if self.engine is not None:
            self.engine.record_delivery(*args)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.close()
        if self.deliverer is not None:
            await self.deliverer.close()

    @property
    def _engine(self) -> AlertEngine:
        assert self.engine is not None, "AlertManager.start() was not called"
        return self.engine

    # -- alerts -----------------------------------------------------------------------------------

    async def services_of(self, alerts: list[Alert]) -> dict[int, Service]:
        return await self.store.get_services({s for a in alerts for s in a.service_ids})

    async def get(self, ref: str) -> Alert:
        alert = await self.store.find_alert(ref)
        if alert is None:
            raise NotFound(f"Alert {ref[:255]} does not exist")
        return alert

    async def create(self, body: dict[str, Any]) -> Alert:
        spec = parse_alert(body)
        alert = await self.store.create_alert(spec, self.settings.max_alerts)
        await self._engine.upsert(alert)
        return alert

    async def update(self, ref: str, body: dict[str, Any]) -> Alert:
        current = await self.get(ref)
        spec = parse_alert(body, current)
        alert = await self.store.update_alert(current, spec)
        await self._engine.upsert(alert)
        return alert

    async def delete(self, ref: str) -> None:
        alert = await self.get(ref)
        await self._engine.remove(alert.id)
        await self.store.delete_alert(alert.id)

    async def list(self, name: str | None, offset: int, length: int, orderby: str, descending: bool
                   ) -> tuple[list[Alert], int, int]:
        return await self.store.list_alerts(name, offset, length, orderby, descending)

    async def add_service(self, ref: str, body: dict[str, Any]) -> tuple[Alert, Service]:
        alert = await self.get(ref)
        raw = body.get("service")
        service_id = as_int(raw.get("id") if isinstance(raw, dict) else raw)
        if service_id is None or service_id <= 0:
            raise param_error("service", "must be the id of a service")
        service = await self.store.get_service(service_id)
        if service is None:
            raise param_error("service", f"service {service_id} does not exist")
        if service_id not in alert.service_ids and len(alert.service_ids) >= 50:
            raise param_error("service", "an alert may notify at most 50 services")
        await self.store.link_service(alert.id, service_id)
        updated = await self.store.get_alert(alert.id)
        if updated is not None:
            await self._engine.upsert(updated)
        return alert, service

    async def remove_service(self, ref: str, service_ref: str) -> None:
        alert = await self.get(ref)
        service_id = as_int(service_ref) if service_ref.isdigit() else None
        if service_id is None or not await self.store.unlink_service(alert.id, service_id):
            raise NotFound(f"Service {service_ref[:40]} is not associated with alert {alert.id}")
        updated = await self.store.get_alert(alert.id)
        if updated is not None:
            await self._engine.upsert(updated)

    async def clear(self, ref: str) -> None:
        alert = await self.get(ref)
        await self._engine.clear(alert.id)

    async def status(self, ref: str) -> dict[str, Any]:
        alert = await self.get(ref)
        engine = self._engine
        state = engine.state_of(alert.id)
        out: dict[str, Any] = {"alert": {"id": alert.id}, "status": "triggered" if state and state.firing else "ok"}
        if state is not None:
            if state.firing:
                out["triggered_at"] = int(state.triggered_at or 0)
                out["violations"] = [{k: v for k, v in item.items() if k != "signal"} for item in state.violations]
            if state.cleared_at is not None:
                out["cleared_at"] = int(state.cleared_at)
                out["clear"] = state.clear_kind
            out["notifications"] = {"last_notified_at": int(state.last_notified_at) if state.last_notified_at
                                    else None,
                                    "failed": sum(d["failed"] for d in state.deliveries.values()),
                                    "services": state.deliveries}
        ignored = engine.ignored_streams(alert.id)
        if ignored:
            out["ignored_streams"] = ignored
        out["history"] = await engine.history(alert.id, STATUS_HISTORY)
        return out

    def statuses(self) -> dict[str, Any]:
        cutoff = time.time() - self.settings.alert_recent_clear
        firing: list[dict[str, Any]] = []
        cleared: list[dict[str, Any]] = []
        for alert_id, state in sorted(self._engine.states().items()):
            if state.firing:
                firing.append({"id": alert_id, "triggered_at": int(state.triggered_at or 0)})
            elif state.cleared_at is not None and state.cleared_at >= cutoff:
                cleared.append({"cleared_at": int(state.cleared_at), "id": alert_id})
        return {"cleared": cleared, "firing": firing}

    # -- services ---------------------------------------------------------------------------------

    async def get_service(self, ref: str) -> Service:
        service = await self.store.get_service(int(ref)) if ref.isdigit() and len(ref) < 16 else None
        if service is None:
            raise NotFound(f"Service {ref[:40]} does not exist")
        return service

    async def create_service(self, body: dict[str, Any]) -> Service:
        return await self.store.create_service(parse_service(body), self.settings.max_services)

    async def update_service(self, ref: str, body: dict[str, Any]) -> None:
        service = await self.get_service(ref)
        if not body:
            raise ParamsError({"title": ["give title, type or settings to change"]})
        spec = parse_service(body, ServiceSpec(service.type, service.title, service.settings))
        await self.store.update_service(service.id, spec)

    async def delete_service(self, ref: str) -> None:
        service = await self.get_service(ref)
        for alert_id in await self.store.delete_service(service.id):
            updated = await self.store.get_alert(alert_id)
            if updated is not None:
                await self._engine.upsert(updated)

    async def list_services(self, offset: int, length: int, orderby: str, descending: bool
                            ) -> tuple[list[Service], int, int]:
        return await self.store.list_services(offset, length, orderby, descending)
