"""Notification service types: each module checks its settings and sends a Notification."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from vigil.alerts.model import Service
from vigil.alerts.notify import campfire, mail, pagerduty, slack, webhook
from vigil.alerts.notify.context import Context
from vigil.alerts.notify.message import Notification

_TYPES: dict[str, ModuleType] = {m.TYPE: m for m in (mail, webhook, slack, pagerduty, campfire)}

Sender = Callable[[Service, Notification, Context], Awaitable[None]]


def service_types() -> tuple[str, ...]:
    return tuple(_TYPES)


def check_settings(kind: str, settings: dict[str, Any]) -> list[str]:
    return _TYPES[kind].check(settings)


def sender(kind: str) -> Sender:
    return _TYPES[kind].send
