"""AMQP deployments and the events settings: flag, environment and TOML forms, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil import config


def test_deployments_from_every_source(tmp_path: Path) -> None:
    file = tmp_path / "vigil.toml"
    file.write_text('amqp_deployments = ["east=amqp://u:p@h1:5672/", {name = "west", url = "amqp://h2/vh"}]\n'
                    'amqp_routing_keys = ["monitor.info", "monitor.error"]\n')
    s = config.load(file, environ={})
    assert config.amqp_deployments(s) == [("east", "amqp://u:p@h1:5672/"), ("west", "amqp://h2/vh")]
    assert s.amqp_routing_keys == ["monitor.info", "monitor.error"]
    assert s.amqp_exchanges == ["nova", "glance"]
    s = config.load(file, environ={"VIGIL_AMQP_DEPLOYMENTS": "a=amqp://x/, b=amqps://y/"})
    assert config.amqp_deployments(s) == [("a", "amqp://x/"), ("b", "amqps://y/")]
    s = config.load(file, {"amqp_deployments": ["c=amqp://z/"]}, environ={})
    assert config.amqp_deployments(s) == [("c", "amqp://z/")]


@pytest.mark.parametrize(("env", "message"), [
    ({"VIGIL_AMQP_DEPLOYMENTS": "nourl"}, "NAME=amqp://"),
    ({"VIGIL_AMQP_DEPLOYMENTS": "a=http://x/"}, "NAME=amqp://"),
    ({"VIGIL_AMQP_DEPLOYMENTS": "a=amqp://x/ a=amqp://y/"}, "unique"),
    ({"VIGIL_AMQP_PREFETCH": "0"}, "amqp_prefetch must be positive"),
    ({"VIGIL_STACKY_MAX_ROWS": "0"}, "stacky_max_rows must be positive"),
    ({"VIGIL_EVENTS_REPORT_PERCENTILE": "100"}, "between 1 and 99"),
    ({"VIGIL_EVENTS_REPORT_INTERVAL": "-1"}, "must not be negative"),
])
def test_invalid(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(environ=env)


def test_serve_flag() -> None:
    import argparse

    from vigil import cli

    parser = argparse.ArgumentParser()
    cli._serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--amqp-deployment", "a=amqp://x/", "--amqp-deployment", "b=amqp://y/"])
    assert args.amqp_deployment == ["a=amqp://x/", "b=amqp://y/"]
