"""`vigil events …`: the stacky command line, against a running server.

    vigil events deployments | events | hosts | uuid UUID | timings UUID | summary | request ID | show ID
                | watch DEPLOYMENT | reports | report ID | kpi [TENANT] | search FIELD VALUE
    vigil events report --start T --end T [--region R]     (compute and store a report now)

Tables are printed with aligned columns; `watch` follows new notifications until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8080"
COMMANDS = ("deployments", "events", "hosts", "uuid", "timings", "summary", "request", "show", "watch", "reports",
            "report", "kpi", "search")


class CliError(Exception):
    pass


def events_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="query platform events (StackTach's stacky)",
                       description="Query platform events through the stacky API of a running server.")
    p.add_argument("--server", default=os.environ.get("VIGIL_URL", DEFAULT_SERVER),
                   help=f"Vigil's URL (VIGIL_URL, default {DEFAULT_SERVER})")
    p.add_argument("--token", default=os.environ.get("VIGIL_TOKEN"), help="API token (VIGIL_TOKEN)")
    p.add_argument("--service", choices=["nova", "glance", "generic"], help="which notifications (default nova)")
    p.add_argument("--limit", type=int, help="rows per list (default 50, at most 1000)")
    p.add_argument("--start", help="report: period start (unixtime or ISO 8601, UTC)")
    p.add_argument("--end", help="report: period end, exclusive")
    p.add_argument("--region", help="report: deployments whose name contains this (default all)")
    p.add_argument("--event", help="watch: only this event name")
    p.add_argument("--interval", type=float, default=2.0, help="watch: seconds between polls (default 2)")
    p.add_argument("subcommand", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
    p.add_argument("args", nargs="*", help="the command's arguments (a UUID, an id, a deployment …)")


def format_table(rows: list[list[Any]]) -> str:
    """Aligned columns under a header line; an empty result says so."""
    if not rows:
        return "No results"
    head, body = rows[0], rows[1:]
    cells = [[_cell(v) for v in row] for row in [head, *body]]
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(len(head))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if not body:
        lines.append("No results")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _when(value: str) -> str:
    """A unixtime as given, or an ISO 8601 time (UTC unless it says otherwise) as a unixtime."""
    try:
        float(value)
        return value
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{value!r} is neither a unixtime nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return str(moment.timestamp())


class Client:
    def __init__(self, server: str, token: str | None) -> None:
        self.http = httpx.Client(base_url=server.rstrip("/"), auth=(token, "") if token else None, timeout=60)

    def _check(self, response: httpx.Response) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            if isinstance(data, list) and len(data) == 2 and data[0] == ["Error", "Message"]:
                raise CliError(f"{data[1][0]}: {data[1][1]}")
            raise CliError(f"HTTP {response.status_code}: {response.text[:500]}")
        return data

    def get(self, path: str, **params: Any) -> Any:
        try:
            return self._check(self.http.get(path, params={k: v for k, v in params.items() if v is not None}))
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.http.base_url}: {exc}") from None

    def post(self, path: str, **params: Any) -> Any:
        try:
            return self._check(self.http.post(path, params={k: v for k, v in params.items() if v is not None}))
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.http.base_url}: {exc}") from None


def _arg(args: argparse.Namespace, index: int, what: str) -> str:
    if len(args.args) <= index:
        raise CliError(f"`vigil events {args.subcommand}` needs {what}")
    return str(args.args[index])


def run(args: argparse.Namespace, out: TextIO = sys.stdout, *, sleep: Callable[[float], None] = time.sleep,
        polls: int | None = None) -> None:
    client = Client(args.server, args.token)
    common = {"service": args.service, "limit": args.limit}
    command = args.subcommand

    def show(rows: Any) -> None:
        print(format_table(rows), file=out)

    if command in ("deployments", "events", "hosts", "summary", "reports"):
        show(client.get(f"/stacky/{command}/", **common))
    elif command == "uuid":
        show(client.get("/stacky/uuid/", uuid=_arg(args, 0, "a UUID"), **common))
    elif command == "timings":
        show(client.get("/stacky/timings/uuid/", uuid=_arg(args, 0, "a UUID"), limit=args.limit))
    elif command == "request":
        show(client.get("/stacky/request/", request_id=_arg(args, 0, "a request id"), limit=args.limit))
    elif command == "kpi":
        show(client.get(f"/stacky/kpi/{args.args[0]}/" if args.args else "/stacky/kpi/", limit=args.limit))
    elif command == "search":
        show(client.get("/stacky/search/", field=_arg(args, 0, "a field"), value=_arg(args, 1, "a value"), **common))
    elif command == "show":
        pairs, payload, _ = client.get(f"/stacky/show/{_arg(args, 0, 'an event id')}/", service=args.service)
        show(pairs)
        print(payload, file=out)
    elif command == "report":
        if args.start or args.end:
            if not (args.start and args.end):
                raise CliError("`vigil events report` needs both --start and --end")
            made = client.post("/v1/events/reports", start=_when(args.start), end=_when(args.end), region=args.region)
            print(f"report {made['id']} stored: {made['name']}, {made['start']} to {made['end']}", file=out)
            return
        report = client.get(f"/stacky/report/{_arg(args, 0, 'a report id (or --start and --end)')}/")
        metadata, rows = report[0], report[1:]
        print("Report metadata", file=out)
        show([["Key", "Value"], *([k, v] for k, v in sorted(metadata.items()))])
        print("\nReport details", file=out)
        show(rows)
    elif command == "watch":
        _watch(client, _arg(args, 0, "a deployment id (0: all)"), args, out, sleep, polls)


def _watch(client: Client, deployment: str, args: argparse.Namespace, out: TextIO, sleep: Callable[[float], None],
           polls: int | None) -> None:
    since: str | None = None
    printed_head = False
    count = 0
    while polls is None or count < polls:
        count += 1
        widths, rows, since = client.get(f"/stacky/watch/{deployment}/", service=args.service, since=since,
                                         event_name=args.event)
        for row in rows:
            if not printed_head:
                head = ["#", "?", "Date", "Time", "Deployment", "Event", "UUID"]
                print("  ".join(h.ljust(w) for h, w in zip(head, [widths[0], 1, 10, *widths[2:]], strict=False)),
                      file=out)
                printed_head = True
            cells = [str(row[0]).ljust(widths[0]), row[1], row[2], row[3].ljust(widths[2]), row[4].ljust(widths[3]),
                     row[5].ljust(widths[4]), row[6]]
            print("  ".join(cells).rstrip(), file=out, flush=True)
        if polls is None or count < polls:
            sleep(args.interval)


def main(args: argparse.Namespace) -> int:
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(args)
    except CliError as exc:
        print(f"vigil events: {exc}", file=sys.stderr)
        return 1
    return 0
