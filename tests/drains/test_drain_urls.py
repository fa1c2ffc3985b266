"""Drain URLs: the accepted schemes and their defaults, what is refused and why, and redaction."""

from __future__ import annotations

import pytest

from vigil.drains.model import Drain, DrainOptions
from vigil.drains.urls import DrainURLError, parse_drain_url, redact


@pytest.mark.parametrize(("raw", "scheme", "host", "port", "path"), [
    ("syslog://logs.example.com", "syslog", "logs.example.com", 514, "/"),
    ("syslog://Logs.Example.COM:12345/", "syslog", "logs.example.com", 12345, "/"),
    ("syslog+tls://logs.papertrailapp.com:44112", "syslog+tls", "logs.papertrailapp.com", 44112, "/"),
    ("syslog-tls://logs.example.com", "syslog+tls", "logs.example.com", 6514, "/"),
    ("syslog+udp://10.0.0.7:5514", "syslog+udp", "10.0.0.7", 5514, "/"),
    ("SYSLOG://[::1]:601", "syslog", "::1", 601, "/"),
    ("https://user:pa%40ss@collector.example.com/logs?source=vigil", "https", "collector.example.com", 443,
     "/logs?source=vigil"),
    ("http://127.0.0.1:8080", "http", "127.0.0.1", 8080, "/"),
])
def test_accepted_urls(raw: str, scheme: str, host: str, port: int, path: str) -> None:
    url = parse_drain_url(raw)
    assert (url.scheme, url.host, url.port, url.path) == (scheme, host, port, path)
    assert url.raw == raw


@pytest.mark.parametrize(("raw", "why"), [
    (None, "is required"),
    ("", "is required"),
    (42, "is required"),
    ("logs.example.com:514", "must start with a scheme"),
    ("ftp://logs.example.com", "unsupported scheme"),
    ("tcp://logs.example.com:514", "unsupported scheme"),
    ("syslog://", "must name a host"),
    ("syslog://logs.example.com:0", "invalid port"),
    ("syslog://logs.example.com:70000", "invalid host or port"),
    ("syslog://logs.example.com:abc", "invalid host or port"),
    ("syslog://bad_host.example.com", "invalid host name"),
    ("syslog://logs.example.com/path", "only a host and a port"),
    ("syslog://logs.example.com?x=1", "only a host and a port"),
    ("syslog://user:secret@logs.example.com", "cannot carry credentials"),
    ("https://exa mple.com", "spaces or control characters"),
    ("https://example.com/\x00", "spaces or control characters"),
    ("https://" + "a" * 2050 + ".com", "at most 2048 characters"),
])
def test_refused_urls(raw: object, why: str) -> None:
    with pytest.raises(DrainURLError, match=why) as info:
        parse_drain_url(raw)
    assert "secret" not in str(info.value)


def test_credentials_are_redacted_and_sent_separately() -> None:
    url = parse_drain_url("https://alice:s3cr%40t@logs.example.com:8443/in?team=a#frag")
    assert url.public == "https://alice:***@logs.example.com:8443/in?team=a#frag"
    assert url.username == "alice" and url.password == "s3cr@t"
    assert url.request_url == "https://logs.example.com:8443/in?team=a"
    assert url.endpoint == "https://logs.example.com:8443"
    assert "s3cr" not in repr(url) and "s3cr" not in str(url)


def test_a_lone_user_name_is_the_secret() -> None:
    assert redact("https://0123456789abcdef@logs.example.com/x") == "https://***@logs.example.com/x"
    assert redact("https://logs.example.com/x") == "https://logs.example.com/x"
    assert redact("https://a:b@c@host/x") == "https://a:***@host/x"  # the last @ ends the user info


def test_a_drain_repr_shows_no_credentials() -> None:
    url = parse_drain_url("https://bob:hunter2@logs.example.com/")
    drain = Drain("id-1", "app", "web", url, "d.t", DrainOptions(ca="PEM"), 0.0, 0.0)
    assert "hunter2" not in repr(drain) and "hunter2" not in drain.label
    assert "bob:***@" in repr(drain)


def test_same_destination_same_key() -> None:
    a = parse_drain_url("syslog://Logs.Example.com")
    b = parse_drain_url("syslog://logs.example.com:514/")
    c = parse_drain_url("syslog+tls://logs.example.com:514")
    assert a.key == b.key != c.key
    assert parse_drain_url("syslog-tls://h:1").key == parse_drain_url("syslog+tls://h:1").key
    # Different credentials or paths are different drains.
    assert parse_drain_url("https://a:1@h/x").key != parse_drain_url("https://a:2@h/x").key
    assert parse_drain_url("https://h/x").key != parse_drain_url("https://h/y").key
