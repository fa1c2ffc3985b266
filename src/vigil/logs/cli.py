"""`vigil logs` and `vigil run`: the command-line clients of application logs.

`vigil logs --app NAME` prints an app's logs as `cf logs` does
(`2013-04-05T13:14:58.00-0700 [APP/PROC/WEB/0] OUT message`, in local time): `--recent` the newest
`--lines` lines (from the log-cache read API), `--tail` (the default without `--recent`) new lines
as they come (from the RLP gateway stream, `/v2/read`), both for the two together. `--source`
keeps one source's lines. Colours on a terminal (unless NO_COLOR is set); Ctrl-C ends it quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import os
import sys
from typing import Any

import httpx
import orjson

from vigil.logs.formats import format_cf
from vigil.logs.model import STDERR, STDOUT, LogLine

DEFAULT_SERVER = "http://127.0.0.1:8080"
GO_ZERO_TIME_NS = -6795364578871345152  # log-cache's "from the beginning", as the cf CLI sends it
READ_MAX = 1000


class CliError(Exception):
    pass


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=os.environ.get("VIGIL_URL", DEFAULT_SERVER),
                   help=f"Vigil's URL (VIGIL_URL, default {DEFAULT_SERVER})")
    p.add_argument("--token", default=os.environ.get("VIGIL_TOKEN"), help="API token (VIGIL_TOKEN)")


def logs_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="show an app's logs, as `cf logs` does")
    p.add_argument("--app", required=True)
    p.add_argument("--recent", action="store_true", help="print the newest lines (and stop, unless --tail)")
    p.add_argument("--tail", action="store_true", help="print new lines as they come (the default)")
    p.add_argument("--lines", type=int, default=100, help=f"how many recent lines (1-{READ_MAX}, default 100)")
    p.add_argument("--source", help="only lines of this source (APP/PROC/WEB, RTR, app, router …)")
    add_common(p)


def run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a program and ship its output to Vigil",
                       usage="vigil run --app NAME [--instance web.1] [--source app] [--server URL] [--token T] "
                             "-- COMMAND [ARG …]")
    p.add_argument("--app", required=True)
    p.add_argument("--instance", default="web.1", help="instance name (default web.1)")
    p.add_argument("--source", default="app", help="source name (default app)")
    p.add_argument("--buffer-lines", type=int, default=10_000, help="lines kept while the server is away")
    p.add_argument("--no-metrics", action="store_true", help="do not report the program's CPU and memory")
    add_common(p)
    p.add_argument("program", nargs=argparse.REMAINDER, help="the command to run, after --")


def envelope_line(e: dict[str, Any]) -> LogLine | None:
    log = e.get("log")
    if not isinstance(log, dict):
        return None
    message = base64.b64decode(log.get("payload", "")).decode("utf-8", "replace")
    return LogLine(e.get("source_id", ""), (e.get("tags") or {}).get("source_type", ""), e.get("instance_id", ""),
                   STDERR if log.get("type") == "ERR" else STDOUT, int(e.get("timestamp", "0")) // 1000, "", message)


class Printer:
    def __init__(self, color: bool) -> None:
        self.color = color
        self.tz = dt.datetime.now().astimezone().tzinfo or dt.UTC

    def __call__(self, line: LogLine) -> None:
        text = format_cf(line, tz=self.tz)
        if self.color:
            # The time dim, [SOURCE/INSTANCE] cyan, an ERR line's type and message red.
            parts = []
            for part in text.split("\n"):
                when, tag, rest = part.split(" ", 2)
                body = f"\x1b[31m{rest}\x1b[0m" if line.stream == STDERR else rest
                parts.append(f"\x1b[2m{when}\x1b[0m \x1b[36m{tag}\x1b[0m {body}")
            text = "\n".join(parts)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _check(r: httpx.Response) -> None:
    if r.status_code in (401, 403):
        raise CliError(f"the server refused the token ({r.status_code}); pass --token or set VIGIL_TOKEN")
    if r.status_code >= 400:
        raise CliError(f"the server answered {r.status_code}: {r.text[:200]}")


async def recent(client: httpx.AsyncClient, app: str, lines: int, source: str | None) -> list[LogLine]:
    params = {"start_time": GO_ZERO_TIME_NS, "descending": "true", "envelope_types": "LOG",
              "limit": READ_MAX if source else lines}
    r = await client.get(f"/api/v1/read/{app}", params=params)
    _check(r)
    out = [x for e in r.json()["envelopes"]["batch"] if (x := envelope_line(e))]
    if source:
        out = [x for x in out if x.source == source][:lines]
    out.reverse()
    return out


async def follow(client: httpx.AsyncClient, app: str, source: str | None, show: Printer,
                 skip: set[LogLine]) -> None:
    async with client.stream("GET", "/v2/read", params={"log": "", "source_id": app},
                             timeout=httpx.Timeout(10.0, read=None)) as resp:
        if resp.status_code >= 400:
            await resp.aread()
            _check(resp)
        async for text in resp.aiter_lines():
            if not text.startswith("data: {"):
                continue  # heartbeats and blank separators
            for e in orjson.loads(text[6:]).get("batch", []):
                line = envelope_line(e)
                if line is None or (source and line.source != source):
                    continue
                if skip and line in skip:
                    continue
                show(line)


async def logs_main(args: argparse.Namespace) -> None:
    if not 1 <= args.lines <= READ_MAX:
        raise CliError(f"--lines must be between 1 and {READ_MAX}")
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    show = Printer(color)
    auth = (args.token, "") if args.token else None
    tail = args.tail or not args.recent
    try:
        async with httpx.AsyncClient(base_url=args.server, auth=auth, timeout=30.0) as client:
            printed: set[LogLine] = set()
            if args.recent:
                for line in await recent(client, args.app, args.lines, args.source):
                    show(line)
                    printed.add(line)
            if tail:
                await follow(client, args.app, args.source, show, printed)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {args.server}: {exc}") from None


def main_logs(args: argparse.Namespace) -> int:
    try:
        asyncio.run(logs_main(args))
    except KeyboardInterrupt:
        return 0
    except CliError as exc:
        print(f"vigil logs: {exc}", file=sys.stderr)
        return 1
    return 0


def main_run(args: argparse.Namespace) -> int:
    from vigil.logs.model import is_valid_app_name
    from vigil.logs.runner import RunOptions, run

    command = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not command:
        print("vigil run: give the command to run after --", file=sys.stderr)
        return 2
    if not is_valid_app_name(args.app):
        print(f"vigil run: {args.app!r} is not an app name (lower-case letters, digits and '-')", file=sys.stderr)
        return 2
    options = RunOptions(app=args.app, server=args.server, token=args.token, instance=args.instance,
                         source=args.source, buffer_lines=max(1, args.buffer_lines), metrics=not args.no_metrics)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(command, options))
    return 130
