"""A drain as stored and run: whose lines (an app or a site), where to (a DrainURL) and how (TLS
options). Its repr never shows credentials: the URL appears only as `DrainURL.public`."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from vigil.drains.urls import DrainURL, DrainURLError, parse_drain_url
from vigil.errors import ParamsError

APP: Final = "app"
SITE: Final = "site"


def new_token() -> str:
    """A drain token, as Logplex writes them: ``d.`` and a UUID. It is the HOSTNAME of every syslog
    frame and the Logplex-Drain-Token header, so receivers can tell drains apart."""
    return f"d.{uuid.uuid4()}"


@dataclass(frozen=True)
class DrainOptions:
    """TLS settings of one drain (syslog+tls:// and https:// only)."""

    skip_verify: bool = False  # accept any certificate (Loggregator's skip-cert-verify, per drain)
    ca: str | None = field(default=None, repr=False)  # PEM certificates trusted for this drain


@dataclass(frozen=True)
class Drain:
    id: str
    kind: str  # APP or SITE
    name: str  # the app or site
    url: DrainURL
    token: str
    options: DrainOptions
    created_at: float
    updated_at: float

    @property
    def label(self) -> str:
        """What logs and metrics call it: id, owner and endpoint, never path, query or credentials."""
        return f"drain {self.id} ({self.kind} {self.name} -> {self.url.endpoint})"

    def __repr__(self) -> str:
        return f"Drain(id={self.id!r}, {self.kind}={self.name!r}, url={self.url.public!r}, token={self.token!r})"


def check_ca(pem: str) -> None:
    """Raise ValueError unless `pem` holds at least one PEM certificate OpenSSL can load."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError("must hold PEM certificates (-----BEGIN CERTIFICATE-----)")
    try:
        ssl.create_default_context().load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"cannot be loaded as certificates: {exc.__class__.__name__}") from None


def parse_request(body: dict[str, Any], *, max_ca_bytes: int) -> tuple[DrainURL, DrainOptions]:
    """`{"url": …, "tls_skip_verify": bool, "tls_ca": "PEM"}` → (URL, options); every bad field is
    named in one 422."""
    errors: dict[str, list[str]] = {}
    url: DrainURL | None = None
    try:
        url = parse_drain_url(body.get("url"))
    except DrainURLError as exc:
        errors["url"] = [str(exc)]
    skip = body.get("tls_skip_verify", False)
    if not isinstance(skip, bool):
        errors["tls_skip_verify"] = ["must be true or false"]
        skip = False
    ca = body.get("tls_ca")
    if ca is not None:
        if not isinstance(ca, str):
            errors["tls_ca"] = ["must be a string of PEM certificates"]
            ca = None
        elif len(ca.encode()) > max_ca_bytes:
            errors["tls_ca"] = [f"must be at most {max_ca_bytes} bytes"]
            ca = None
        else:
            try:
                check_ca(ca)
            except ValueError as exc:
                errors["tls_ca"] = [str(exc)]
                ca = None
    if url is not None and not url.uses_tls:
        for name, given in (("tls_skip_verify", skip), ("tls_ca", ca)):
            if given and name not in errors:
                errors[name] = ["applies only to syslog+tls:// and https:// drains"]
    if errors:
        raise ParamsError(errors, status=422)
    assert url is not None
    return url, DrainOptions(skip_verify=skip, ca=ca or None)
