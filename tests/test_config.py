"""Settings precedence: defaults < TOML file < environment < flags, with validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil import config


def test_defaults() -> None:
    s = config.load(environ={})
    assert (s.host, s.port, s.data_dir, s.syslog_port) == ("127.0.0.1", 8080, Path("./vigil-data"), 5140)
    assert s.raw_retention == 7 * 86400
    assert s.accepted_past == s.raw_retention
    assert s.metadata_dsn.startswith("sqlite+aiosqlite:///")


def test_precedence(tmp_path: Path) -> None:
    file = tmp_path / "vigil.toml"
    file.write_text('port = 9000\nhost = "0.0.0.0"\nsyslog-port = 6000\nfuture_window = 60\n')
    s = config.load(file, environ={"VIGIL_PORT": "9100", "VIGIL_FSYNC": "true"})
    assert (s.port, s.host, s.syslog_port, s.future_window, s.fsync) == (9100, "0.0.0.0", 6000, 60, True)
    s = config.load(file, {"port": 9200, "host": None}, environ={"VIGIL_PORT": "9100"})
    assert (s.port, s.host) == (9200, "0.0.0.0")


@pytest.mark.parametrize(("env", "message"), [({"VIGIL_PORT": "70000"}, "port"),
                                              ({"VIGIL_PORT": "eighty"}, "bad setting"),
                                              ({"VIGIL_FLUSH_ROWS": "0"}, "flush_rows")])
def test_invalid_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(environ=env)


def test_unreadable_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(bad, environ={})
