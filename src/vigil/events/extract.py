"""From one OpenStack notification to one stored row, as StackTach's worker read them.

A notification is a JSON object with `publisher_id` (`service.host`), `event_type`, `timestamp`,
`payload` and the request context flattened into `_context_*` keys. oslo.messaging's v2 envelope
(`{"oslo.version": "2.0", "oslo.message": "<the notification as a JSON string>"}`) is unwrapped
first. The row keeps the notification as `[routing_key, notification]` JSON for `show`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from vigil.events import image_type
from vigil.events.timefmt import TimeFormatError, parse_timestamp

KINDS = ("nova", "glance", "generic")
INFO_KEY = "notifications.info"
ERROR_KEY = "notifications.error"
# Context values that are credentials: kept out of storage (and so out of `show`).
SECRET_KEYS = ("_context_auth_token",)
REDACTED = "***"
_NAME = re.compile(r"^[\w.:@/+-]{1,100}$")
_ROUTING_KEY = re.compile(r"^[\w.:#*/+-]{1,255}$")


class Malformed(ValueError):
    """A message that is not a notification StackTach could store; the reason is safe to log."""


def valid_deployment_name(name: str) -> bool:
    return bool(_NAME.match(name))


def valid_routing_key(key: str) -> bool:
    return bool(_ROUTING_KEY.match(key))


def decode(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc}") from None


def unwrap(message: Any) -> dict[str, Any]:
    """The notification itself, out of an oslo.messaging v2 envelope if it has one."""
    if isinstance(message, dict) and "oslo.message" in message:
        inner = message["oslo.message"]
        if isinstance(inner, str | bytes):
            inner = decode(inner)
        message = inner
    if not isinstance(message, dict):
        raise Malformed("a notification must be a JSON object")
    return message


def kind_for_event(event_type: str) -> str:
    """Which of StackTach's tables an event belongs to when no exchange says so."""
    if event_type.startswith("image."):
        return "glance"
    if event_type.startswith(("compute.", "scheduler.", "network.")):
        return "nova"
    return "generic"


def kind_for_exchange(exchange: str, event_type: str) -> str:
    if exchange in ("nova", "glance"):
        return exchange
    return kind_for_event(event_type)


def routing_key_for(notification: dict[str, Any]) -> str:
    priority = notification.get("priority")
    return ERROR_KEY if isinstance(priority, str) and priority.upper() == "ERROR" else INFO_KEY


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return orjson.dumps(value).decode()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _instance(payload: dict[str, Any]) -> str | None:
    # Instance UUIDs hide in several places, depending on the event.
    instance = payload.get("instance_uuid", payload.get("instance_id"))
    if not instance:
        instance = _dict(_dict(payload.get("exception")).get("kwargs")).get("uuid")
    if not instance:
        instance = _dict(payload.get("instance")).get("uuid")
    return _text(instance) or None


def _when(body: dict[str, Any]) -> int:
    stamp = body.get("timestamp") or body.get("_context_timestamp")
    if not isinstance(stamp, str):
        raise Malformed("no timestamp (nor _context_timestamp)")
    try:
        return parse_timestamp(stamp)
    except TimeFormatError as exc:
        raise Malformed(str(exc)) from None


def extract(body: dict[str, Any], *, deployment: int, routing_key: str, kind: str) -> dict[str, Any]:
    """The row for one notification (everything but `id`). Raises Malformed."""
    publisher = body.get("publisher_id")
    event = body.get("event_type")
    if not isinstance(publisher, str) or not publisher:
        raise Malformed("publisher_id must be a non-empty string")
    if not isinstance(event, str) or not event:
        raise Malformed("event_type must be a non-empty string")
    when = _when(body)
    service, _, host = publisher.partition(".")
    raw_payload = body.get("payload")
    payload = _dict(raw_payload)
    request_id = body.get("_context_request_id")
    row: dict[str, Any] = {
        "kind": kind, "deployment": deployment, "routing_key": routing_key, "when": when,
        "publisher": publisher, "event": event, "service": service, "host": host or None,
        "request_id": _text(request_id) or "", "message_id": _text(body.get("message_id")),
        "instance": None, "tenant": None, "state": None, "old_state": None, "old_task": None, "task": None,
        "image_type": 0, "owner": None, "status": None, "uuid": None,
    }
    if kind == "glance":
        properties = _dict(payload.get("properties"))
        row["instance"] = _text(properties.get("instance_uuid")) or None
        if isinstance(raw_payload, dict):
            row["image_type"] = image_type.numeric_code(payload)
            row["owner"] = _text(payload.get("owner"))
            row["status"] = _text(payload.get("status"))
            row["uuid"] = _text(payload.get("id"))
    else:
        row["instance"] = _instance(payload)
        row["tenant"] = _text(payload.get("tenant_id", body.get("_context_project_id")))
        if kind == "nova":
            # Absent keys read as "", explicit nulls stay null: the views show both as sent.
            row["state"] = _text(payload.get("state", ""))
            row["old_state"] = _text(payload.get("old_state", ""))
            row["old_task"] = _text(payload.get("old_task_state", ""))
            row["task"] = _text(payload.get("new_task_state", ""))
            row["image_type"] = image_type.numeric_code(payload)
    if any(key in body for key in SECRET_KEYS):
        body = {k: (REDACTED if k in SECRET_KEYS and v is not None else v) for k, v in body.items()}
    row["json"] = orjson.dumps([routing_key, body]).decode()
    return row
