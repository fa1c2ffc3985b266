"""Drain URLs: which schemes, what makes one valid, and how one is shown without its credentials.

Schemes (Akkeris' list, Heroku's and Loggregator's spellings):

    syslog://host[:port]       RFC 5424 over TCP, RFC 6587 octet counting   (port 514 by default)
    syslog+tls://host[:port]   the same inside TLS (also `syslog-tls`, Loggregator's spelling; 6514)
    syslog+udp://host[:port]   one RFC 5424 message per datagram (RFC 5426)  (514)
    https://[user:pass@]host[:port]/path?query   application/logplex-1 POSTs (443)
    http://…                   the same without TLS (80)

Syslog URLs carry nothing but a host and a port: a path, query, fragment or user info there would be
silently meaningless, so it is refused. An HTTP(S) URL keeps its path and query (sent as they are);
its user info becomes HTTP basic auth and is never shown: `public` replaces the password (or a lone
user name, which is then the secret) with `***`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

SYSLOG: Final = "syslog"
SYSLOG_TLS: Final = "syslog+tls"
SYSLOG_UDP: Final = "syslog+udp"
HTTPS: Final = "https"
HTTP: Final = "http"

_ALIASES: Final = {"syslog-tls": SYSLOG_TLS}
DEFAULT_PORTS: Final = {SYSLOG: 514, SYSLOG_TLS: 6514, SYSLOG_UDP: 514, HTTPS: 443, HTTP: 80}
SYSLOG_SCHEMES: Final = frozenset((SYSLOG, SYSLOG_TLS, SYSLOG_UDP))
TLS_SCHEMES: Final = frozenset((SYSLOG_TLS, HTTPS))
MAX_URL_LENGTH: Final = 2048
REDACTED: Final = "***"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\.?\Z){_LABEL}(?:\.{_LABEL})*\.?")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


class DrainURLError(ValueError):
    """Why a drain URL is not acceptable (the message is safe to show: it never repeats credentials)."""


@dataclass(frozen=True)
class DrainURL:
    scheme: str  # one of DEFAULT_PORTS' keys (aliases resolved)
    host: str  # lower case; an IPv6 address without brackets
    port: int
    path: str = "/"  # HTTP(S) only: path and query as given
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    raw: str = field(default="", repr=False)  # as given (with credentials)
    public: str = ""  # as given, credentials replaced by ***

    @property
    def is_syslog(self) -> bool:
        return self.scheme in SYSLOG_SCHEMES

    @property
    def uses_tls(self) -> bool:
        return self.scheme in TLS_SCHEMES

    @property
    def endpoint(self) -> str:
        """scheme://host:port — what logs may name (no path, query or credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def request_url(self) -> str:
        """The HTTP(S) URL to POST to, without user info (sent as basic auth instead)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def key(self) -> str:
        """SHA-256 of the normalised URL: two URLs with the same key reach the same place the same way
        (scheme alias, host case and a default port do not matter). Duplicates are found by it."""
        auth = "" if self.username is None else f"{self.username}:{self.password or ''}@"
        text = f"{self.scheme}://{auth}{self.endpoint.split('://', 1)[1]}{self.path if not self.is_syslog else ''}"
        return hashlib.sha256(text.encode()).hexdigest()

    def __str__(self) -> str:
        return self.public


def _check_host(host: str) -> str:
    if not host:
        raise DrainURLError("must name a host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(host):
        raise DrainURLError("has an invalid host name")
    return host.lower().rstrip(".")


def redact(raw: str) -> str:
    """`raw` with the password of its user info (or a lone user name) replaced by ***; anything that
    does not parse as a URL with user info comes back unchanged except that such a part is cut."""
    m = _SCHEME.match(raw)
    if not m:
        return raw
    start = m.end()
    end = len(raw)
    for ch in "/?#":
        i = raw.find(ch, start)
        if i != -1:
            end = min(end, i)
    netloc = raw[start:end]
    at = netloc.rfind("@")
    if at == -1:
        return raw
    user, sep, _password = netloc[:at].partition(":")
    shown = f"{user}:{REDACTED}" if sep and user else REDACTED
    return raw[:start] + shown + netloc[at:] + raw[end:]


def parse_drain_url(raw: object) -> DrainURL:
    """Validate a drain URL; raises DrainURLError saying what is wrong."""
    if not isinstance(raw, str) or not raw.strip():
        raise DrainURLError("is required: a syslog://, syslog+tls://, syslog+udp://, https:// or http:// URL")
    text = raw.strip()
    if len(text) > MAX_URL_LENGTH:
        raise DrainURLError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise DrainURLError("must not contain spaces or control characters")
    m = _SCHEME.match(text)
    if not m:
        raise DrainURLError("must start with a scheme: syslog://, syslog+tls://, syslog+udp://, https:// or http://")
    scheme = m.group(1).lower()
    scheme = _ALIASES.get(scheme, scheme)
    if scheme not in DEFAULT_PORTS:
        raise DrainURLError(f"has an unsupported scheme {m.group(1)[:20]!r}: use syslog://, syslog+tls://, "
                            "syslog+udp://, https:// or http://")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise DrainURLError("has an invalid host or port") from None
    host = _check_host(parts.hostname or "")
    if port == 0:
        raise DrainURLError("has an invalid port (1-65535)")
    public = redact(text)
    if scheme in SYSLOG_SCHEMES:
        if parts.username is not None or parts.password is not None:
            raise DrainURLError("of a syslog drain cannot carry credentials")
        if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
            raise DrainURLError("of a syslog drain has only a host and a port (no path or query)")
        return DrainURL(scheme, host, port or DEFAULT_PORTS[scheme], raw=text, public=public)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return DrainURL(scheme, host, port or DEFAULT_PORTS[scheme], path, username, password, text, public)
