"""Log settings: listener ports and modes, TLS files, bounds."""

from __future__ import annotations

import pytest

from vigil import config
from vigil.config import Settings


def test_a_configured_server_listens_and_a_bare_settings_does_not() -> None:
    s = config.load(environ={})
    assert (s.listeners, s.syslog_port, s.grpc_port, s.log_retention) == ("on", 5140, 8082, 6 * 3600)
    assert Settings().listeners == "off"
    s = config.load(environ={"VIGIL_LISTENERS": "ephemeral", "VIGIL_GRPC_PORT": "0", "VIGIL_SYSLOG_PORT": "6514"})
    assert (s.listeners, s.grpc_port, s.syslog_port) == ("ephemeral", 0, 6514)
    assert config.load({}, {"grpc_port": 9000}, environ={}).grpc_port == 9000


@pytest.mark.parametrize(("env", "message"), [
    ({"VIGIL_LISTENERS": "sometimes"}, "listeners"),
    ({"VIGIL_GRPC_PORT": "70000"}, "grpc_port"),
    ({"VIGIL_SYSLOG_TLS_CERT": "/x.pem"}, "go together"),
    ({"VIGIL_LOG_RECENT_LINES": "0"}, "log_recent_lines"),
    ({"VIGIL_LOG_SESSION_TTL": "-1"}, "log_session_ttl"),
])
def test_bad_log_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(environ=env)


@pytest.mark.parametrize(("env", "message"), [
    ({"VIGIL_LOG_SYSLOG_WORKERS": "-1"}, "log_syslog_workers"),
    ({"VIGIL_LOG_SYSLOG_WORKER_NICE": "20"}, "log_syslog_worker_nice"),
    ({"VIGIL_LOG_SYSLOG_BATCH_LINES": "0"}, "log_syslog_batch_lines"),
    ({"VIGIL_LOG_SYSLOG_WORKER_BYTES": "0"}, "log_syslog_worker_bytes"),
])
def test_bad_syslog_worker_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(environ=env)


def test_syslog_worker_defaults() -> None:
    s = Settings()
    assert (s.log_syslog_workers, s.log_syslog_batch_lines, s.log_syslog_worker_bytes, s.log_syslog_worker_nice) \
        == (2, 4096, 8 * 1024 * 1024, 10)
