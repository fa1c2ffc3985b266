"""Alerts, their conditions and notification services, as the API shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ABOVE, BELOW, ABSENT = "above", "below", "absent"
CONDITION_TYPES = (ABOVE, BELOW, ABSENT)
SUMMARY_FUNCTIONS = ("min", "max", "average", "sum", "count", "derivative")
DEFAULT_REARM = 600


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Streams whose tag `name` matches one of `values` (`*` is a wildcard). `grouped` aggregates the
    matching streams over this tag instead of evaluating each value on its own."""

    name: str
    values: tuple[str, ...]
    grouped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "grouped": self.grouped, "values": list(self.values)}


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    type: str
    metric_name: str
    source: str | None = None  # legacy (Librato sources): stored and shown, not evaluated
    threshold: float | None = None
    duration: int | None = None
    summary_function: str | None = None
    detect_reset: bool = False
    tags: tuple[TagFilter, ...] = ()

    @property
    def metric_key(self) -> str:
        return self.metric_name.lower()

    @property
    def grouped(self) -> bool:
        return any(f.grouped for f in self.tags)

    def to_stored(self) -> dict[str, Any]:
        return {"type": self.type, "metric_name": self.metric_name, "source": self.source,
                "threshold": self.threshold, "duration": self.duration, "summary_function": self.summary_function,
                "detect_reset": self.detect_reset, "tags": [t.to_json() for t in self.tags]}

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> ConditionSpec:
        return cls(type=data["type"], metric_name=data["metric_name"], source=data.get("source"),
                   threshold=data.get("threshold"), duration=data.get("duration"),
                   summary_function=data.get("summary_function"), detect_reset=bool(data.get("detect_reset")),
                   tags=tuple(TagFilter(t["name"], tuple(t["values"]), bool(t["grouped"])) for t in data["tags"]))


@dataclass(frozen=True, slots=True)
class Condition:
    id: int
    spec: ConditionSpec
    created_at: float

    def to_json(self) -> dict[str, Any]:
        s = self.spec
        out: dict[str, Any] = {"id": self.id, "type": s.type, "metric_name": s.metric_name, "source": s.source}
        if s.type != ABSENT:
            out["threshold"] = s.threshold
            out["summary_function"] = s.summary_function
            out["detect_reset"] = s.detect_reset
        if s.duration is not None:
            out["duration"] = s.duration
        out["tags"] = [t.to_json() for t in s.tags]
        return out


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    type: str
    title: str
    settings: dict[str, Any]
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "settings": self.settings, "title": self.title}


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    name: str
    description: str | None
    conditions: tuple[Condition, ...]
    service_ids: tuple[int, ...]
    attributes: dict[str, Any]
    active: bool
    rearm_seconds: int
    rearm_per_signal: bool
    md: bool
    version: int
    created_at: float
    updated_at: float

    @property
    def runbook_url(self) -> str | None:
        url = self.attributes.get("runbook_url")
        return url if isinstance(url, str) else None

    def to_json(self, services: dict[int, Service]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "conditions": [c.to_json() for c in self.conditions],
            "services": [services[s].to_json() for s in self.service_ids if s in services],
            "attributes": self.attributes,
            "active": self.active,
            "created_at": int(self.created_at),
            "updated_at": int(self.updated_at),
            "version": self.version,
            "rearm_seconds": self.rearm_seconds,
            "rearm_per_signal": self.rearm_per_signal,
            "md": self.md,
        }


@dataclass(slots=True)
class AlertSpec:
    """A validated create or update: what the alert will be."""

    name: str
    description: str | None
    conditions: list[ConditionSpec]
    service_ids: list[int]
    attributes: dict[str, Any]
    active: bool
    rearm_seconds: int
    rearm_per_signal: bool
    md: bool
    version: int = 2


@dataclass(slots=True)
class ServiceSpec:
    type: str
    title: str
    settings: dict[str, Any] = field(default_factory=dict)
