"""`slack`: an incoming-webhook message (text + one attachment) to `settings.url`."""

from __future__ import annotations

from typing import Any

from vigil.alerts.model import Service
from vigil.alerts.notify.context import Context
from vigil.alerts.notify.http import check_url, post_json
from vigil.alerts.notify.message import CLEAR, Notification, describe, headline, violation_line

TYPE = "slack"
MAX_FIELDS = 20


def check(settings: dict[str, Any]) -> list[str]:
    return check_url(settings.get("url"))


def message(n: Notification) -> dict[str, Any]:
    alert = n.alert
    text = headline(n)
    attachment: dict[str, Any] = {"fallback": text, "title": alert.name, "footer": f"vigil · {n.account}",
                                  "ts": n.at}
    if alert.runbook_url:
        attachment["title_link"] = alert.runbook_url
    if n.kind == CLEAR:
        attachment["color"] = "good"
    else:
        attachment["color"] = "danger"
        attachment["text"] = "\n".join([alert.description or "", *(describe(c.spec) for c in alert.conditions)]).strip()
        attachment["fields"] = [{"title": v.signal, "value": violation_line(v), "short": False}
                                for v in n.violations[:MAX_FIELDS]]
    return {"text": text, "attachments": [attachment]}


async def send(service: Service, n: Notification, ctx: Context) -> None:
    await post_json(ctx.client, service.settings["url"], message(n), ctx.timeout)
