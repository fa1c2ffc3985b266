"""Scrape targets: what one is, and how a configured or requested one is read and checked."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from vigil.metrics.names import TAG_VALUE

if TYPE_CHECKING:
    from vigil.config import Settings

LABEL_NAME = re.compile(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,63}\Z")
DEFAULT_JOB = "vigil"
MAX_URL = 2048
MAX_LABELS = 30
MAX_INTERVAL = 86_400.0
MIN_INTERVAL = 1.0  # samples are stored per second: scraping faster would only overwrite them


class TargetError(ValueError):
    """Bad target fields: {field: [reasons]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"{first[0]} {first[1][0]}")


@dataclass(frozen=True)
class TargetSpec:
    url: str
    job: str
    interval: float
    timeout: float
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        """Prometheus' `instance` label: the target's host:port (the port the scheme implies if none)."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "job": self.job, "interval": self.interval, "timeout": self.timeout,
                "labels": dict(self.labels)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_spec(data: Any, *, default_interval: float, default_timeout: float) -> TargetSpec:
    """A target from a JSON object (API) or TOML table (configuration); every bad field is named."""
    if not isinstance(data, dict):
        raise TargetError({"target": ["must be an object with a url"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - {"url", "job", "interval", "timeout", "labels"})
    if unknown:
        errors[unknown[0]] = ["is not a scrape target field (url, job, interval, timeout, labels)"]
    url = data.get("url")
    if not isinstance(url, str) or not url:
        errors["url"] = ["is required"]
    elif len(url) > MAX_URL:
        errors["url"] = [f"must be at most {MAX_URL} characters"]
    else:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            errors["url"] = ["must be an http:// or https:// URL with a host"]
    job = data.get("job", DEFAULT_JOB)
    if not isinstance(job, str) or not TAG_VALUE.match(job):
        errors["job"] = ["must be 1-255 characters of A-Za-z0-9 .:_-/?\\ and space"]
    interval = _number(data.get("interval", default_interval))
    if interval is None or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        errors["interval"] = [f"must be a number of seconds from {MIN_INTERVAL:g} to {MAX_INTERVAL:g}"]
    raw_timeout = data.get("timeout")
    timeout = _number(raw_timeout) if raw_timeout is not None else min(default_timeout, interval or default_timeout)
    if timeout is None or timeout <= 0:
        errors["timeout"] = ["must be a positive number of seconds"]
    elif interval is not None and timeout > interval:
        errors["timeout"] = ["must not be longer than the interval"]
    labels = data.get("labels", {})
    checked: dict[str, str] = {}
    if not isinstance(labels, dict):
        errors["labels"] = ["must be an object of label names to values"]
    elif len(labels) > MAX_LABELS:
        errors["labels"] = [f"must have at most {MAX_LABELS} labels"]
    else:
        for name, value in labels.items():
            if not isinstance(name, str) or not LABEL_NAME.match(name) or name.startswith("__"):
                errors["labels"] = [f"label name {str(name)[:80]!r} must match [a-zA-Z_][a-zA-Z0-9_]* "
                                    "(at most 64 characters, not starting with __)"]
                break
            if name == "job":
                errors["labels"] = ["must not set job (use the job field)"]
                break
            if not isinstance(value, str) or not TAG_VALUE.match(value):
                errors["labels"] = [f"label {name} must have a value of 1-255 characters of "
                                    "A-Za-z0-9 .:_-/?\\ and space"]
                break
            checked[name] = value
    if errors:
        raise TargetError(errors)
    assert isinstance(url, str) and interval is not None and timeout is not None
    return TargetSpec(url=url, job=str(job), interval=interval, timeout=timeout, labels=checked)


def configured_targets(settings: Settings) -> list[TargetSpec]:
    """The targets of the configuration: each item a URL or the JSON text of a table."""
    specs = []
    for i, item in enumerate(settings.scrape_targets):
        text = item.strip()
        data: Any = {"url": text}
        if text.startswith("{"):
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise TargetError({f"[{i}]": [f"is not a target table: {exc}"]}) from None
        try:
            specs.append(parse_spec(data, default_interval=settings.scrape_interval,
                                    default_timeout=settings.scrape_timeout))
        except TargetError as exc:
            raise TargetError({f"[{i}].{k}": v for k, v in exc.errors.items()}) from None
    keys = [(s.url, s.job) for s in specs]
    if len(set(keys)) != len(keys):
        raise TargetError({"scrape_targets": ["lists the same url and job twice"]})
    if len(specs) > settings.scrape_max_targets:
        raise TargetError({"scrape_targets": [f"has more than scrape_max_targets ({settings.scrape_max_targets})"]})
    return specs
