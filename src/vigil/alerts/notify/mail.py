"""`mail`: one message to `settings.addresses` through the SMTP server Vigil is configured with."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from vigil.alerts.model import Service
from vigil.alerts.notify.context import Context
from vigil.alerts.notify.message import DeliveryError, Notification, headline, text_body

TYPE = "mail"
MAX_ADDRESSES = 50
ADDRESS = re.compile(r"\A[^@\s,<>]+@[^@\s,<>]+\Z")


def addresses(settings: dict[str, Any]) -> list[str]:
    raw = settings.get("addresses")
    items = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return [a.strip() for a in items if isinstance(a, str) and a.strip()]


def check(settings: dict[str, Any]) -> list[str]:
    raw = settings.get("addresses")
    if not isinstance(raw, str | list):
        return ["addresses is required: a comma-separated list of e-mail addresses"]
    found = addresses(settings)
    if not found:
        return ["addresses is required: a comma-separated list of e-mail addresses"]
    if len(found) > MAX_ADDRESSES:
        return [f"addresses may list at most {MAX_ADDRESSES} addresses"]
    bad = [a for a in found if not ADDRESS.match(a)]
    return [f"{bad[0][:80]!r} is not an e-mail address"] if bad else []


def build(service: Service, n: Notification, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(addresses(service.settings))
    message["Subject"] = f"[vigil] {headline(n)}"
    message["Date"] = formatdate(n.at, usegmt=True)
    message["Message-ID"] = make_msgid("alert")
    message["X-Vigil-Alert"] = str(n.alert.id)
    message.set_content(text_body(n))
    return message


async def send(service: Service, n: Notification, ctx: Context) -> None:
    smtp = ctx.smtp
    if not smtp.host:
        raise DeliveryError("no SMTP server is configured (smtp_host)", retry=False)
    try:
        await aiosmtplib.send(build(service, n, smtp.sender), hostname=smtp.host, port=smtp.port,
                              username=smtp.user or None, password=smtp.password or None,
                              start_tls=smtp.starttls, timeout=ctx.timeout)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"the SMTP server refused the recipients ({len(exc.recipients)})", retry=False) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.code} from {smtp.host}: {exc.message[:200]}", retry=exc.code < 500) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"cannot send mail through {smtp.host}:{smtp.port}: {type(exc).__name__}",
                            retry=True) from None
