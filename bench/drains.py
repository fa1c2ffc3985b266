"""Log drains: ingest throughput with and without drains, and how fast the drains deliver.

    .venv/bin/python bench/drains.py [--lines 500000] [--apps 100] [--connections 8]

Starts `vigil serve` on a fresh data dir and sends `--lines` syslog lines (octet-counted, apps
round-robin, over `--connections` connections from a forked process) four times:

1. without drains;
2. with 1 healthy syslog:// drain per app, to TCP receivers in another forked process, which count
   the lines they get;
3. with 1 healthy, 1 blackholed (accepts connections, never reads) and 1 refused drain per app;
4. with 3 healthy drains per app (100 apps: 300 drains, 300 connections).

For each run: ingest lines/s (until the server's `vigil_log_lines_total` has counted every line) and
server CPU seconds; with drains also the lines/s the healthy drains' receivers got (until they have
every line, or nothing new came for 3 s) and how many lines the drains dropped or lost
(`vigil_log_drain_lines_total`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import socket
import time
from typing import Any

from _server import Server, free_port
from logs import ACCEPTED, AUTH, Totals, frames, send_syslog_elsewhere, wait_for


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
    _, body = await request(url, "GET", "/metrics")
    totals: dict[str, float] = {}
    for outcome, value in re.findall(rb'^vigil_log_drain_lines_total\{drain="[^"]+",outcome="(\w+)"\} (\S+)$', body,
                                     re.M):
        totals[outcome.decode()] = totals.get(outcome.decode(), 0.0) + float(value)
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
    cpu0 = server.cpu_seconds()
    started = time.perf_counter()
    await asyncio.to_thread(send_syslog_elsewhere, syslog_port, chunks)
    totals.accepted += n
    accepted = await wait_for(server.url, ACCEPTED, totals.accepted, started)
    cpu = server.cpu_seconds() - cpu0
    line = f"{label:<34}ingest {n / accepted:>9,.0f} lines/s ({accepted:.2f} s, server CPU {cpu:.2f} s)"
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
        line += (f"; delivered to the healthy drains {received / elapsed:>9,.0f} lines/s ({received:,} lines, "
                 f"{received / wanted:.1%} of theirs, in {elapsed:.2f} s); all drains: {dropped:,.0f} dropped, "
                 f"{failed:,.0f} failed")
    print(line, flush=True)
    return n / accepted


async def run(args: argparse.Namespace) -> None:
    apps = [f"app{i:03d}" for i in range(args.apps)]
    syslog_port = free_port()
    sink_ports = [free_port() for _ in range(3)]
    counter = multiprocessing.Value("q", 0, lock=False)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    receiver = ctx.Process(target=receive, args=(sink_ports, counter, ready), daemon=True)
    receiver.start()
    ready.wait(30)
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(1024)
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    server = Server(VIGIL_LISTENERS="on", VIGIL_SYSLOG_PORT=str(syslog_port), VIGIL_GRPC_PORT="0")
    server.start()
    totals = Totals()
    try:
        print(f"{args.lines:,} lines per run across {len(apps)} apps, {args.connections} connections")
        # Every app exists before the first run, so that each run does the same work.
        await asyncio.to_thread(send_syslog_elsewhere, syslog_port, [b"".join(frames(apps, len(apps), 0))])
        totals.accepted += len(apps)
        await wait_for(server.url, ACCEPTED, totals.accepted, time.perf_counter())
        base = await run_once(server, syslog_port, apps, args, totals, counter, "no drains:", 0, 0)
        healthy = [f"syslog://127.0.0.1:{p}" for p in sink_ports]
        dead = [f"syslog://127.0.0.1:{blackhole.getsockname()[1]}", f"syslog://127.0.0.1:{refusing.getsockname()[1]}"]
        n = await set_drains(server.url, apps, healthy[:1])
        one = await run_once(server, syslog_port, apps, args, totals, counter, f"{n} healthy drains (1 per app):", 1, 1)
        n = await set_drains(server.url, apps, healthy[:1] + dead)
        # Until the blackholed connections are full (the kernel's and the drain's buffers, a few hundred
        # KB each), a blackholed drain cannot be told from a healthy one: fill them first, untimed.
        await asyncio.to_thread(send_syslog_elsewhere, syslog_port, [b"".join(frames(apps, 400 * len(apps), 0))] * 10)
        totals.accepted += 4_000 * len(apps)
        await wait_for(server.url, ACCEPTED, totals.accepted, time.perf_counter())
        await asyncio.sleep(3)
        mixed = await run_once(server, syslog_port, apps, args, totals, counter, f"{n} drains, 2 of 3 dead:", 3, 1)
        n = await set_drains(server.url, apps, healthy)
        three = await run_once(server, syslog_port, apps, args, totals, counter, f"{n} healthy drains:", 3, 3)
        print(f"ingest relative to no drains: 1 healthy drain per app {one / base:.0%}; 1 healthy + 1 blackholed + "
              f"1 refused per app {mixed / base:.0%}; 3 healthy per app {three / base:.0%}")
        print(f"server memory peak: {server.peak_rss_mib():.0f} MiB")
    finally:
        server.stop()
        receiver.kill()
        blackhole.close()
        refusing.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=500_000)
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--connections", type=int, default=8)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
