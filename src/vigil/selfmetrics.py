"""Vigil's own metrics, served at /metrics in the Prometheus text format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SelfMetrics:
    """One registry per server instance (tests run several in one process)."""

    def __init__(self) -> None:
        # Collectors without describe() are still asked when /metrics?name[]=… restricts the output.
        self.registry = CollectorRegistry(support_collectors_without_names=True)
        r = self.registry
        self.requests = Counter("vigil_http_requests", "HTTP requests answered", ["route", "method", "status"],
                                registry=r)
        self.latency = Histogram("vigil_http_request_duration_seconds", "HTTP request latency", ["route"],
                                 registry=r, buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.measurements = Counter("vigil_measurements", "Measurements received by outcome", ["outcome"],
                                    registry=r)
        self.batch_rows = Histogram("vigil_ingest_batch_rows", "Rows per storage INSERT", registry=r,
                                    buckets=(1, 10, 100, 1_000, 10_000, 50_000, 100_000, 500_000))
        self.flush_seconds = Histogram("vigil_ingest_flush_seconds", "Time per storage INSERT", registry=r,
                                       buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        self.pending_rows = Gauge("vigil_ingest_pending_rows", "Measurements queued for the next INSERT",
                                  registry=r)
        self.storage_errors = Counter("vigil_storage_errors", "Failed storage statements", ["engine"], registry=r)
        self.series_cache = Gauge("vigil_series_cache_entries", "Series resolved in the ingest cache", registry=r)
        self.recent_rows = Gauge("vigil_recent_samples_rows", "Measurements held in memory for queries", registry=r)
        self.recent_since = Gauge("vigil_recent_samples_since_seconds",
                                  "Queries from this time on are answered from memory (Unix seconds)", registry=r)
        # Alerts: samples by outcome (queued, evaluated, dropped), trigger/clear events, deliveries by
        # service type and outcome (delivered, retried, failed, dropped).
        self.alert_samples = Counter("vigil_alert_samples", "Samples seen by the alert evaluator", ["outcome"],
                                     registry=r)
        self.alert_queue_rows = Gauge("vigil_alert_queue_rows", "Samples waiting for alert evaluation", registry=r)
        self.alert_evaluation_seconds = Histogram("vigil_alert_evaluation_seconds", "Time per evaluation batch",
                                                  registry=r, buckets=(.0005, .001, .005, .01, .05, .1, .5, 1, 5))
        self.alert_errors = Counter("vigil_alert_evaluation_errors", "Failed alert evaluations", registry=r)
        self.alert_events = Counter("vigil_alert_events", "Alerts triggered and cleared", ["event"], registry=r)
        self.alerts_firing = Gauge("vigil_alerts_firing", "Alerts firing now", registry=r)
        self.alert_notifications = Counter("vigil_alert_notifications", "Notification deliveries by outcome",
                                           ["type", "outcome"], registry=r)
        self.alert_notification_delay = Histogram(
            "vigil_alert_notification_delay_seconds", "From the arrival of the data that triggered an alert to the "
            "delivery of its notification", registry=r, buckets=(.05, .1, .25, .5, 1, 2, 5, 10, 30, 60))

    def render(self, names: list[str] | None = None) -> bytes:
        """Every metric, or only the named series (`/metrics?name[]=…`, as Prometheus' own clients
        serve it): a poller then does not pay for rendering every log drain's series."""
        return generate_latest(self.registry.restricted_registry(names) if names else self.registry)
