from __future__ import annotations

import msgspec
import pytest

from vigil.logs.model import (
    STDERR,
    STDOUT,
    LogLine,
    is_valid_app_name,
    split_akkeris_app_key,
    validate_app_name,
)


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "myapp",
        "my-cool-app",  # Heroku style
        "appname-space",  # Akkeris app key
        "api-prod-east",
        "0day",
        "a" * 63,
    ],
)
def test_valid_app_names(name: str) -> None:
    assert is_valid_app_name(name)
    assert validate_app_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("a" * 64, "at most 63"),
        ("-app", "start and end"),
        ("app-", "start and end"),
        ("MyApp", "lowercase"),
        ("my_app", "lowercase"),
        ("org.space.app", "lowercase"),  # a CF syslog hostname is not an app name
        ("my app", "lowercase"),
        ("café", "lowercase"),
    ],
)
def test_invalid_app_names(name: str, reason: str) -> None:
    assert not is_valid_app_name(name)
    with pytest.raises(ValueError, match=reason):
        validate_app_name(name)


def test_split_akkeris_app_key() -> None:
    assert split_akkeris_app_key("appname-space") == ("appname", "space")
    # Akkeris app names cannot contain '-', spaces can
    assert split_akkeris_app_key("api-prod-east") == ("api", "prod-east")
    for bad in ("nodash", "-space", "app-"):
        with pytest.raises(ValueError):
            split_akkeris_app_key(bad)


def test_logline_is_frozen_with_defaults() -> None:
    line = LogLine("app", "router", "", STDOUT, 1)
    assert line.host == "" and line.message == ""
    with pytest.raises(AttributeError):
        line.app = "other"  # type: ignore[misc]
    assert line == LogLine("app", "router", "", STDOUT, 1, "", "")
    assert hash(line) == hash(LogLine("app", "router", "", STDOUT, 1, "", ""))


def test_logline_json_roundtrip() -> None:
    line = LogLine("app", "APP/PROC/WEB", "0", STDERR, 1_700_000_000_123_456, "10.0.0.1", "boom ☃")
    raw = msgspec.json.encode(line)
    assert msgspec.json.decode(raw, type=LogLine) == line
    # Array-like: the fields in order, no names (compact on the process-to-process wires).
    assert raw == b'["app","APP/PROC/WEB","0","stderr",1700000000123456,"10.0.0.1","boom \xe2\x98\x83"]'
