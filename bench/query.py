"""Query latency over the ingest benchmark's workload (10,000 series × 60 points, loaded first).

    python bench/query.py [--repeat 50]

Queries, 60 s resolution over the hour: one metric filtered on region=r1 (250 series, raw), the same
grouped by region with sum, and all 1,000 series of one metric (10 pages of 100 streams). Prints
p50/p99 per query.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from _server import TOKEN, Server, post_all
from ingest import bodies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def all_pages(client: httpx.AsyncClient, path: str, params: dict[str, object]) -> int:
    r = await client.get(path, params=params)
    streams = len(r.json()["series"])
    while next_links := [link["href"] for link in r.json()["links"] if link["rel"] == "next"]:
        r = await client.get(next_links[0])
        streams += len(r.json()["series"])
    return streams


async def run(repeat: int) -> None:
    server = Server()
    server.start()
    try:
        now = int(time.time())
        await post_all(server.url, "/v1/measurements", bodies(now), 8)
        start = now - now % 60 - 3600
        window = {"start_time": start, "end_time": start + 3599, "resolution": 60}
        queries = {
            "region=r1, 250 series, raw": {**window, "tags[region]": "r1"},
            "region=r1 grouped by region (sum)": {**window, "tags[region]": "r1", "group_by": "region",
                                                  "group_by_function": "sum"},
            "all 1,000 series of one metric, first page of 100": window,
        }
        async with httpx.AsyncClient(base_url=server.url, auth=(TOKEN, ""), timeout=60) as client:
            await client.get("/v1/measurements/bench.m1", params=window)  # loads the write-ahead log
            for name, params in queries.items():
                latencies = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    r = await client.get("/v1/measurements/bench.m1", params=params)
                    latencies.append(time.perf_counter() - started)
                    assert r.status_code == 200 and r.json()["series"], r.text
                print(f"{name:52s} p50 {percentile(latencies, .5) * 1000:6.1f} ms   "
                      f"p99 {percentile(latencies, .99) * 1000:6.1f} ms   ({len(r.json()['series'])} streams)")
            latencies = []
            for _ in range(max(3, repeat // 10)):
                started = time.perf_counter()
                streams = await all_pages(client, "/v1/measurements/bench.m1", window)
                latencies.append(time.perf_counter() - started)
            print(f"{'all 1,000 series of one metric, all 10 pages':52s} p50 {percentile(latencies, .5) * 1000:6.1f}"
                  f" ms   p99 {percentile(latencies, .99) * 1000:6.1f} ms   ({streams} streams)")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    asyncio.run(run(parser.parse_args().repeat))
