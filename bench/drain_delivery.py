"""The drain delivery process alone: its CPU per line, without the server or ingest around it.

    .venv/bin/python bench/drain_delivery.py [--lines 500000] [--apps 100] [--turn 2000] [--rate 200000]
                                             [--scenarios one,mixed,three] [--set drain_NAME=VALUE]
                                             [--scenarios handoff,handoff-columns] [--drained N]

`bench/drains.py` measures what matters (ingest with drains against ingest without), but on a shared
2-core machine its figures move by ±20 % between identical runs. This one starts
`python -m vigil.drains.child` as the server does, gives it the same drains as `bench/drains.py`
(1 healthy syslog:// drain per app; 1 healthy + 1 blackholed + 1 refused; 3 healthy), feeds it the
messages the server would send (one `Lines` message per turn of `--turn` lines, apps round-robin,
grouped by app) at `--rate` lines/s (about what ingest reaches here), and reports the process's CPU seconds until the
healthy drains' receivers (a forked process counting LF-terminated frames) have every line: a
figure of the process's own work, much steadier than a throughput. The blackholed connections are
stalled by the same 400,000-line warm-up as in `bench/drains.py`. `handoff` measures the server's
side instead: the tap and the per-turn message and pipe write, in-process (thread CPU time), with the
groups as lists of `LogLine`s (HTTP, gRPC, builds); `handoff-columns` the same with the groups as the
syslog workers hand them (one worker report per turn, its groups read by `report_groups`: slices that
know their rows in the report's bytes). `--drained N` gives only the first N apps a drain (a report
then holds rows of apps without drains too).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import uvloop

from drains import Sinks, process_cpu, summary
from vigil.config import Settings
from vigil.drains.channel import Drains, DrainSpec, Encoder, Finish, Init
from vigil.drains.handoff import lines_message
from vigil.drains.process import drain_settings
from vigil.logs.columns import ColumnLines, lines_columns, to_ipc
from vigil.logs.model import LogLine
from vigil.logs.syslog_wire import Report, report_groups


def turn_groups(apps: list[str], total: int, per_turn: int, offset: int) -> list[dict[str, list[LogLine]]]:
    """`total` lines in turns of `per_turn`, apps round-robin, grouped by app as the log pipeline groups them."""
    now = time.time_ns() // 1000
    out = []
    for start in range(offset, offset + total, per_turn):
        groups: dict[str, list[LogLine]] = {}
        for i in range(start, min(offset + total, start + per_turn)):
            app = apps[i % len(apps)]
            groups.setdefault(app, []).append(LogLine(
                app, "app", f"web.{i % 4 + 1}", "stdout", now + i, "127.0.0.1",
                f"GET /items/{i} 200 in {i % 97} ms bytes={i % 5000} user-agent=bench"))
        out.append(groups)
    return out


def as_report(groups: dict[str, list[LogLine]]) -> Report:
    """A turn's lines as a syslog worker reports them: an Arrow IPC stream, grouped by app."""
    table = lines_columns([line for lines in groups.values() for line in lines])
    return Report({app: len(lines) for app, lines in groups.items()}, to_ipc(table))


def as_columns(groups: dict[str, list[LogLine]]) -> list[tuple[str, ColumnLines]]:
    """A turn's groups as the server reads a worker report (`report_groups`: slices that know their rows
    in the report's bytes). Made right before they are used: a `ColumnLines` older than
    `columns.SETTLE_AFTER` lets go of its columns, as in the server."""
    return list(report_groups(as_report(groups))[0].items())


def turns(apps: list[str], total: int, per_turn: int, offset: int) -> list[bytes]:
    """The `Lines` messages of `total` lines, framed as the server frames them."""
    enc = Encoder()
    return [bytes(enc.frame(lines_message(as_columns(groups))))
            for groups in turn_groups(apps, total, per_turn, offset)]


def wait_for(counter: Any, target: int, started: float, limit: float = 120) -> float:
    """Seconds from `started` until `target` lines arrived (or nothing new came for 5 s)."""
    last, last_change = counter.value, started
    while counter.value < target:
        time.sleep(0.02)
        if counter.value != last:
            last, last_change = counter.value, time.perf_counter()
        elif time.perf_counter() - last_change > 5:
            break
        if time.perf_counter() - started > limit:
            break
    return last_change - started


def coerce(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def run(args: argparse.Namespace, name: str, targets: list[str], healthy: int, counter: Any) -> None:
    apps = [f"app{i:03d}" for i in range(args.apps)]
    settings = Settings(**{k: coerce(v) for k, v in (e.split("=", 1) for e in args.set)})
    specs = [DrainSpec(str(uuid.uuid4()), "app", app, url, f"d.{uuid.uuid4()}", False, None, 0.0, 0.0, [app])
             for app in apps for url in targets]
    proc = subprocess.Popen([sys.executable, "-m", "vigil.drains.child"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    # Its counters and notices come back on stdout: read and discard them, as the server would.
    threading.Thread(target=lambda out=proc.stdout: all(iter(lambda: out.read(1 << 16), b"")), daemon=True).start()
    enc = Encoder()
    proc.stdin.write(enc.frame(Init(drain_settings(settings), 30)))
    proc.stdin.write(enc.frame(Drains(specs)))
    proc.stdin.flush()
    try:
        time.sleep(1)  # the drains connect
        warm = turns(apps, 4_000 * len(apps), args.turn, 0)  # as in bench/drains.py: stalls the blackholed
        base = counter.value
        started = time.perf_counter()
        for i, msg in enumerate(warm):
            proc.stdin.write(msg)
            proc.stdin.flush()
            time.sleep(max(0.0, started + (i + 1) * args.turn / args.rate - time.perf_counter()))
        wait_for(counter, base + 4_000 * len(apps) * healthy, time.perf_counter())
        time.sleep(1)
        timed = turns(apps, args.lines, args.turn, 4_000 * len(apps))
        base = counter.value
        spy = None
        if args.profile:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid),
                                    "--format", "raw", "--rate", "200", "--nonblocking", "--output",
                                    f"{args.profile}/{name}-delivery.txt"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0 = process_cpu(proc.pid)
        started = time.perf_counter()
        for i, msg in enumerate(timed):  # at --rate lines/s, as ingest would hand them over
            proc.stdin.write(msg)
            proc.stdin.flush()
            ahead = started + (i + 1) * args.turn / args.rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        elapsed = wait_for(counter, base + args.lines * healthy, started)
        cpu = process_cpu(proc.pid) - cpu0
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            print(f"  {name}-delivery.txt: {summary(Path(args.profile) / f'{name}-delivery.txt')}")
        got = counter.value - base
        print(f"{name:<6} {len(specs)} drains: delivery process {cpu:.2f} CPU s = {cpu / args.lines * 1e6:.2f} µs "
              f"per line ({got:,} of {args.lines * healthy:,} lines delivered in {elapsed:.2f} s; "
              f"load average {os.getloadavg()[0]:.2f})", flush=True)
        proc.stdin.write(enc.frame(Finish(0.1)))
        proc.stdin.close()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


async def handoff(args: argparse.Namespace, refused_port: int, columns: bool) -> None:
    """The server's side alone, in this process: `DeliveryProcess.tap` for every app group of a turn,
    then its `flush` (one message, one pipe write), as the log pipeline and the event loop call them,
    at --rate lines/s into a real delivery process (whose drains refuse: it keeps up at no cost).
    Thread CPU time of this (the server's) side only. `columns`: the groups are `ColumnLines` (as
    the syslog workers report them), else lists of `LogLine`s."""
    import asyncio
    import logging

    from vigil.drains.process import DeliveryProcess

    logging.getLogger("vigil").setLevel(logging.ERROR)  # (the refused drains' warnings)

    apps = [f"app{i:03d}" for i in range(args.apps)]
    process = DeliveryProcess(Settings(), lambda lines: None, lambda stats: None, lambda: None)
    await process.start()
    drained = apps[:args.drained] if args.drained else apps
    process.configure([DrainSpec(str(uuid.uuid4()), "app", app, f"syslog://127.0.0.1:{refused_port}",
                                 f"d.{uuid.uuid4()}", False, None, 0.0, 0.0, [app]) for app in drained])
    dec = msgspec.msgpack.Decoder(list[tuple[str, list[LogLine]]])
    enc = msgspec.msgpack.Encoder()
    # The lines as the server holds them: fresh objects each turn (decoded, as from the syslog readers
    # before they reported columns), or the columns the readers report.
    msgs: list[Any] = [as_report(groups) if columns else dec.decode(enc.encode(list(groups.items())))
                       for groups in turn_groups(apps, args.lines, args.turn, 0)]
    cpu = 0.0
    started = time.perf_counter()
    for i, groups in enumerate(msgs):
        if columns:  # (the server's reading of the report, not the hand-off: not timed)
            groups = list(report_groups(groups)[0].items())
        t0 = time.thread_time()
        for app, lines in groups:
            process.tap(app, lines)
        process.flush()
        cpu += time.thread_time() - t0
        ahead = started + (i + 1) * args.turn / args.rate - time.perf_counter() if args.rate > 0 else 0.0
        await asyncio.sleep(max(0.0, ahead))  # (--rate 0: back to back, as in a server that is never idle)
    kind = "handoff-columns" if columns else "handoff"
    tapped = args.lines * len(drained) // len(apps)
    print(f"{kind}: the server's tap + flush {cpu:.3f} CPU s = {cpu / tapped * 1e6:.3f} µs per line of a drained "
          f"app ({args.lines:,} lines in turns of {args.turn:,}, {len(drained)} of {len(apps)} apps drained; "
          f"{process.gapped:,} not sent; "
          f"load average {os.getloadavg()[0]:.2f})", flush=True)
    await process.close(0.1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=500_000)
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--turn", type=int, default=2_000, help="lines per message (per server event-loop turn)")
    p.add_argument("--rate", type=float, default=200_000,
                   help="lines/s handed to the process (handoff: 0 = turns back to back)")
    p.add_argument("--scenarios", default="one,mixed,three",
                   help="one, mixed, three, handoff, handoff-columns (the server's side)")
    p.add_argument("--drained", type=int, default=0, help="handoff: only the first N apps have a drain (0: all)")
    p.add_argument("--profile", metavar="DIR", help="py-spy the process during the timed part, into DIR")
    p.add_argument("--set", action="append", default=[], help="drain setting NAME=VALUE, e.g. drain_linger=0.1")
    args = p.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    sinks = Sinks()
    counter, healthy, dead = sinks.counter, sinks.healthy, sinks.dead
    runs = {"one": (healthy[:1], 1), "mixed": (healthy[:1] + dead, 1), "three": (healthy, 3)}
    try:
        for name in args.scenarios.split(","):
            if name in ("handoff", "handoff-columns"):
                uvloop.run(handoff(args, sinks.refusing.getsockname()[1], name == "handoff-columns"))
                continue
            targets, n = runs[name]
            run(args, name, targets, n, counter)
    finally:
        sinks.close()


if __name__ == "__main__":
    main()
