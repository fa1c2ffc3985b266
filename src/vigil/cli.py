"""The `vigil` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from vigil import config


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--host", help="address to listen on (VIGIL_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (VIGIL_PORT, default 8080)")
    p.add_argument("--data-dir", help="where the embedded engines keep their files (VIGIL_DATA_DIR, ./vigil-data)")
    p.add_argument("--config", help="a TOML file with any of the settings")
    p.add_argument("--syslog-port", type=int, help="syslog TCP port (VIGIL_SYSLOG_PORT, default 5140)")
    p.add_argument("--metadata-url", help="metadata database URL (VIGIL_METADATA_URL; default SQLite in the data dir)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vigil", description="Observability server for application platforms")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            settings = config.load(args.config, {
                "host": args.host, "port": args.port, "data_dir": args.data_dir, "syslog_port": args.syslog_port,
                "metadata_url": args.metadata_url,
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
