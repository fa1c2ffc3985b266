"""Alert evaluation under ingest: 1,000 alerts over the ingest benchmark's workload.

    python bench/alerts.py [--connections 8] [--alerts 1000] [--probes 40]

Runs `vigil serve` twice on fresh data dirs: once without alerts (baseline), once with the alerts
and a webhook service pointing at an HTTP receiver in this process. Both runs post the workload of
bench/ingest.py (10 metrics × 1,000 hosts × 60 points). During the second run, "probe" alerts
(each on one host of one metric, above 1000) are crossed one at a time by a single measurement
of 5000; the delay is from sending that measurement to the webhook arriving. Half the probes
are sent while the workload is being posted, half after it, on an idle server.

The alert mix (of --alerts): the probes; per-host `above` alerts (90%); per-stream wildcard
`below` alerts on a region (5%, 250 streams each); grouped `max above … for 300 s` per region
(3%, every stream of a metric); `absent for 3600 s` per host (2%).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import defaultdict

import httpx
import orjson

from _server import TOKEN, Server, post_all
from ingest import HOSTS, METRICS, bodies, host_tags


class Receiver:
    """A minimal HTTP/1.1 server: it records when each alert's webhook arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.events: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                body = orjson.loads(await reader.readexactly(length))
                if "violations" in body:
                    name = body["alert"]["name"]
                    self.arrived.setdefault(name, time.perf_counter())
                    self.events[name].set()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def alert_bodies(count: int, probes: int, service_id: int) -> list[dict]:
    out = []
    for i in range(count):
        metric = METRICS[i % len(METRICS)]
        if i < probes:
            out.append({"name": f"probe.{i}", "conditions": [{"type": "above", "metric_name": metric,
                                                              "threshold": 1000,
                                                              "tags": [{"name": "host", "values": [f"h{i}"]}]}]})
            continue
        share = i / count
        if share < 0.90:
            condition = {"type": "above", "metric_name": metric, "threshold": 1000,
                         "tags": [{"name": "host", "values": [f"h{i % HOSTS}"]}]}
        elif share < 0.95:
            condition = {"type": "below", "metric_name": metric, "threshold": -1,
                         "tags": [{"name": "region", "values": [f"r{i % 4}"]}]}
        elif share < 0.98:
            condition = {"type": "above", "metric_name": metric, "threshold": 1000, "summary_function": "max",
                         "duration": 300, "tags": [{"name": "region", "values": ["*"]},
                                                   {"name": "host", "values": ["*"], "grouped": True}]}
        else:
            condition = {"type": "absent", "metric_name": metric, "duration": 3600,
                         "tags": [{"name": "host", "values": [f"h{i % HOSTS}"]}]}
        out.append({"name": f"bench.alert.{i}", "conditions": [condition]})
    for body in out:
        body["services"] = [service_id]
    return out


async def cross(client: httpx.AsyncClient, probe: int) -> float:
    sent = time.perf_counter()
    r = await client.post("/v1/measurements", json={"measurements": [
        {"name": METRICS[probe % len(METRICS)], "value": 5000.0, "tags": host_tags(probe)}]})
    r.raise_for_status()
    return sent


async def arrival(receiver: Receiver, name: str) -> float | None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receiver.events[name].wait(), 30)
    return receiver.arrived.get(name)


async def ingest(server: Server, payloads: list[bytes], connections: int) -> tuple[float, float]:
    cpu0 = server.cpu_seconds()
    started = time.perf_counter()
    await post_all(server.url, "/v1/measurements", payloads, connections)
    return time.perf_counter() - started, server.cpu_seconds() - cpu0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def run(connections: int, count: int, probes: int) -> None:
    payloads = bodies(int(time.time()))
    total = len(payloads) * 1000
    env = {"VIGIL_LISTENERS": "off"}

    baseline = Server(**env)
    baseline.start()
    try:
        base_elapsed, base_cpu = await ingest(baseline, payloads, connections)
    finally:
        baseline.stop()

    receiver = Receiver()
    hook = await receiver.start()
    server = Server(**env)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, auth=(TOKEN, ""), timeout=60) as client:
            service_id = (await client.post("/v1/services", json={"type": "webhook", "title": "bench",
                                                                  "settings": {"url": hook}})).json()["id"]
            started = time.perf_counter()
            for body in alert_bodies(count, probes, service_id):
                (await client.post("/v1/alerts", json=body)).raise_for_status()
            setup = time.perf_counter() - started

            delays: dict[str, list[float]] = {"during ingest": [], "idle": []}

            async def probe(i: int, phase: str) -> None:
                sent = await cross(client, i)
                arrived = await arrival(receiver, f"probe.{i}")
                if arrived is not None:
                    delays[phase].append(arrived - sent)

            work = asyncio.create_task(ingest(server, payloads, connections))
            half = probes // 2
            await asyncio.sleep(0.5)
            for i in range(half):
                if work.done():
                    break
                await probe(i, "during ingest")
                await asyncio.sleep(0.1)
            elapsed, cpu = await work
            await asyncio.sleep(1.0)
            for i in range(half, probes):
                await probe(i, "idle")
                await asyncio.sleep(0.05)
            metrics = (await client.get("/metrics")).text
    finally:
        server.stop()

    dropped = next((line.split()[-1] for line in metrics.splitlines()
                    if line.startswith('vigil_alert_samples_total{outcome="dropped"}')), "0")
    print(f"measurements:             {total} over {connections} connections")
    print(f"alerts:                   {count} (created in {setup:.1f} s)")
    print(f"ingest without alerts:    {total / base_elapsed:,.0f} measurements/s, server CPU {base_cpu:.2f} s")
    print(f"ingest with alerts:       {total / elapsed:,.0f} measurements/s, server CPU {cpu:.2f} s")
    print(f"samples dropped by alerts: {dropped}")
    for phase, values in delays.items():
        if values:
            print(f"crossing → webhook, {phase + ':':15}{len(values):3d} probes, "
                  f"p50 {percentile(values, .5) * 1000:.0f} ms, p99 {percentile(values, .99) * 1000:.0f} ms, "
                  f"max {max(values) * 1000:.0f} ms")
        else:
            print(f"crossing → webhook, {phase}: no probe arrived")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(run(args.connections, args.alerts, args.probes))
