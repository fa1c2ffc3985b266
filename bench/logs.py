"""Log ingest and tail latency: 1,000,000 lines across 100 apps, via syslog TCP and via HTTP.

    .venv/bin/python bench/logs.py [--lines 1000000] [--apps 100] [--connections 8] [--tails 100]
                                   [--runs syslog,tails,logplex-1,json] [--rate LINES_PER_S]

Starts `vigil serve` on a fresh data dir, then for each transport (syslog TCP with octet counting,
HTTP `application/logplex-1`, HTTP JSON) sends every line as fast as the client can and reports
lines/s until the server has accepted them all (its `vigil_log_lines_total` counter) and until all
are in the telemetry engine. During the syslog run, `--tails` Akkeris log sessions (one per app)
follow their app while a probe line stamped with its send time goes to one app every 10 ms; the
latency of each probe from send to the tail that reads it gives p50 / p99. The syslog run is done
twice: without tails (ingest alone), then with them. Payloads are built before
the clock starts; the client shares this machine's cores with the server.

A syslog run ends when every line is accepted or counted as dropped by a syslog worker process (the
server's event loop was too far behind); the rate counts accepted lines, and the drops are printed.
CPU is printed for the server process (event loop and the engine's threads) and, apart, its syslog
workers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import socket
import threading
import time
from pathlib import Path

import orjson

from _server import TOKEN, Server, free_port, post_all

AUTH = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()


def frames(apps: list[str], total: int, offset: int) -> list[bytes]:
    """Octet-counted RFC 5424 frames, apps round-robin, the current second as timestamp."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    out = []
    for i in range(offset, offset + total):
        app = apps[i % len(apps)]
        frame = (f"<14>1 {now}.{i % 1_000_000:06d}Z {app} app web.{i % 4 + 1} - - "
                 f"GET /items/{i} 200 in {i % 97} ms bytes={i % 5000} user-agent=bench").encode()
        out.append(b"%d %b" % (len(frame), frame))
    return out


def json_bodies(apps: list[str], total: int, per_body: int) -> list[bytes]:
    now = time.time()
    bodies = []
    for start in range(0, total, per_body):
        bodies.append(orjson.dumps([{"app": apps[i % len(apps)], "source": "app", "instance": f"web.{i % 4 + 1}",
                                     "time": now, "message": f"GET /items/{i} 200 in {i % 97} ms bytes={i % 5000}"}
                                    for i in range(start, min(total, start + per_body))]))
    return bodies


async def metric(url: str, name: str) -> float:
    """The sum of the named counters (names separated by '+')."""
    reader, writer = await asyncio.open_connection(*url.removeprefix("http://").split(":"))
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n".encode())
    body = (await reader.read()).decode()
    writer.close()
    total = 0.0
    for one in name.split("+"):
        m = re.search(rf"^{re.escape(one)} ([0-9.e+]+)$", body, re.M)
        total += float(m.group(1)) if m else 0.0
    return total


ACCEPTED = 'vigil_log_lines_total{outcome="accepted"}'
# Lines a syslog worker parsed but had to drop because the server's event loop was behind (counted,
# never waited for): a run ends when every line is either accepted or counted as dropped.
DROPPED = 'vigil_log_syslog{counter="dropped"}'
SETTLED = f"{ACCEPTED}+{DROPPED}"
STORED = 'vigil_log_history_lines_total{outcome="stored"}'


async def wait_for(url: str, name: str, target: float, started: float, limit: float = 300) -> float:
    # Polled every 0.1 s: rendering /metrics costs the server a few ms each time.
    while await metric(url, name) < target:
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"{name} did not reach {target}")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def workers_cpu(server: Server) -> float:
    """CPU seconds of the server's syslog worker processes so far."""
    assert server.proc is not None
    pid = server.proc.pid
    total = 0.0
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"syslog_child" not in Path(f"/proc/{child}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class _TailReader(asyncio.Protocol):
    """One session's chunked response: the header, then the lines (chunk framing lines end in CRLF,
    Akkeris lines in LF alone, so only the latter are counted)."""

    def __init__(self, tails: Tails) -> None:
        self.tails = tails
        self.head = True
        self.partial = b""
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.partial + data
        if self.head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.partial = buf
                return
            self.head, buf = False, buf[end + 4:]
        cut = buf.rfind(b"\n")
        self.partial, buf = buf[cut + 1:], buf[:cut + 1]
        tails = self.tails
        tails.lines += buf.count(b"\n") - buf.count(b"\r\n")
        if b"probe " in buf:
            for sent in re.findall(rb"probe (\d+)", buf):
                tails.latencies.append((int(sent), (now - int(sent)) / 1e6))
        if b"Error L10" in buf:
            tails.notices += buf.count(b"Error L10")


class Tails:
    """One Akkeris log session per app, read over raw HTTP; records each probe's latency.

    The readers are protocol callbacks on this process's (uv)loop rather than stream tasks: 100 busy
    sessions deliver 5,000 chunks a second, and the client's cost per chunk comes off the CPU the
    server under test shares with it."""

    def __init__(self, url: str, apps: list[str]) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.apps = apps
        self.latencies: list[tuple[int, float]] = []  # (sent, ns since the epoch; latency, ms)
        self.lines = 0
        self.notices = 0
        self._readers: list[_TailReader] = []

    async def _request(self, method: str, path: str, body: bytes = b"") -> tuple[asyncio.StreamReader,
                                                                                 asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self._head(method, path, body))
        return reader, writer

    def _head(self, method: str, path: str, body: bytes = b"") -> bytes:
        return (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {AUTH}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for app in self.apps:
            reader, writer = await self._request("POST", f"/apps/{app}/log-sessions", b'{"lines":1,"tail":true}')
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            url = orjson.loads(await reader.readexactly(length))["logplex_url"]
            writer.close()
            path = "/" + url.split("/", 3)[3]
            transport, protocol = await loop.create_connection(lambda: _TailReader(self), self.host, self.port)
            transport.write(self._head("GET", path))  # type: ignore[attr-defined]
            self._readers.append(protocol)

    async def stop(self) -> None:
        for reader in self._readers:
            if reader.transport is not None:
                reader.transport.close()


async def probes(port: int, apps: list[str], stop: asyncio.Event, interval: float = 0.01) -> int:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    while not stop.is_set():
        app = apps[sent % len(apps)]
        frame = f"<14>1 - {app} app probe - - probe {time.time_ns()}".encode()
        writer.write(b"%d %b" % (len(frame), frame))
        sent += 1
        await asyncio.sleep(interval)
    writer.close()
    return sent


def send_syslog(port: int, chunks: list[list[bytes]], interval: float = 0.0) -> None:
    """One connection per chunk; a chunk's slices are sent `interval` seconds apart (0: at once)."""
    def one(slices: list[bytes]) -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            start = time.perf_counter()
            for k, piece in enumerate(slices):
                delay = start + k * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                s.sendall(piece)

    threads = [threading.Thread(target=one, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def send_syslog_elsewhere(port: int, chunks: list[list[bytes]], interval: float = 0.0, nice: int = 0) -> None:
    """send_syslog in a forked process (it inherits the chunks): the sending threads then cannot
    take the GIL from this process's event loop, which times the tails. `nice` is added to its nice
    value: the sender stands for other machines, and at the server's priority its eight threads
    filling their sockets took both cores for ~50-100 ms at the start of a run."""
    pid = os.fork()
    if pid == 0:  # the child: send, then leave without running this process's exit handlers
        code = 0
        os.nice(nice)
        try:
            send_syslog(port, chunks, interval)
        except BaseException:
            code = 1
        os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    if status:
        raise RuntimeError(f"the syslog sender failed ({status})")
    Totals.sender_cpu = usage.ru_utime + usage.ru_stime


PACE_SLICE = 0.002  # seconds between a paced connection's sends


class Totals:
    accepted = 0  # lines the server has been sent so far (its counter's target)
    sender_cpu = 0.0  # CPU seconds of the last syslog sender process


async def syslog_run(server: Server, port: int, apps: list[str], args: argparse.Namespace, totals: Totals,
                     tails_wanted: int) -> None:
    n = args.lines
    all_frames = frames(apps, n, 0)
    per = -(-n // args.connections)
    interval = 0.0
    if args.rate:  # paced: every connection sends its share of `rate` in slices PACE_SLICE seconds apart
        step = max(1, round(args.rate / args.connections * PACE_SLICE))
        interval = step * args.connections / args.rate
        chunks = [[b"".join(all_frames[j:j + step]) for j in range(i, min(n, i + per), step)]
                  for i in range(0, n, per)]
    else:
        chunks = [[b"".join(all_frames[i:i + per])] for i in range(0, n, per)]
    del all_frames
    tails = Tails(server.url, apps[:tails_wanted])
    if tails_wanted:
        # Every app must exist before a session can be opened for it.
        send_syslog(port, [[b"".join(frames(apps, len(apps), 0))]])
        totals.accepted += len(apps)
        await wait_for(server.url, SETTLED, totals.accepted, time.perf_counter())
        await tails.start()
    stop = asyncio.Event()
    prober = asyncio.create_task(probes(port, apps[:tails_wanted], stop)) if tails_wanted else None
    cpu0, workers0 = server.cpu_seconds(), workers_cpu(server)
    dropped0 = await metric(server.url, DROPPED)
    client0 = time.process_time()
    started = time.perf_counter()
    await asyncio.to_thread(send_syslog_elsewhere, port, chunks, interval, args.sender_nice)
    totals.accepted += n
    accepted = await wait_for(server.url, SETTLED, totals.accepted, started)
    cpu, workers = server.cpu_seconds() - cpu0, workers_cpu(server) - workers0
    client = time.process_time() - client0  # this process: the tail clients and the prober
    dropped = await metric(server.url, DROPPED) - dropped0
    sent_probes = 0
    if prober is not None:
        stop.set()
        sent_probes = await prober
        totals.accepted += sent_probes
    await asyncio.sleep(1.0)
    await tails.stop()
    stored = await wait_for(server.url, f"{STORED}+{DROPPED}", totals.accepted, started)
    label = f"syslog TCP, {tails_wanted} tails:" if tails_wanted else "syslog TCP:"
    if args.rate:
        print(f"(paced: {args.rate:,} lines/s offered)")
    print(f"{label:<21}{(n - dropped) / accepted:,.0f} lines/s accepted ({accepted:.2f} s, {dropped:,.0f} dropped), "
          f"all in the engine after {stored:.2f} s; server CPU {cpu:.2f} s + syslog workers {workers:.2f} s")
    print(f"  load generator:    sender CPU {Totals.sender_cpu:.2f} s, tail clients and prober CPU {client:.2f} s; "
          f"load average {os.getloadavg()[0]:.2f}")
    if tails_wanted:
        lat = sorted(latency for _, latency in tails.latencies)
        if args.latencies:
            first = min(sent for sent, _ in tails.latencies)
            Path(args.latencies).write_text("".join(f"{(sent - first) / 1e9:.3f} {latency:.1f} {sent / 1e9:.3f}\n"
                                                    for sent, latency in sorted(tails.latencies)))
        print(f"  tail latency:      {len(tails.apps)} sessions read {tails.lines:,} lines; "
              f"{len(lat)}/{sent_probes} probes, p50 {lat[len(lat) // 2]:.1f} ms, "
              f"p99 {lat[int(len(lat) * 0.99)]:.1f} ms, max {lat[-1]:.1f} ms; L10 notices: {tails.notices}")


async def run(args: argparse.Namespace) -> None:
    apps = [f"app{i:03d}" for i in range(args.apps)]
    syslog_port = free_port()
    # Fixed ports ("on"), not the harness's ephemeral ones: this script must know the syslog port.
    server = Server(VIGIL_LISTENERS="on", VIGIL_SYSLOG_PORT=str(syslog_port), VIGIL_GRPC_PORT="0")
    server.start()
    assert server.proc is not None
    n = args.lines
    totals = Totals()
    try:
        print(f"{n:,} lines per run across {len(apps)} apps, {args.connections} connections")
        if "syslog" in args.runs:
            await syslog_run(server, syslog_port, apps, args, totals, 0)
        if args.tails and "tails" in args.runs:
            await syslog_run(server, syslog_port, apps, args, totals, args.tails)
        # ---------------------------------------------------------------------------- HTTP
        for kind, content_type in (("logplex-1", "application/logplex-1"), ("JSON", "application/json")):
            if kind.lower() not in args.runs:
                continue
            if kind == "JSON":
                bodies = json_bodies(apps, n, args.per_body)
            else:
                f = frames(apps, n, 0)
                bodies = [b"".join(f[i:i + args.per_body]) for i in range(0, n, args.per_body)]
                del f
            cpu0 = server.cpu_seconds()
            started = time.perf_counter()
            latencies = await post_all(server.url, "/v1/logs", bodies, args.connections, content_type=content_type)
            totals.accepted += n
            accepted = await wait_for(server.url, SETTLED, totals.accepted, started)
            cpu = server.cpu_seconds() - cpu0
            stored = await wait_for(server.url, f"{STORED}+{DROPPED}", totals.accepted, started)
            latencies.sort()
            p99 = latencies[int(len(latencies) * .99)] * 1000
            print(f"HTTP {kind + ':':<15} {n / accepted:,.0f} lines/s accepted ({accepted:.2f} s, "
                  f"{len(bodies)} requests of {args.per_body} lines, p99 {p99:.0f} ms), "
                  f"all in the engine after {stored:.2f} s; server CPU {cpu:.2f} s")
            del bodies
        print(f"server memory:       {rss_mib(server.proc.pid):.0f} MiB now, {server.peak_rss_mib():.0f} MiB peak")
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--tails", type=int, default=100)
    p.add_argument("--per-body", type=int, default=2_000)
    p.add_argument("--sender-nice", type=int, default=10,
                   help="nice value added to the syslog sender process (it stands for other machines)")
    p.add_argument("--latencies", help="write each probe's send time (s from the first), latency (ms) and send "
                   "time (s since the epoch) to this file")
    p.add_argument("--rate", type=int, default=0,
                   help="offer syslog lines at this rate (lines/s) instead of as fast as the sender can")
    p.add_argument("--runs", type=lambda v: set(v.lower().split(",")), default={"syslog", "tails", "logplex-1", "json"},
                   help="which runs, comma-separated (default: syslog,tails,logplex-1,json)")
    try:
        import uvloop
    except ImportError:  # plain asyncio works too; it costs the client more CPU
        asyncio.run(run(p.parse_args()))
    else:
        uvloop.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
