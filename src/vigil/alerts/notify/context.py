"""What a notifier needs besides the service and the notification."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str | None
    port: int
    user: str | None
    password: str | None = None
    starttls: bool = False
    sender: str = "vigil@localhost"

    def __repr__(self) -> str:  # never show the password in a log line
        return f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, starttls={self.starttls})"


@dataclass(frozen=True, slots=True)
class Context:
    client: httpx.AsyncClient
    timeout: float
    smtp: SmtpConfig
    pagerduty_url: str
