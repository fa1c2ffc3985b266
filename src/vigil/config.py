"""Settings: defaults, overridden by a TOML file, then the environment, then command-line flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DAY = 86_400


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./vigil-data")
    admin_token: str | None = None
    syslog_port: int = 5140  # application logs over syslog TCP; 0: off

    # Engines. The embedded defaults need nothing but the data dir.
    metadata_url: str | None = None  # default: sqlite in the data dir; postgresql+asyncpg://… to scale out

    # Retention per tier, in seconds.
    raw_retention: int = 7 * DAY
    rollup_1m_retention: int = 30 * DAY
    rollup_1h_retention: int = 365 * DAY

    # Ingest.
    max_body_bytes: int = 10 * 1024 * 1024
    max_measurements_per_request: int = 100_000
    past_window: int | None = None  # default: the raw retention (backfill anything still kept)
    future_window: int = 600
    # The write-ahead log is loaded into the engine when it holds this many rows, or this old.
    flush_rows: int = 250_000
    flush_interval: float = 1.0
    max_pending_rows: int = 2_000_000
    max_pending_wait: float = 30.0  # how long a request waits for room before it gets a 503
    series_cache_limit: int = 2_000_000
    series_index_limit: int = 1_000_000  # series held in memory for tag filters (docs/architecture.md)
    recent_samples_rows: int = 2_000_000  # newest measurements held in memory for queries (~80 bytes each); 0: off

    # Queries.
    rollup_interval: float = 30.0
    max_query_series: int = 10_000
    max_query_points: int = 1_000_000
    fsync: bool = False

    # Rate limits: requests per window per token (std) and for the whole organization (agg).
    rate_limit_std: int = 20_000
    rate_limit_agg: int = 200_000
    rate_limit_window: int = 60

    # Metadata API.
    metrics_bulk_job_threshold: int = 100

    # GET /v1/organization. The seed types the id as a string (alphanumeric).
    organization_id: str = "1"
    organization_name: str = "vigil"

    # Dashboards, annotations, snapshots.
    max_charts_per_space: int = 500
    max_streams_per_chart: int = 100
    chart_data_max_series: int = 500  # series in one GET …/charts/:id/data or one snapshot
    chart_data_max_points: int = 5_000  # points per series: (end - start) / resolution
    annotation_max_events: int = 10_000  # events in one GET /v1/annotations/:name
    snapshot_width: int = 800
    snapshot_height: int = 400
    snapshot_max_side: int = 2_000  # largest width or height a snapshot may ask for
    snapshot_max_pending: int = 8  # snapshots being rendered or waiting; more get a 503
    snapshot_keep: int = 1_000  # the oldest snapshots (and their images) beyond this are deleted

    # Platform events (StackTach). Each AMQP deployment is "NAME=amqp://user:pass@host:port/vhost".
    amqp_deployments: list[str] = field(default_factory=list)
    amqp_exchanges: list[str] = field(default_factory=lambda: ["nova", "glance"])
    amqp_routing_keys: list[str] = field(default_factory=lambda: ["notifications.info", "notifications.error"])
    amqp_queue_prefix: str = "vigil"
    amqp_durable: bool = True
    amqp_prefetch: int = 2_000  # unacknowledged deliveries per deployment (stored in batches of half)
    amqp_reconnect_max: float = 30.0  # longest pause between reconnection attempts, in seconds
    events_retention: int = 90 * DAY
    events_flush_rows: int = 50_000
    events_max_pending: int = 500_000
    events_dedup_window: int = 100_000  # recent message_ids remembered to drop redeliveries
    events_max_notifications_per_request: int = 10_000
    events_max_deployments: int = 1_000
    stacky_max_rows: int = 1_000  # rows of the unpaginated stacky views (events, hosts, watch …)
    events_report_interval: int = 3_600  # seconds; 0: no scheduled reports
    events_report_delay: int = 300  # wait this long after a period ends for late notifications
    events_report_regions: list[str] = field(default_factory=list)  # empty: all + each deployment
    events_report_percentile: int = 97
    events_report_too_long: int = 1_800
    events_report_retention: int = 400 * DAY

    # Application logs (docs/logs.md). `syslog_port` / `grpc_port`: 0 turns that listener off.
    # `listeners`: "on" opens them on their ports (`vigil serve`: config.load's default), "ephemeral"
    # on ports the OS picks (tests, benchmarks), "off" not at all (the bare Settings() default, so
    # that servers built in-process open no ports unless asked).
    grpc_port: int = 8082
    listeners: str = "off"
    public_url: str | None = None  # base of log-session URLs; default: the URL the request came to
    syslog_tls_cert: str | None = None  # PEM files: with both set, the syslog listener speaks TLS
    syslog_tls_key: str | None = None
    log_max_connections: int = 1_000  # syslog connections and gRPC streams, each
    log_max_line_bytes: int = 64 * 1024  # longer syslog frames are skipped; longer lines truncated
    log_syslog_workers: int = 2  # processes that read and parse syslog connections; 0: the event loop does
    log_syslog_batch_lines: int = 4_096  # a worker reports at least this often (lines)
    log_syslog_worker_bytes: int = 8 * 1024 * 1024  # a worker's unsent reports; beyond it lines are dropped
    log_syslog_worker_nice: int = 10  # workers yield the CPU to the server's event loop (0..19 added)
    log_retention: int = 6 * 3_600  # history in the telemetry engine
    log_recent_lines: int = 1_000  # per app, in memory
    log_recent_bytes: int = 1024 * 1024  # per app, in memory
    log_recent_apps: int = 10_000  # apps with an in-memory ring; the least recently written goes
    log_pending_lines: int = 1_000_000  # waiting for the engine; beyond it the oldest are dropped
    log_pending_bytes: int = 256 * 1024 * 1024  # likewise, in message bytes (+256 a line)
    log_flush_lines: int = 200_000
    log_flush_interval: float = 0.5
    log_subscriber_lines: int = 10_000  # per live tail; a slow reader loses its oldest lines
    log_subscriber_bytes: int = 16 * 1024 * 1024  # per live tail, likewise
    log_tail_linger: float = 0.02  # a busy tail writes at most once per this many seconds (0: at once)
    log_session_ttl: int = 300  # an unused log-session URL expires after this many seconds
    log_sessions_max: int = 10_000  # unused log-session URLs at a time
    log_tails_max: int = 1_000  # streaming readers (log sessions, /v2/read) at a time
    log_sse_heartbeat: float = 10.0
    log_read_max_apps: int = 10_000  # sources listed by /api/v1/meta
    logplex_frame_ids: int = 10_000  # recent Logplex-Frame-Ids remembered to drop retries
    log_metrics_pending: int = 100_000  # gRPC counters/gauges waiting for the metrics store
    build_max_lines: int = 20_000  # per build; beyond it the oldest lines go
    builds_per_app: int = 100  # the oldest builds of an app beyond this are deleted
    site_max_apps: int = 500
    log_name_cache: int = 100_000  # app names remembered as known / valid (cleared when full)

    # Log drains (docs/drains.md).
    drains_per_app: int = 10  # per app, and per site
    drains_max: int = 1_000  # on the whole server
    drain_buffer_lines: int = 1_024  # per drain (Logplex's drain buffer); the oldest are dropped beyond it
    drain_buffer_bytes: int = 4 * 1024 * 1024  # per drain, likewise (a line weighs its message + 256)
    drain_write_buffer_bytes: int = 64 * 1024  # per connection (and its kernel send buffer), besides one batch
    drain_linger: float = 0.05  # a busy syslog drain writes at most once per this many seconds (0: at once)
    drain_connect_timeout: float = 10.0
    drain_write_timeout: float = 30.0  # a write stuck this long (a receiver that never reads) drops the connection
    drain_backoff_min: float = 0.5  # first wait before reconnecting / retrying; doubled each time
    drain_backoff_max: float = 60.0
    drain_notice_interval: float = 10.0  # at most one L10 notice per drain per this many seconds
    drain_refresh: float = 10.0  # drains and site members re-read from the database
    drain_http_batch_bytes: int = 102_400  # logplex-1 batch target (Logplex's)
    drain_http_linger: float = 0.25  # a batch waits at most this long to fill up
    drain_http_timeout: float = 30.0
    drain_http_attempts: int = 5  # sends of one batch before it is dropped
    drain_http_response_bytes: int = 64 * 1024  # what is read of a receiver's answer (the rest is not)
    drain_udp_max_bytes: int = 8_192  # longer syslog+udp messages are cut
    drain_ca_file: str | None = None  # PEM certificates trusted by every TLS drain, besides the system's
    drain_ca_max_bytes: int = 64 * 1024  # a drain's own tls_ca
    drain_channel_bytes: int = 128 * 1024 * 1024  # unwritten lines to the delivery process; beyond: not sent, counted
    drain_feed_lines: int = 65_536  # lines of drained apps in one message to the delivery process (more: more messages)
    drain_message_bytes: int = 16 * 1024 * 1024  # worker reports' bytes in one message (more: more messages)
    drain_stats_interval: float = 1.0  # the delivery process reports every drain's counters this often
    drain_process_nice: int = 10  # the delivery process's nice value: ingest has the CPU first (0: same as the server)
    drain_process_idle: bool = True  # the delivery process as SCHED_IDLE: only CPU that ingest leaves (else nice)
    drain_yield_busy: float = 0.75  # lines wait while other processes keep more than this share of the CPUs busy
    drain_yield_max: float = 2.0  # ... for at most this many seconds (0: never wait for the machine)

    # Alerts (docs/alerts.md): the SMTP server `mail` services send through, and the evaluator's bounds.
    smtp_host: str | None = None  # unset: `mail` deliveries fail (visibly, in the alert's status)
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "vigil@localhost"
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    max_alerts: int = 10_000
    max_services: int = 1_000
    alert_queue_rows: int = 1_000_000  # samples waiting for evaluation; beyond it they are dropped (counted)
    alert_streams_per_condition: int = 10_000  # matching streams past this are ignored (shown in the status)
    alert_series_cache: int = 200_000  # series whose tags the evaluator keeps
    alert_history_per_alert: int = 100
    alert_recent_clear: int = DAY  # GET /v1/alerts/status lists alerts cleared this recently
    alert_delivery_queue: int = 10_000
    alert_delivery_workers: int = 4
    alert_delivery_attempts: int = 5
    alert_delivery_backoff: float = 1.0  # seconds before the first retry; doubled each time
    alert_delivery_timeout: float = 10.0

    # Prometheus metrics in (docs/prometheus.md). Each scrape target is a URL, or (in the TOML file)
    # a table {url, job, interval, timeout, labels}; more can be added through /v1/scrape_targets.
    scrape_targets: list[str] = field(default_factory=list)
    scrape_interval: float = 15.0  # seconds; a target's default
    scrape_timeout: float = 10.0  # seconds; a target's default (at most its interval)
    scrape_max_targets: int = 1_000  # configured and API targets together
    scrape_sample_limit: int = 50_000  # samples in one scrape; more fails the scrape (up = 0)
    scrape_max_body_bytes: int = 16 * 1024 * 1024  # one scrape's response, decompressed
    remote_write_max_body_bytes: int = 32 * 1024 * 1024  # one remote-write request, decompressed
    remote_write_max_samples: int = 100_000  # samples in one remote-write request
    prom_series_cache: int = 200_000  # label sets whose mapping to metric and tags is remembered
    prom_lookback: int = 300  # seconds an instant value looks back (Prometheus' lookback delta)
    fn_stats_max_points: int = 11_000  # steps in one Fn statistics answer (Prometheus' own limit)
    app_metrics_max_points: int = 11_000  # resolution steps in one /apps/{app}/metrics answer

    # The browser UI (docs/web.md): the folder with index.html, src/ and node_modules/ (`npm ci`);
    # default: the `web` folder of the source tree this package runs from.
    web_dir: str | None = None

    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted_past(self) -> int:
        return self.past_window if self.past_window is not None else self.raw_retention

    @property
    def metadata_dsn(self) -> str:
        return self.metadata_url or f"sqlite+aiosqlite:///{self.data_dir / 'metadata.sqlite3'}"


ENV_PREFIX = "VIGIL_"
_FIELDS = {f.name: f for f in fields(Settings) if f.name != "extra"}


_LISTS = {"amqp_deployments", "amqp_exchanges", "amqp_routing_keys", "events_report_regions"}


def _as_list(value: Any) -> list[str]:
    """A list setting: a TOML array (an AMQP deployment may be a {name, url} table) or, from the
    environment, items separated by commas or whitespace."""
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list, not {value!r}")
    return [f"{v['name']}={v['url']}" if isinstance(v, dict) else str(v) for v in value]


def _scrape_list(value: Any) -> list[str]:
    """Scrape targets: URLs (the environment: separated by commas or whitespace), or TOML tables
    kept as their JSON text; vigil.prom.targets reads both."""
    import json

    if isinstance(value, str):
        return _as_list(value)
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of scrape targets, not {value!r}")
    return [json.dumps(v) if isinstance(v, dict) else str(v) for v in value]


def _coerce(name: str, value: Any) -> Any:
    if name == "scrape_targets":
        return _scrape_list(value)
    if name in _LISTS:
        return _as_list(value)
    default = getattr(Settings, name, None)
    kind = type(default) if default is not None else str
    if name == "data_dir":
        return Path(value)
    if name == "past_window":
        return None if value in (None, "") else int(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, float):
        return kind(value)
    return None if value is None else str(value)


class ConfigError(ValueError):
    pass


def load(config_file: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> Settings:
    """Build Settings: defaults < TOML file < VIGIL_* environment < explicit overrides (flags)."""
    values: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        unknown = {}
        for key, value in data.items():
            name = key.replace("-", "_")
            if name in _FIELDS:
                values[name] = value
            else:
                unknown[key] = value
        values["extra"] = unknown
    env = os.environ if environ is None else environ
    for name in _FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    values.setdefault("listeners", "on")  # a configured server listens; a bare Settings() does not
    try:
        coerced = {k: (v if k == "extra" else _coerce(k, v)) for k, v in values.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad setting: {exc}") from exc
    settings = Settings(**coerced)
    _check(settings)
    return settings


def amqp_deployments(s: Settings) -> list[tuple[str, str]]:
    """(name, URL) of each configured AMQP deployment."""
    pairs = []
    for item in s.amqp_deployments:
        name, _, url = item.partition("=")
        pairs.append((name.strip(), url.strip()))
    return pairs


def _check_events(s: Settings) -> None:
    for name, url in amqp_deployments(s):
        if not name or not url.startswith(("amqp://", "amqps://")):
            raise ConfigError("each AMQP deployment must be NAME=amqp://user:pass@host:port/vhost")
    if len({name for name, _ in amqp_deployments(s)}) != len(s.amqp_deployments):
        raise ConfigError("AMQP deployment names must be unique")
    for name in ("amqp_prefetch", "amqp_reconnect_max", "events_retention", "events_flush_rows",
                 "events_max_pending", "events_max_notifications_per_request", "events_max_deployments",
                 "stacky_max_rows", "events_report_too_long", "events_report_retention"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    for name in ("events_dedup_window", "events_report_interval", "events_report_delay"):
        if getattr(s, name) < 0:
            raise ConfigError(f"{name} must not be negative")
    if not 1 <= s.events_report_percentile <= 99:
        raise ConfigError("events_report_percentile must be between 1 and 99")


def _check_logs(s: Settings) -> None:
    if s.listeners not in ("on", "off", "ephemeral"):
        raise ConfigError("listeners must be on, off or ephemeral")
    if s.log_tail_linger < 0:
        raise ConfigError("log_tail_linger must not be negative")
    if s.log_syslog_workers < 0:
        raise ConfigError("log_syslog_workers must not be negative")
    if not 0 <= s.log_syslog_worker_nice <= 19:
        raise ConfigError("log_syslog_worker_nice must be between 0 and 19")
    if bool(s.syslog_tls_cert) != bool(s.syslog_tls_key):
        raise ConfigError("syslog_tls_cert and syslog_tls_key go together")
    for name in ("log_max_connections", "log_max_line_bytes", "log_retention", "log_recent_lines",
                 "log_recent_bytes", "log_recent_apps", "log_pending_lines", "log_flush_lines", "log_flush_interval",
                 "log_subscriber_lines", "log_subscriber_bytes", "log_pending_bytes", "log_session_ttl",
                 "log_sessions_max", "log_tails_max", "log_sse_heartbeat",
                 "log_read_max_apps", "logplex_frame_ids", "log_metrics_pending", "build_max_lines", "builds_per_app",
                 "site_max_apps", "log_name_cache", "log_syslog_batch_lines", "log_syslog_worker_bytes"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")


def _check_alerts(s: Settings) -> None:
    if not 0 < s.smtp_port <= 65535:
        raise ConfigError("smtp_port must be a TCP port (1-65535)")
    if not s.pagerduty_events_url.startswith(("http://", "https://")):
        raise ConfigError("pagerduty_events_url must be an http(s) URL")
    for name in ("max_alerts", "max_services", "alert_queue_rows", "alert_streams_per_condition",
                 "alert_series_cache", "alert_history_per_alert", "alert_recent_clear", "alert_delivery_queue",
                 "alert_delivery_workers", "alert_delivery_attempts", "alert_delivery_backoff",
                 "alert_delivery_timeout"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")


def _check_prom(s: Settings) -> None:
    for name in ("scrape_interval", "scrape_timeout", "scrape_max_targets", "scrape_sample_limit",
                 "scrape_max_body_bytes", "remote_write_max_body_bytes", "remote_write_max_samples",
                 "prom_series_cache", "prom_lookback", "fn_stats_max_points", "app_metrics_max_points"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    from vigil.prom.targets import TargetError, configured_targets

    try:
        configured_targets(s)
    except TargetError as exc:
        raise ConfigError(f"scrape_targets: {exc}") from exc


def _check_drains(s: Settings) -> None:
    for name in ("drains_per_app", "drains_max", "drain_buffer_lines", "drain_buffer_bytes",
                 "drain_write_buffer_bytes", "drain_connect_timeout", "drain_write_timeout", "drain_backoff_min",
                 "drain_notice_interval", "drain_refresh", "drain_http_batch_bytes", "drain_http_timeout",
                 "drain_http_attempts", "drain_http_response_bytes", "drain_ca_max_bytes", "drain_channel_bytes",
                 "drain_feed_lines", "drain_message_bytes", "drain_stats_interval"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if not 0 <= s.drain_process_nice <= 19:
        raise ConfigError("drain_process_nice must be between 0 and 19")
    if s.drain_backoff_max < s.drain_backoff_min:
        raise ConfigError("drain_backoff_max must be at least drain_backoff_min")
    if not 0 <= s.drain_yield_busy <= 1:
        raise ConfigError("drain_yield_busy must be between 0 and 1")
    if s.drain_http_linger < 0 or s.drain_linger < 0 or s.drain_yield_max < 0:
        raise ConfigError("drain_linger, drain_http_linger and drain_yield_max must not be negative")
    if not 480 <= s.drain_udp_max_bytes <= 65_507:
        raise ConfigError("drain_udp_max_bytes must be between 480 and 65507 (RFC 5426)")
    if s.drain_ca_file and not Path(s.drain_ca_file).is_file():
        raise ConfigError(f"drain_ca_file {s.drain_ca_file} is not a file")


def _check(s: Settings) -> None:
    _check_drains(s)
    _check_events(s)
    _check_logs(s)
    _check_alerts(s)
    _check_prom(s)
    for name in ("port", "syslog_port", "grpc_port"):
        if not 0 <= getattr(s, name) <= 65535:
            raise ConfigError(f"{name} must be a TCP port (0-65535)")
    if s.recent_samples_rows < 0:
        raise ConfigError("recent_samples_rows must not be negative")
    for name in ("raw_retention", "rollup_1m_retention", "rollup_1h_retention", "max_body_bytes",
                 "flush_rows", "flush_interval", "max_pending_rows", "rate_limit_std", "rate_limit_agg",
                 "rate_limit_window", "max_measurements_per_request", "max_query_series", "max_query_points",
                 "series_index_limit", "rollup_interval", "max_charts_per_space",
                 "max_streams_per_chart", "chart_data_max_series", "chart_data_max_points", "annotation_max_events",
                 "snapshot_width", "snapshot_height", "snapshot_max_side", "snapshot_max_pending", "snapshot_keep"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")
