"""Log drains: ingest throughput with and without drains, and how fast the drains deliver.

    .venv/bin/python bench/drains.py [--lines 500000] [--apps 100] [--connections 8] [--env NAME=VALUE]

Four scenarios, each on a fresh `vigil serve` (fresh data dir): the apps are created, the drains
added, an untimed 400,000-line warm-up stalls the blackholed connections (every scenario does it, so
that each starts with the same history to store), then `--lines` syslog lines (octet-counted, apps
round-robin, over `--connections` connections from a forked process) are timed:

1. without drains;
2. with 1 healthy syslog:// drain per app, to TCP receivers in another forked process, which count
   the lines they get;
3. with 1 healthy, 1 blackholed (accepts connections, never reads) and 1 refused drain per app;
4. with 3 healthy drains per app (100 apps: 300 drains, 300 connections).

For each run: ingest lines/s (until the server's `vigil_log_lines_total` has counted every line, or
its syslog readers have counted it as dropped) and the CPU seconds of the server, its syslog readers
and its drain delivery process; with drains also the lines/s the healthy drains' receivers got (until they have
every line, or nothing new came for 3 s) and how many lines the drains dropped or lost
(`vigil_log_drain_lines_total`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import time
from typing import Any

from _server import Server, free_port
from logs import AUTH, Totals, frames, send_syslog_elsewhere

DELIVERY = b"vigil.drains.child"  # the drain delivery process's command line


async def settled_lines(url: str) -> tuple[float, float]:
    """(lines accepted, lines the syslog readers dropped because the server's event loop was behind)."""
    # Only these series: rendering every drain's series (10 per drain) ten times a second would cost
    # the server's event loop more than the drains do.
    _, body = await request(url, "GET", "/metrics?name[]=vigil_log_lines_total&name[]=vigil_log_syslog")
    m = re.search(rb'^vigil_log_lines_total\{outcome="accepted"\} (\S+)$', body, re.M)
    d = re.search(rb'^vigil_log_syslog\{counter="dropped"\} (\S+)$', body, re.M)
    return float(m.group(1)) if m else 0.0, float(d.group(1)) if d else 0.0


async def wait_accepted(url: str, target: float, started: float, limit: float = 300) -> float:
    """Seconds from `started` until `target` lines are accepted or dropped by the syslog readers."""
    while sum(await settled_lines(url)) < target:
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"the server did not take {target:,.0f} lines")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


def process_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for kid in kids:
            out.append(kid)
            out.extend(descendants(kid))
    return out


def cpu_split(server: Server) -> tuple[float, float, float]:
    """CPU seconds so far of the server process, of its drain delivery process and of its other
    child processes (the syslog readers)."""
    assert server.proc is not None
    delivery = other = 0.0
    for pid in descendants(server.proc.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if DELIVERY in cmd:
            delivery += process_cpu(pid)
        else:
            other += process_cpu(pid)
    return server.cpu_seconds(), delivery, other


def receive(ports: list[int], counter: Any, ready: Any) -> None:
    """The receivers (a forked process): count LF-terminated frames on every connection."""

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(1 << 18):
                counter.value += data.count(b"\n")
            writer.close()

        servers = [await asyncio.start_server(handle, "127.0.0.1", p, backlog=1024) for p in ports]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


async def request(url: str, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(*url.removeprefix("http://").split(":"))
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    data = await reader.read()
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


async def drain_totals(url: str) -> dict[str, float]:
    _, body = await request(url, "GET", "/metrics?name[]=vigil_log_drain_lines_total"
                                        "&name[]=vigil_log_drain_channel_lost_lines_total")
    totals: dict[str, float] = {}
    for outcome, value in re.findall(rb'^vigil_log_drain_lines_total\{drain="[^"]+",outcome="(\w+)"\} (\S+)$', body,
                                     re.M):
        totals[outcome.decode()] = totals.get(outcome.decode(), 0.0) + float(value)
    m = re.search(rb"^vigil_log_drain_channel_lost_lines_total (\S+)$", body, re.M)
    totals["channel"] = float(m.group(1)) if m else 0.0
    return totals


async def set_drains(url: str, apps: list[str], targets: list[str]) -> int:
    """Replace every app's drains by one per target; returns how many drains there are."""
    import orjson

    for app in apps:
        _, listing = await request(url, "GET", f"/apps/{app}/log-drains")
        for drain in orjson.loads(listing):
            await request(url, "DELETE", f"/apps/{app}/log-drains/{drain['id']}")
        for target in targets:
            status, body = await request(url, "POST", f"/apps/{app}/log-drains", orjson.dumps({"url": target}))
            if status != 201:
                raise RuntimeError(body.decode())
    return len(apps) * len(targets)


async def run_once(server: Server, syslog_port: int, apps: list[str], args: argparse.Namespace, totals: Totals,
                   counter: Any, label: str, drains_per_app: int, healthy_per_app: int) -> float:
    n = args.lines
    all_frames = frames(apps, n, 0)
    per = -(-n // args.connections)
    chunks = [b"".join(all_frames[i:i + per]) for i in range(0, n, per)]
    del all_frames
    before = await drain_totals(server.url)
    received0 = counter.value
    cpu0 = cpu_split(server)
    _, syslog_dropped0 = await settled_lines(server.url)
    started = time.perf_counter()
    await asyncio.to_thread(send_syslog_elsewhere, syslog_port, chunks)
    totals.accepted += n
    accepted = await wait_accepted(server.url, totals.accepted, started)
    cpu = [b - a for a, b in zip(cpu0, cpu_split(server), strict=True)]
    syslog_dropped = (await settled_lines(server.url))[1] - syslog_dropped0
    line = (f"{label:<34}ingest {n / accepted:>9,.0f} lines/s ({accepted:.2f} s; CPU s: server {cpu[0]:.2f}, "
            f"syslog readers {cpu[2]:.2f}, drain delivery {cpu[1]:.2f}; {syslog_dropped:,.0f} dropped by the "
            "syslog readers)")
    if drains_per_app:
        # Until the healthy drains' receivers have every line, or have had nothing new for 3 s (lines
        # dropped); the L10 notices are lines too, so there may be a few more.
        wanted = n * healthy_per_app
        last, last_change = counter.value, time.perf_counter()
        while counter.value - received0 < wanted and time.perf_counter() - last_change < 3:
            await asyncio.sleep(0.1)
            if counter.value != last:
                last, last_change = counter.value, time.perf_counter()
        elapsed = last_change - started
        received = counter.value - received0
        now = await drain_totals(server.url)
        dropped = now.get("dropped", 0.0) - before.get("dropped", 0.0)
        failed = now.get("failed", 0.0) - before.get("failed", 0.0)
        channel = now.get("channel", 0.0) - before.get("channel", 0.0)
        cpu = [b - a for a, b in zip(cpu0, cpu_split(server), strict=True)]
        line += (f"; until delivered, drain delivery CPU {cpu[1]:.2f} s"
                 f"; delivered to the healthy drains {received / elapsed:>9,.0f} lines/s ({received:,} lines, "
                 f"{received / wanted:.1%} of theirs, in {elapsed:.2f} s); all drains: {dropped:,.0f} dropped, "
                 f"{failed:,.0f} failed; {channel:,.0f} lines not handed to the delivery process")
    print(line, flush=True)
    return n / accepted


async def scenario(args: argparse.Namespace, apps: list[str], counter: Any, label: str, targets: list[str],
                   healthy_per_app: int) -> tuple[float, float]:
    """One run on a fresh server (so that no run pays for the history an earlier one left to store):
    the apps exist, each gets one drain per URL in `targets`, 400,000 lines stall the blackholed ones
    (every run, so that every run starts with the same history), then the timed ingest. Returns
    (ingest lines/s, peak server RSS MiB)."""
    syslog_port = free_port()
    server = Server(VIGIL_LISTENERS="on", VIGIL_SYSLOG_PORT=str(syslog_port), VIGIL_GRPC_PORT="0",
                    **dict(e.split("=", 1) for e in args.env))
    server.start()
    totals = Totals()
    try:
        await asyncio.to_thread(send_syslog_elsewhere, syslog_port, [b"".join(frames(apps, len(apps), 0))])
        totals.accepted += len(apps)
        await wait_accepted(server.url, totals.accepted, time.perf_counter())
        n = await set_drains(server.url, apps, targets) if targets else 0
        # Until the blackholed connections are full (the kernel's and the drain's buffers, a few
        # hundred KB each), a blackholed drain cannot be told from a healthy one: fill them first,
        # untimed. Every run does it, so that every run starts with the same history to store.
        await asyncio.to_thread(send_syslog_elsewhere, syslog_port, [b"".join(frames(apps, 400 * len(apps), 0))] * 10)
        totals.accepted += 4_000 * len(apps)
        await wait_accepted(server.url, totals.accepted, time.perf_counter())
        await asyncio.sleep(5)  # what the set-up left to deliver or store is done
        rate = await run_once(server, syslog_port, apps, args, totals, counter, label.format(n=n), len(targets),
                              healthy_per_app)
        return rate, server.peak_rss_mib()
    finally:
        server.stop()


async def run(args: argparse.Namespace) -> None:
    apps = [f"app{i:03d}" for i in range(args.apps)]
    sink_ports = [free_port() for _ in range(3)]
    counter = multiprocessing.Value("q", 0, lock=False)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    receiver = ctx.Process(target=receive, args=(sink_ports, counter, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(4096)
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    healthy = [f"syslog://127.0.0.1:{p}" for p in sink_ports]
    dead = [f"syslog://127.0.0.1:{blackhole.getsockname()[1]}", f"syslog://127.0.0.1:{refusing.getsockname()[1]}"]
    try:
        print(f"{args.lines:,} lines per run across {len(apps)} apps, {args.connections} connections; "
              f"load average {os.getloadavg()[0]:.2f}")
        base, rss0 = await scenario(args, apps, counter, "no drains:", [], 0)
        one, rss1 = await scenario(args, apps, counter, "{n} healthy drains (1 per app):", healthy[:1], 1)
        mixed, rss2 = await scenario(args, apps, counter, "{n} drains, 2 of 3 dead:", healthy[:1] + dead, 1)
        three, rss3 = await scenario(args, apps, counter, "{n} healthy drains:", healthy, 3)
        print(f"ingest relative to no drains: 1 healthy drain per app {one / base:.0%}; 1 healthy + 1 blackholed + "
              f"1 refused per app {mixed / base:.0%}; 3 healthy per app {three / base:.0%}")
        print(f"server memory peak (MiB): {rss0:.0f}, {rss1:.0f}, {rss2:.0f}, {rss3:.0f}; "
              f"load average {os.getloadavg()[0]:.2f}")
    finally:
        receiver.kill()
        blackhole.close()
        refusing.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=500_000)
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server, e.g. VIGIL_DRAIN_LINGER=0.1")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
