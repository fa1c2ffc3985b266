"""The alert settings: environment, file and flags, checked; the SMTP password never shown."""

from __future__ import annotations

import argparse

import pytest

from vigil import cli, config
from vigil.alerts.notify.context import SmtpConfig


def test_smtp_settings_from_the_environment_and_file(tmp_path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text('smtp-host = "mail.test"\nsmtp_from = "alerts@example.com"\n')
    s = config.load(path, environ={"VIGIL_SMTP_PORT": "2525", "VIGIL_SMTP_STARTTLS": "true",
                                   "VIGIL_SMTP_USER": "vigil", "VIGIL_SMTP_PASSWORD": "s3cret",
                                   "VIGIL_PAGERDUTY_EVENTS_URL": "http://127.0.0.1:1/v2/enqueue"})
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls, s.smtp_user, s.smtp_password, s.smtp_from) == (
        "mail.test", 2525, True, "vigil", "s3cret", "alerts@example.com")
    assert s.pagerduty_events_url == "http://127.0.0.1:1/v2/enqueue"
    assert config.load(environ={}).pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"


def test_flags_reach_the_settings() -> None:
    parser = argparse.ArgumentParser()
    cli._serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--smtp-host", "mx.test", "--smtp-port", "587", "--smtp-starttls",
                              "--smtp-user", "u", "--smtp-password", "p", "--smtp-from", "a@b.test"])
    assert (args.smtp_host, args.smtp_port, args.smtp_starttls, args.smtp_user, args.smtp_password,
            args.smtp_from) == ("mx.test", 587, True, "u", "p", "a@b.test")
    assert parser.parse_args(["serve"]).smtp_starttls is None  # unset: the file or environment decides


@pytest.mark.parametrize("bad", [{"VIGIL_SMTP_PORT": "0"}, {"VIGIL_ALERT_QUEUE_ROWS": "0"},
                                 {"VIGIL_PAGERDUTY_EVENTS_URL": "events.pagerduty.com"},
                                 {"VIGIL_ALERT_DELIVERY_ATTEMPTS": "-1"}])
def test_bad_alert_settings_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(config.ConfigError):
        config.load(environ=bad)


def test_the_smtp_password_is_never_shown() -> None:
    assert "s3cret" not in repr(SmtpConfig("mx", 25, "u", "s3cret"))
