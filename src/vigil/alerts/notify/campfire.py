"""`campfire`: accepted because the seed creates one; the chat service it posted to no longer exists,
so every delivery fails visibly (recorded in the alert's status) instead of silently."""

from __future__ import annotations

from typing import Any

from vigil.alerts.model import Service
from vigil.alerts.notify.context import Context
from vigil.alerts.notify.message import DeliveryError, Notification

TYPE = "campfire"


def check(settings: dict[str, Any]) -> list[str]:
    return [f"{name} is required" for name in ("token", "room", "subdomain")
            if not isinstance(settings.get(name), str) or not settings[name]]


async def send(service: Service, n: Notification, ctx: Context) -> None:
    raise DeliveryError("campfire deliveries are not supported (the service no longer exists)", retry=False)
