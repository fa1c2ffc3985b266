"""An alert's evaluation state, kept in memory by the evaluator and saved to the metadata DB."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_SIGNALS = 1000  # rearm_per_signal: signals remembered per alert (the oldest are forgotten first)
MAX_VIOLATIONS = 100  # violations kept, shown and sent per notification


@dataclass(slots=True)
class AlertState:
    firing: bool = False
    triggered_at: float | None = None
    cleared_at: float | None = None
    clear_kind: str | None = None  # auto | manual | inactive
    last_notified_at: float | None = None
    notified: bool = False  # was the current firing episode announced?
    violations: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {"firing": self.firing, "triggered_at": self.triggered_at, "cleared_at": self.cleared_at,
                "clear_kind": self.clear_kind, "last_notified_at": self.last_notified_at, "notified": self.notified,
                "violations": self.violations, "signals": self.signals, "deliveries": self.deliveries}

    @classmethod
    def from_row(cls, row: Any) -> AlertState:
        return cls(firing=bool(row["firing"]), triggered_at=row["triggered_at"], cleared_at=row["cleared_at"],
                   clear_kind=row["clear_kind"], last_notified_at=row["last_notified_at"],
                   notified=bool(row["notified"]), violations=list(row["violations"] or []),
                   signals=dict(row["signals"] or {}), deliveries=dict(row["deliveries"] or {}))

    def remember_signal(self, key: str, at: float) -> None:
        self.signals.pop(key, None)
        self.signals[key] = at
        while len(self.signals) > MAX_SIGNALS:
            del self.signals[next(iter(self.signals))]

    def record_delivery(self, service_id: int, outcome: str, error: str | None, at: float) -> None:
        """`outcome`: delivered, retrying (an attempt failed, another will follow) or failed (given up)."""
        entry = self.deliveries.setdefault(str(service_id), {"delivered": 0, "failed": 0, "last_success_at": None,
                                                             "last_error": None, "last_error_at": None})
        if outcome == "delivered":
            entry["delivered"] += 1
            entry["last_success_at"] = int(at)
            return
        if outcome == "failed":
            entry["failed"] += 1
        entry["last_error"] = error
        entry["last_error_at"] = int(at)
