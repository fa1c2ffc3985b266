"""`pagerduty`: Events API v2 — `trigger` and `resolve` with one dedup key per alert.

The integration key is `settings.service_key` (the original service's name for it) or
`settings.routing_key`; the endpoint is Vigil's `pagerduty_events_url` setting.
"""

from __future__ import annotations

from typing import Any

from vigil.alerts.model import Service
from vigil.alerts.notify.context import Context
from vigil.alerts.notify.http import post_json
from vigil.alerts.notify.message import CLEAR, Notification, headline, iso, violation_line, webhook_payload

TYPE = "pagerduty"
SEVERITIES = ("critical", "error", "warning", "info")


def check(settings: dict[str, Any]) -> list[str]:
    errors = []
    key = settings.get("service_key", settings.get("routing_key"))
    if not isinstance(key, str) or not key.strip() or len(key) > 255:
        errors.append("service_key (the integration key) is required")
    severity = settings.get("severity")
    if severity is not None and severity not in SEVERITIES:
        errors.append("severity must be one of " + ", ".join(SEVERITIES))
    return errors


def dedup_key(n: Notification) -> str:
    return f"vigil-alert-{n.alert.id}"


def event(service: Service, n: Notification) -> dict[str, Any]:
    key = service.settings.get("service_key", service.settings.get("routing_key"))
    if n.kind == CLEAR:
        return {"routing_key": key, "event_action": "resolve", "dedup_key": dedup_key(n)}
    summary = headline(n)
    if n.violations:
        summary += ": " + violation_line(n.violations[0])
    body: dict[str, Any] = {
        "routing_key": key, "event_action": "trigger", "dedup_key": dedup_key(n), "client": "Vigil",
        "payload": {"summary": summary[:1024], "source": n.account, "severity": service.settings.get(
            "severity", "critical"), "timestamp": iso(n.at), "component": n.alert.name,
            "custom_details": webhook_payload(n)},
    }
    if n.alert.runbook_url:
        body["links"] = [{"href": n.alert.runbook_url, "text": "Runbook"}]
    return body


async def send(service: Service, n: Notification, ctx: Context) -> None:
    await post_json(ctx.client, ctx.pagerduty_url, event(service, n), ctx.timeout)
