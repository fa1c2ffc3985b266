"""HTTP POST for the webhook-like services, with the outcome classified for retrying."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from vigil.alerts.notify.message import DeliveryError

MAX_URL = 2048


def check_url(value: Any, name: str = "url") -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{name} is required"]
    if len(value) > MAX_URL:
        return [f"{name} must be at most {MAX_URL} characters"]
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{name} must be an http:// or https:// URL"]
    return []


def where(url: str) -> str:
    # Only the host: webhook URLs often carry their secret in the path (Slack's do).
    parts = urlsplit(url)
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"


async def post_json(client: httpx.AsyncClient, url: str, payload: Any, seconds: float,
                    headers: dict[str, str] | None = None) -> None:
    try:
        response = await client.post(url, json=payload, timeout=seconds, headers=headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"timed out after {seconds:g}s posting to {where(url)}", retry=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"cannot post to {where(url)}: {type(exc).__name__}", retry=True) from None
    if 200 <= response.status_code < 300:
        return
    retry = response.status_code == 429 or response.status_code >= 500
    raise DeliveryError(f"HTTP {response.status_code} from {where(url)}", retry=retry)
