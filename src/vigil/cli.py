"""The `vigil` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from vigil import config
from vigil.events import cli as events_cli
from vigil.logs import cli as logs_cli


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--host", help="address to listen on (VIGIL_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (VIGIL_PORT, default 8080)")
    p.add_argument("--data-dir", help="where the embedded engines keep their files (VIGIL_DATA_DIR, ./vigil-data)")
    p.add_argument("--config", help="a TOML file with any of the settings")
    p.add_argument("--syslog-port", type=int, help="syslog TCP port (VIGIL_SYSLOG_PORT, default 5140; 0: off)")
    p.add_argument("--grpc-port", type=int,
                   help="Loggregator v2 gRPC ingress port (VIGIL_GRPC_PORT, default 8082; 0: off)")
    p.add_argument("--metadata-url", help="metadata database URL (VIGIL_METADATA_URL; default SQLite in the data dir)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--amqp-deployment", action="append", metavar="NAME=amqp://user:pass@host:port/vhost",
                   help="consume OpenStack notifications from this broker (repeatable; VIGIL_AMQP_DEPLOYMENTS)")
    # Alerts: where `mail` services send (the password may also come from VIGIL_SMTP_PASSWORD or the file).
    p.add_argument("--smtp-host", help="SMTP server for mail notifications (VIGIL_SMTP_HOST)")
    p.add_argument("--smtp-port", type=int, help="SMTP port (VIGIL_SMTP_PORT, default 25)")
    p.add_argument("--smtp-user", help="SMTP user name (VIGIL_SMTP_USER)")
    p.add_argument("--smtp-password", help="SMTP password (VIGIL_SMTP_PASSWORD)")
    p.add_argument("--smtp-starttls", action="store_true", default=None,
                   help="upgrade the SMTP connection with STARTTLS (VIGIL_SMTP_STARTTLS)")
    p.add_argument("--smtp-from", help="sender address of mail notifications (VIGIL_SMTP_FROM)")
    p.add_argument("--pagerduty-events-url", help="PagerDuty Events API v2 endpoint (VIGIL_PAGERDUTY_EVENTS_URL)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vigil", description="Observability server for application platforms")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    logs_cli.logs_parser(sub)
    logs_cli.run_parser(sub)
    events_cli.events_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "events":
        sys.exit(events_cli.main(args))
    if args.command == "logs":
        sys.exit(logs_cli.main_logs(args))
    if args.command == "run":
        sys.exit(logs_cli.main_run(args))
    if args.command == "serve":
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            settings = config.load(args.config, {
                "host": args.host, "port": args.port, "data_dir": args.data_dir, "syslog_port": args.syslog_port,
                "grpc_port": args.grpc_port,
                "metadata_url": args.metadata_url, "amqp_deployments": args.amqp_deployment,
                **{name: getattr(args, name) for name in ("smtp_host", "smtp_port", "smtp_user", "smtp_password",
                                                          "smtp_starttls", "smtp_from", "pagerduty_events_url")},
            })
        except config.ConfigError as exc:
            parser.error(str(exc))
        from vigil.server import serve

        try:
            import uvloop
        except ImportError:  # uvicorn[standard] brings it; plain asyncio works too
            asyncio.run(serve(settings))
        else:
            uvloop.run(serve(settings))
    sys.exit(0)


if __name__ == "__main__":
    main()
