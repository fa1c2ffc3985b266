"""Log drains: ingest throughput with and without drains, and how fast the drains deliver.

    .venv/bin/python bench/drains.py [--lines 500000] [--apps 100] [--connections 8] [--env NAME=VALUE]
                                     [--scenarios none,control,one,mixed,three] [--rounds 6]
                                     [--retries 2] [--max-other 0.3] [--profile DIR]

Scenarios, each on a fresh `vigil serve` (fresh data dir; all started first): the apps are created,
the drains added, an untimed 400,000-line warm-up stalls the blackholed connections (every scenario
does it, so that each starts with the same history to store), then `--rounds` rounds of timed runs
of `--lines` syslog lines (octet-counted, apps round-robin, over `--connections` connections from a
forked process), one run per scenario per round:

- none: without drains;
- control: without drains, on a second server — how far two identical servers differ here;
- one: with 1 healthy syslog:// drain per app, to TCP receivers in another forked process, which
  count the lines they get;
- mixed: with 1 healthy, 1 blackholed (accepts connections, never reads) and 1 refused drain per app;
- three: with 3 healthy drains per app (100 apps: 300 drains, 300 connections).

Each run starts once every server is quiet (what the run before left to store or deliver is done),
and every other round runs the scenarios in reverse order: a run right after another is slower.
A scenario's figure is the median over the rounds of its run's ingest rate against the same round's
run without drains (with `control`: the mean of both servers without drains): one run lasts under a
second, and identical runs differ by ±15–30 % here (the history engine's inserts and merges fall in
a run or not, and the machine's CPUs are not always as fast: the same run took 1.3 or 2.6 CPU s).

For each run: ingest lines/s (until the server's `vigil_log_lines_total` has counted every line, or
its syslog readers have counted it as dropped: polled every 10 ms, the moment interpolated between
two polls) and the CPU seconds of the server, its syslog readers and its drain delivery process;
with drains also the lines/s the healthy drains' receivers got (until they have every line, or
nothing new came for 3 s) and how many lines the drains dropped or lost
(`vigil_log_drain_lines_total`), and the receivers' CPU seconds.

The machine is shared: each run also prints the CPU seconds the whole machine was busy and how many
of them went to other processes; a run that others disturbed by more than `--max-other` CPU seconds
is done again (up to `--retries` times) and the least disturbed one is kept (every run is printed).

`--profile DIR` (py-spy, the `bench` extra) samples the server and the delivery process during each
timed run (from the first line sent until delivered) and writes collapsed stacks
(`<run>-server.txt`, `<run>-delivery.txt`) and a summary of the functions with the most
samples; the sampling costs CPU of its own, so the throughput of a profiled run is not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _server import Server, cpu_seconds, free_port, peak_rss_mib
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
    """Seconds from `started` until `target` lines are accepted or dropped by the syslog readers.

    Called once the lines are sent. Polled every `POLL` seconds, and the moment the counter reached
    `target` is interpolated between the two polls around it (each taken at the middle of its
    request): a run lasts under a second, and polls 0.1 s apart had made its figure ±10 %."""
    before: tuple[float, float] | None = None
    while True:
        asked = time.perf_counter()
        count = sum(await settled_lines(url))
        now = (asked + time.perf_counter()) / 2
        if count >= target:
            if before is None:  # done by the first poll, which follows the last line sent closely
                return now - started
            (t0, c0) = before
            return t0 + (now - t0) * (target - c0) / (count - c0) - started
        if now - started > limit:
            raise RuntimeError(f"the server did not take {target:,.0f} lines")
        before = (now, count)
        await asyncio.sleep(POLL)


POLL = 0.01


async def quiet(servers: list[Server], settle: float = 1.5, limit: float = 10) -> None:
    """Until each server and its child processes used under a tenth of a core in the same `settle`
    seconds (what the last run left to store or deliver is done: a run right after the history
    engine's work of the one before was up to 40 % slower), at most `limit` seconds."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        cpu0 = [sum(cpu_split(server)) for server in servers]
        await asyncio.sleep(settle)
        if all(sum(cpu_split(server)) - before < 0.1 * settle for server, before in zip(servers, cpu0, strict=True)):
            return


def process_cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:  # gone
        return 0.0


def machine_cpu() -> tuple[float, float, float]:
    """(busy, steal, elapsed) CPU seconds of the whole machine so far, over every core."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    steal = fields[7] if len(fields) > 7 else 0
    return (sum(fields[:8]) - idle - steal) / tick, steal / tick, sum(fields[:8]) / tick


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


def delivery_pid(server: Server) -> int | None:
    """The server's drain delivery process, if it has one."""
    assert server.proc is not None
    for pid in descendants(server.proc.pid):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
            if DELIVERY in f.read():
                return pid
    return None


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
    """The receivers (a forked process): read every byte of every connection and count its LF-terminated
    frames. A plain epoll loop reading into one buffer: counting must not cost more CPU than needed,
    since it shares the cores with the server it measures."""
    ep = select.epoll()
    listeners: dict[int, socket.socket] = {}
    conns: dict[int, socket.socket] = {}
    for p in ports:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", p))
        ls.listen(1024)
        ls.setblocking(False)
        listeners[ls.fileno()] = ls
        ep.register(ls.fileno(), select.EPOLLIN)
    ready.set()
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    while True:
        for fd, _ in ep.poll():
            ls = listeners.get(fd)
            if ls is not None:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        conn, _ = ls.accept()
                        conn.setblocking(False)
                        conns[conn.fileno()] = conn
                        ep.register(conn.fileno(), select.EPOLLIN)
                continue
            conn = conns[fd]
            try:
                n = conn.recv_into(view)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n:
                counter.value += buf.count(b"\n", 0, n)
            else:
                ep.unregister(fd)
                del conns[fd]
                conn.close()


class Profiler:
    """py-spy on the server and its delivery process during a timed run (collapsed stacks)."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, server: Server, label: str) -> None:
        if self.out is None:
            return
        beside = Path(sys.executable).parent / "py-spy"  # installed in the same environment
        spy = str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"
        assert server.proc is not None
        pids = {"server": server.proc.pid}
        if (delivery := delivery_pid(server)) is not None:
            pids["delivery"] = delivery
        for name, pid in pids.items():
            path = self.out / f"{label}-{name}.txt"
            self.procs.append((subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                                                 "--nonblocking", "--output", str(path)],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), path))

    def stop(self) -> None:
        for proc, path in self.procs:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
            if path.exists():
                print(f"  {path.name}: {summary(path)}")
        self.procs.clear()


def summary(path: Path, top: int = 12) -> str:
    """The functions with the most samples in collapsed stacks, own (leaf) samples and inclusive ones."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames_ = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].split(":")[0] for f in stack.split(";")]
        own[frames_[-1]] += n
        for f in set(frames_):
            inclusive[f] += n
    fmt = ", ".join(f"{k.strip()} {v / total:.0%}" for k, v in own.most_common(top))
    return f"{total} samples; own: {fmt}"


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
                   counter: Any, label: str, drains_per_app: int, healthy_per_app: int) -> tuple[float, float]:
    """One timed run: (ingest lines/s, CPU seconds other processes of the machine used meanwhile)."""
    n = args.lines
    all_frames = frames(apps, n, 0)
    per = -(-n // args.connections)
    chunks = [b"".join(all_frames[i:i + per]) for i in range(0, n, per)]
    del all_frames
    before = await drain_totals(server.url)
    received0 = counter.value
    cpu0 = cpu_split(server)
    _, syslog_dropped0 = await settled_lines(server.url)
    receivers0 = process_cpu(args.receiver_pid)
    args.profiler.start(server, re.sub(r"\W+", "_", label).strip("_"))
    machine0 = machine_cpu()
    started = time.perf_counter()
    await asyncio.to_thread(send_syslog_elsewhere, syslog_port, [[chunk] for chunk in chunks])
    totals.accepted += n
    accepted = await wait_accepted(server.url, totals.accepted, started)
    cpu = [b - a for a, b in zip(cpu0, cpu_split(server), strict=True)]
    busy, steal, elapsed = (b - a for a, b in zip(machine0, machine_cpu(), strict=True))
    sender = Totals.sender_cpu  # (the last sender's)
    others = busy - sum(cpu) - sender - (process_cpu(args.receiver_pid) - receivers0)
    syslog_dropped = (await settled_lines(server.url))[1] - syslog_dropped0
    line = (f"{label:<38}ingest {n / accepted:>9,.0f} lines/s ({accepted:.2f} s; CPU s: server {cpu[0]:.2f}, "
            f"syslog readers {cpu[2]:.2f}, drain delivery {cpu[1]:.2f}, load generator {sender:.2f}; machine busy "
            f"{busy:.2f} of {elapsed:.2f}, of which other processes {others:.2f}, steal {steal:.2f}; "
            f"{syslog_dropped:,.0f} dropped by the syslog readers)")
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
        line += (f"; until delivered, drain delivery CPU {cpu[1]:.2f} s, receivers "
                 f"{process_cpu(args.receiver_pid) - receivers0:.2f} s"
                 f"; delivered to the healthy drains {received / elapsed:>9,.0f} lines/s ({received:,} lines, "
                 f"{received / wanted:.1%} of theirs, in {elapsed:.2f} s); all drains: {dropped:,.0f} dropped, "
                 f"{failed:,.0f} failed; {channel:,.0f} lines not handed to the delivery process")
    args.profiler.stop()
    print(line, flush=True)
    return n / accepted, others


class Scenario:
    """A fresh server (so that no scenario pays for the history another one left to store) whose apps
    each get one drain per URL in `targets`, and an untimed 400,000-line warm-up that stalls the
    blackholed drains (every scenario does it, so that each starts with the same history)."""

    def __init__(self, name: str, label: str, targets: list[str], healthy_per_app: int) -> None:
        self.name, self.label, self.targets, self.healthy_per_app = name, label, targets, healthy_per_app
        self.syslog_port = free_port()
        self.server: Server | None = None
        self.totals = Totals()
        self.rates: list[float] = []
        self.disturbed: list[float] = []  # CPU s other processes used during each run kept

    async def start(self, args: argparse.Namespace, apps: list[str]) -> None:
        self.server = Server(VIGIL_LISTENERS="on", VIGIL_SYSLOG_PORT=str(self.syslog_port), VIGIL_GRPC_PORT="0",
                             **dict(e.split("=", 1) for e in args.env))
        self.server.start()
        await self.send(apps, 1)
        n = await set_drains(self.server.url, apps, self.targets) if self.targets else 0
        self.label = self.label.format(n=n)
        # Until the blackholed connections are full (the kernel's and the drain's buffers, a few
        # hundred KB each), a blackholed drain cannot be told from a healthy one: fill them first.
        for _ in range(10):
            await self.send(apps, 400)

    async def send(self, apps: list[str], per_app: int) -> None:
        assert self.server is not None
        chunk = b"".join(frames(apps, per_app * len(apps), 0))
        await asyncio.to_thread(send_syslog_elsewhere, self.syslog_port, [[chunk]])
        self.totals.accepted += per_app * len(apps)
        await wait_accepted(self.server.url, self.totals.accepted, time.perf_counter())

    async def run(self, args: argparse.Namespace, apps: list[str], counter: Any, servers: list[Server]) -> None:
        """One timed run once every server is quiet; done again (up to `--retries` times, the least
        disturbed kept) while other processes used more than `--max-other` CPU seconds meanwhile."""
        assert self.server is not None
        kept: tuple[float, float] | None = None
        for attempt in range(1 + args.retries):
            await quiet(servers)
            rate, others = await run_once(self.server, self.syslog_port, apps, args, self.totals, counter,
                                          f"{self.label} #{len(self.rates) + 1}", len(self.targets),
                                          self.healthy_per_app)
            if kept is None or others < kept[1]:
                kept = (rate, others)
            if others <= args.max_other:
                break
            if attempt < args.retries:
                print(f"  (other processes used {others:.2f} CPU s meanwhile: again)", flush=True)
        assert kept is not None
        self.rates.append(kept[0])
        self.disturbed.append(kept[1])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class Sinks:
    """What the drains deliver to: the receivers (a forked process counting frames into `counter`)
    behind the healthy drains' URLs, and a blackholed (accepts, never reads) and a refusing (bound,
    not listening) drain's URLs."""

    def __init__(self) -> None:
        ports = [free_port() for _ in range(3)]
        self.counter = multiprocessing.Value("q", 0, lock=False)
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        self.receiver = ctx.Process(target=receive, args=(ports, self.counter, ready), daemon=True)
        self.receiver.start()
        ready.wait(30)
        self.blackhole = socket.socket()
        self.blackhole.bind(("127.0.0.1", 0))
        self.blackhole.listen(4096)
        self.refusing = socket.socket()
        self.refusing.bind(("127.0.0.1", 0))
        self.healthy = [f"syslog://127.0.0.1:{p}" for p in ports]
        self.dead = [f"syslog://127.0.0.1:{self.blackhole.getsockname()[1]}",
                     f"syslog://127.0.0.1:{self.refusing.getsockname()[1]}"]

    def close(self) -> None:
        self.receiver.kill()
        self.blackhole.close()
        self.refusing.close()


async def run(args: argparse.Namespace) -> None:
    apps = [f"app{i:03d}" for i in range(args.apps)]
    sinks = Sinks()
    counter, healthy, dead = sinks.counter, sinks.healthy, sinks.dead
    args.receiver_pid = sinks.receiver.pid
    args.profiler = Profiler(Path(args.profile) if args.profile else None)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    try:
        print(f"{args.lines:,} lines per run across {len(apps)} apps, {args.connections} connections; "
              f"load average {os.getloadavg()[0]:.2f}")
        runs = {"none": ("no drains:", [], 0), "control": ("no drains, another server:", [], 0),
                "one": ("{n} healthy drains (1 per app):", healthy[:1], 1),
                "mixed": ("{n} drains, 2 of 3 dead:", healthy[:1] + dead, 1),
                "three": ("{n} healthy drains:", healthy, 3)}
        scenarios = [Scenario(name, *runs[name]) for name in args.scenarios.split(",")]
        try:
            for sc in scenarios:
                await sc.start(args, apps)
            servers = [sc.server for sc in scenarios if sc.server is not None]
            for r in range(args.rounds):
                # Every other round in reverse order: a run right after another one is slower (by
                # ~8 % between two servers without drains), whichever server it is.
                for sc in scenarios if r % 2 == 0 else scenarios[::-1]:
                    await sc.run(args, apps, counter, servers)
            rss = [f"{server.peak_rss_mib():.0f}" for server in servers]
            delivery_rss = [f"{peak_rss_mib(pid):.0f}" for server in servers if (pid := delivery_pid(server))]
        finally:
            for sc in scenarios:
                sc.stop()
        none = next((sc.rates for sc in scenarios if sc.name == "none"), None)
        control = next((sc.rates for sc in scenarios if sc.name == "control"), None)
        if none:
            # Each round's reference: its run without drains, or with the control scenario the mean
            # of both servers without drains (half the noise of one).
            base = [(a + b) / 2 for a, b in zip(none, control, strict=True)] if control else none
            names = {"one": "1 healthy drain per app", "mixed": "1 healthy + 1 blackholed + 1 refused per app",
                     "three": "3 healthy per app"}
            if control:
                spread = [b / a for a, b in zip(none, control, strict=True)]
                print(f"the two servers without drains, control against none: median {statistics.median(spread):.0%} "
                      f"({', '.join(f'{r:.0%}' for r in spread)})")
            figures = []
            for sc in scenarios:
                if sc.name in names:
                    ratios = [r / b for r, b in zip(sc.rates, base, strict=True)]
                    figures.append(f"{names[sc.name]} {statistics.median(ratios):.0%} "
                                   f"({', '.join(f'{r:.0%}' for r in ratios)})")
            print(f"ingest relative to no drains (the median of {args.rounds} rounds; each round's run against "
                  f"{'the mean of both servers without drains' if control else 'the no-drains run'} of that round): "
                  + "; ".join(figures))
        print("other processes' CPU s during those runs: "
              + "; ".join(f"{sc.name} {', '.join(f'{o:.2f}' for o in sc.disturbed)}" for sc in scenarios))
        print(f"server memory peak (MiB): {', '.join(rss)}; delivery processes' (MiB): {', '.join(delivery_rss)}; "
              f"load average {os.getloadavg()[0]:.2f}")
    finally:
        sinks.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=500_000)
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server, e.g. VIGIL_DRAIN_LINGER=0.1")
    p.add_argument("--scenarios", default="none,control,one,mixed,three",
                   help="which scenarios, in order: none, control, one, mixed, three")
    p.add_argument("--rounds", type=int, default=6, help="timed runs per scenario (on the same server)")
    p.add_argument("--retries", type=int, default=2, help="runs again when other processes "
                   "used more than --max-other CPU seconds during a timed run")
    p.add_argument("--max-other", type=float, default=0.3)
    p.add_argument("--profile", metavar="DIR", help="py-spy the server and the delivery process into DIR")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
