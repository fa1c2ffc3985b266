"""Ingest throughput: 10,000 series × 60 points posted as 1,000-measurement batches.

    python bench/ingest.py [--connections 8]

Series: metric bench.m0..m9 × host h0..h999 (region r0..r3, az a..c follow from the host);
one point a minute over the last hour. Prints measurements/s, server CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

from _server import TOKEN, Server, post_all


async def query_seconds(url: str, path: str) -> float:
    import httpx

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, auth=(TOKEN, ""), timeout=120) as client:
        r = await client.get(path)
        r.raise_for_status()
        assert r.json()["series"], "nothing stored"
    return time.perf_counter() - started

METRICS = [f"bench.m{i}" for i in range(10)]
HOSTS = 1000


def host_tags(h: int) -> dict[str, str]:
    return {"host": f"h{h}", "region": f"r{h % 4}", "az": "abc"[h % 3]}


def bodies(now: int, batch: int = 1000) -> list[bytes]:
    start = now - now % 60 - 3600
    measurements = [
        {"name": metric, "value": float((h * 7 + minute) % 100), "time": start + minute * 60, "tags": host_tags(h)}
        for minute in range(60) for metric in METRICS for h in range(HOSTS)
    ]
    return [orjson.dumps({"measurements": measurements[i:i + batch]}) for i in range(0, len(measurements), batch)]


async def run(connections: int) -> None:
    server = Server()
    server.start()
    try:
        payloads = bodies(int(time.time()))
        total = len(payloads) * 1000
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        latencies = await post_all(server.url, "/v1/measurements", payloads, connections)
        elapsed = time.perf_counter() - started
        ack_cpu = server.cpu_seconds() - cpu0
        # A query waits until every acknowledged measurement is loaded into the engine.
        readable = await query_seconds(server.url, "/v1/measurements/bench.m0?duration=3700&resolution=3600"
                                       "&summary_function=count")
        cpu = server.cpu_seconds() - cpu0
        latencies.sort()
        print(f"measurements:        {total}")
        print(f"requests:            {len(payloads)} over {connections} connections")
        print(f"elapsed:             {elapsed:.2f} s")
        print(f"throughput:          {total / elapsed:,.0f} measurements/s")
        print(f"all readable after:  {elapsed + readable:.2f} s ({total / (elapsed + readable):,.0f} measurements/s)")
        print(f"server CPU:          {ack_cpu:.2f} s until the last 202, {cpu:.2f} s until all readable "
              f"({total / cpu:,.0f} measurements per CPU second; {ack_cpu / total * 1e6:.2f} µs per measurement "
              "until the last 202)")
        print(f"request p50 / p99:   {latencies[len(latencies) // 2] * 1000:.1f} / "
              f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
        print(f"server peak RSS:     {server.peak_rss_mib():.0f} MiB")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=8)
    asyncio.run(run(parser.parse_args().connections))
