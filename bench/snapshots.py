"""Chart data and snapshot rendering: how long a chart's data takes, and a snapshot from POST to PNG.

    python bench/snapshots.py [--snapshots 10] [--hosts 20] [--save example.png]

One hour of one-minute points for 2 metrics × 20 hosts (--hosts); a line chart with two breakout
streams (40 series). Prints the median and p95 of GET …/charts/:id/data and of POST /v1/snapshots until the
job completes, and the server's CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import httpx

from _server import TOKEN, Server


def measurements(now: int, hosts: int) -> list[dict]:
    start = now - now % 60 - 3600
    out = []
    for minute in range(60):
        for h in range(hosts):
            t = start + minute * 60
            out.append({"name": "cpu.user", "value": 40 + 25 * math.sin(minute / 9 + h) + h, "time": t,
                        "tags": {"host": f"web-{h}"}})
            out.append({"name": "cpu.system", "value": 10 + 5 * math.cos(minute / 7 + h), "time": t,
                        "tags": {"host": f"web-{h}"}})
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(count: int, hosts: int, save: str | None) -> None:
    server = Server()
    server.start()
    try:
        with httpx.Client(base_url=server.url, auth=(TOKEN, ""), timeout=120) as client:
            r = client.post("/v1/measurements", json={"measurements": measurements(int(time.time()), hosts)})
            r.raise_for_status()
            space = client.post("/v1/spaces", json={"name": "bench"}).json()["id"]
            chart = client.post(f"/v1/spaces/{space}/charts", json={
                "name": "CPU by host", "type": "line", "label": "percent",
                "thresholds": [{"operator": ">", "value": 80, "type": "red"}],
                "streams": [{"metric": "cpu.user", "group_function": "breakout", "name": "user"},
                            {"metric": "cpu.system", "group_function": "breakout", "name": "system",
                             "transform_function": "x * 2"}]}).json()["id"]
            data_times = []
            for _ in range(count):
                started = time.perf_counter()
                r = client.get(f"/v1/spaces/{space}/charts/{chart}/data", params={"duration": 3600})
                r.raise_for_status()
                data_times.append(time.perf_counter() - started)
            series = len(r.json()["series"])
            snap_times = []
            cpu0 = server.cpu_seconds()
            for _ in range(count):
                started = time.perf_counter()
                r = client.post("/v1/snapshots", json={"subject": {"chart": {"id": chart}}})
                r.raise_for_status()
                job = r.json()["job_href"].removeprefix(server.url)
                while (state := client.get(job).json()["state"]) not in ("complete", "failed"):
                    time.sleep(0.01)
                assert state == "complete", client.get(job).json()
                snap_times.append(time.perf_counter() - started)
            cpu = server.cpu_seconds() - cpu0
            image = client.get(client.get(r.json()["href"].removeprefix(server.url)).json()["image_href"]).content
            if save:
                with open(save, "wb") as f:
                    f.write(image)
        print(f"chart data ({series} series × 60 points): median {statistics.median(data_times) * 1000:.1f} ms, "
              f"p95 {percentile(data_times, 0.95) * 1000:.1f} ms over {count} requests")
        print(f"snapshot POST → PNG ({len(image)} bytes, 800×400): "
              f"median {statistics.median(snap_times) * 1000:.0f} ms, "
              f"p95 {percentile(snap_times, 0.95) * 1000:.0f} ms; server CPU {cpu / count * 1000:.0f} ms per snapshot")
        print(f"server peak RSS {server.peak_rss_mib():.0f} MiB")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--save", help="write the last snapshot's PNG here")
    args = parser.parse_args()
    run(args.snapshots, args.hosts, args.save)
