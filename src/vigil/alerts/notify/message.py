"""What a notification says, independent of where it goes: the webhook JSON and a plain-text summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vigil.alerts.model import ABOVE, ABSENT, Alert, ConditionSpec

TRIGGER, CLEAR = "trigger", "clear"


@dataclass(frozen=True, slots=True)
class ViolationOut:
    condition_id: int
    metric: str
    signal: str  # the stream's tags as k=v,… (or the group's description)
    value: float | None
    recorded_at: int


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str  # trigger | clear
    alert: Alert
    at: int  # when the trigger or clear happened (epoch seconds)
    account: str
    violations: tuple[ViolationOut, ...] = ()
    clear: str | None = None  # auto | manual
    observed_at: float | None = field(default=None, compare=False)  # arrival of the data that caused it


class DeliveryError(Exception):
    """A failed delivery; `retry` says whether trying again may help (network, 5xx, 429)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def alert_ref(alert: Alert) -> dict[str, Any]:
    return {"id": alert.id, "name": alert.name, "runbook_url": alert.runbook_url, "version": alert.version}


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The original service's webhook format (see docs/alerts.md)."""
    if n.kind == CLEAR:
        return {"alert": alert_ref(n.alert), "account": n.account, "trigger_time": n.at, "clear": n.clear}
    violations: dict[str, list[dict[str, Any]]] = {}
    for v in n.violations:
        violations.setdefault(v.signal, []).append({"metric": v.metric, "value": v.value,
                                                    "recorded_at": v.recorded_at,
                                                    "condition_violated": v.condition_id})
    return {"alert": alert_ref(n.alert), "account": n.account, "trigger_time": n.at,
            "conditions": [c.to_json() for c in n.alert.conditions], "violations": violations}


def describe(spec: ConditionSpec) -> str:
    if spec.type == ABSENT:
        return f"{spec.metric_name} absent for {spec.duration}s"
    text = f"{spec.summary_function or 'average'} of {spec.metric_name} {'above' if spec.type == ABOVE else 'below'} " \
           f"{spec.threshold:g}"
    if spec.duration:
        text += f" for {spec.duration}s"
    return text


def headline(n: Notification) -> str:
    if n.kind == CLEAR:
        return f"Alert {n.alert.name} has cleared ({n.clear})"
    return f"Alert {n.alert.name} has triggered"


def violation_line(v: ViolationOut) -> str:
    value = "no data" if v.value is None else f"{v.value:g}"
    return f"{v.signal}: {v.metric} = {value} at {iso(v.recorded_at)} (condition {v.condition_id})"


def text_body(n: Notification, max_lines: int = 50) -> str:
    lines = [headline(n) + f" at {iso(n.at)}.", ""]
    if n.alert.description:
        lines += [n.alert.description, ""]
    if n.kind == TRIGGER:
        lines.append("Conditions:")
        lines += [f"  - {describe(c.spec)} (condition {c.id})" for c in n.alert.conditions]
        lines += ["", "Violations:"]
        lines += [f"  - {violation_line(v)}" for v in n.violations[:max_lines]]
        if len(n.violations) > max_lines:
            lines.append(f"  … and {len(n.violations) - max_lines} more")
    if n.alert.runbook_url:
        lines += ["", f"Runbook: {n.alert.runbook_url}"]
    lines += ["", f"Account: {n.account}"]
    return "\n".join(lines) + "\n"
