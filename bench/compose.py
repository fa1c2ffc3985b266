"""Composite query latency over the ingest benchmark's workload (10,000 series × 60 points).

    python bench/compose.py [--repeat 30]

Queries at 60 s resolution over the hour: the divide of two sums over every series of two metrics,
and a sum grouped by region. Prints p50/p99 per query.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from _server import TOKEN, Server, post_all
from ingest import bodies
from query import percentile

QUERIES = {
    "divide of two sums (2 × 1,000 series)": 'divide([sum(s("bench.m1","*")), sum(s("bench.m2","*"))])',
    "group_by region, sum (1,000 series)": 'group_by("region", sum(s("bench.m1","*")))',
}


async def run(repeat: int) -> None:
    server = Server()
    server.start()
    try:
        now = int(time.time())
        await post_all(server.url, "/v1/measurements", bodies(now), 8)
        start = now - now % 60 - 3600
        async with httpx.AsyncClient(base_url=server.url, auth=(TOKEN, ""), timeout=60) as client:
            for name, expression in QUERIES.items():
                params = {"compose": expression, "start_time": start, "end_time": start + 3599, "resolution": 60}
                latencies = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    r = await client.get("/v1/measurements", params=params)
                    latencies.append(time.perf_counter() - started)
                    assert r.status_code == 200 and r.json()["series"], r.text
                print(f"{name:40s} p50 {percentile(latencies, .5) * 1000:6.1f} ms   "
                      f"p99 {percentile(latencies, .99) * 1000:6.1f} ms   ({len(r.json()['series'])} series)")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    asyncio.run(run(parser.parse_args().repeat))
