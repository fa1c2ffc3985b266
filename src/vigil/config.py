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
    # Reserved for the logs issue: accepted and validated now so deployments can set it early.
    syslog_port: int = 5140

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
    fsync: bool = False

    # Rate limits: requests per window per token (std) and for the whole organization (agg).
    rate_limit_std: int = 20_000
    rate_limit_agg: int = 200_000
    rate_limit_window: int = 60

    # Metadata API.
    metrics_bulk_job_threshold: int = 100

    organization_id: int = 1
    organization_name: str = "vigil"

    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted_past(self) -> int:
        return self.past_window if self.past_window is not None else self.raw_retention

    @property
    def metadata_dsn(self) -> str:
        return self.metadata_url or f"sqlite+aiosqlite:///{self.data_dir / 'metadata.sqlite3'}"


ENV_PREFIX = "VIGIL_"
_FIELDS = {f.name: f for f in fields(Settings) if f.name != "extra"}


def _coerce(name: str, value: Any) -> Any:
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
    try:
        coerced = {k: (v if k == "extra" else _coerce(k, v)) for k, v in values.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad setting: {exc}") from exc
    settings = Settings(**coerced)
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    for name in ("port", "syslog_port"):
        if not 0 <= getattr(s, name) <= 65535:
            raise ConfigError(f"{name} must be a TCP port (0-65535)")
    for name in ("raw_retention", "rollup_1m_retention", "rollup_1h_retention", "max_body_bytes",
                 "flush_rows", "flush_interval", "max_pending_rows", "rate_limit_std", "rate_limit_agg",
                 "rate_limit_window", "max_measurements_per_request"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")
