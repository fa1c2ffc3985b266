"""`webhook`: POST the alert as JSON to `settings.url`."""

from __future__ import annotations

from typing import Any

from vigil.alerts.model import Service
from vigil.alerts.notify.context import Context
from vigil.alerts.notify.http import check_url, post_json
from vigil.alerts.notify.message import Notification, webhook_payload

TYPE = "webhook"


def check(settings: dict[str, Any]) -> list[str]:
    return check_url(settings.get("url"))


async def send(service: Service, n: Notification, ctx: Context) -> None:
    await post_json(ctx.client, service.settings["url"], webhook_payload(n), ctx.timeout,
                    {"User-Agent": "vigil-alerts"})
