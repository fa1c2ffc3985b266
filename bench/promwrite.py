"""Prometheus remote-write throughput into Vigil, and the same payloads into VictoriaMetrics.

    python bench/promwrite.py [--connections 8] [--series 10000] [--samples 60]

Payloads as a Prometheus server sends them: snappy-compressed WriteRequests of 2,000 samples, each
sample of a different series (10 metrics × N/10 instances, labels job, instance, region), one
scrape every 10 s over the last `samples` × 10 s. Prints samples/s until the last 2xx, Vigil's
"all readable" time, each server's CPU seconds and peak RSS. VictoriaMetrics (Debian's
`victoria-metrics`) is skipped if it is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time

import cramjam
import httpx

from _server import TOKEN, Server, cpu_seconds, free_port, peak_rss_mib, post_all
from vigil.prom.prompb.remote_pb2 import WriteRequest

PER_REQUEST = 2_000


def bodies(series: int, samples: int, now: int) -> list[bytes]:
    start = now - now % 10 - samples * 10
    labels = [[("__name__", f"bench_metric_{i % 10}"), ("instance", f"host-{i // 10}:9100"), ("job", "node"),
               ("region", f"r{(i // 10) % 4}")] for i in range(series)]
    out = []
    request = WriteRequest()
    for step in range(samples):
        ms = (start + step * 10) * 1000
        for i in range(series):
            ts = request.timeseries.add()
            for name, value in labels[i]:
                label = ts.labels.add()
                label.name, label.value = name, value
            sample = ts.samples.add()
            sample.value, sample.timestamp = float((i * 7 + step) % 100), ms
            if len(request.timeseries) == PER_REQUEST:
                out.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
                request = WriteRequest()
    if len(request.timeseries):
        out.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    return out


def report(name: str, total: int, elapsed: float, cpu: float, latencies: list[float], rss: float) -> None:
    latencies.sort()
    print(f"{name}: {total / elapsed:,.0f} samples/s ({total} in {elapsed:.2f} s), server CPU {cpu:.2f} s "
          f"({total / cpu:,.0f} samples per CPU second), request p50/p99 "
          f"{latencies[len(latencies) // 2] * 1000:.1f}/{latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms, "
          f"peak RSS {rss:.0f} MiB")


async def vigil_run(payloads: list[bytes], total: int, connections: int) -> None:
    server = Server()
    server.start()
    try:
        assert server.proc is not None
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        latencies = await post_all(server.url, "/api/v1/write", payloads, connections,
                                   content_type="application/x-protobuf")
        elapsed = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu0
        async with httpx.AsyncClient(base_url=server.url, auth=(TOKEN, ""), timeout=300) as client:
            r = await client.get("/v1/measurements/bench_metric_0",
                                 params={"duration": 3600, "resolution": 3600, "summary_function": "count",
                                         "group_by": "*", "group_by_function": "sum"})
            r.raise_for_status()
        readable = time.perf_counter() - started
        report("vigil", total, elapsed, cpu, latencies, server.peak_rss_mib())
        print(f"vigil: all readable after {readable:.2f} s ({total / readable:,.0f} samples/s)")
    finally:
        server.stop()


def start_victoria(binary: str, data: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([binary, f"-storageDataPath={data}", f"-httpListenAddr=127.0.0.1:{port}",
                             "-retentionPeriod=1", "-loggerLevel=ERROR"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def victoria_run(payloads: list[bytes], total: int, connections: int) -> None:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        print("victoria-metrics: not installed (apt-get install victoria-metrics); skipped")
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vm-bench-") as data:
        proc = start_victoria(binary, data, port)
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url) as client:
                for _ in range(200):
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.05)
            cpu0 = cpu_seconds(proc.pid)
            started = time.perf_counter()
            latencies = await post_all(url, "/api/v1/write", payloads, connections,
                                       content_type="application/x-protobuf")
            elapsed = time.perf_counter() - started
            report("victoria-metrics", total, elapsed, cpu_seconds(proc.pid) - cpu0, latencies,
                   peak_rss_mib(proc.pid))
        finally:
            proc.terminate()
            proc.wait(30)


async def main(connections: int, series: int, samples: int) -> None:
    payloads = bodies(series, samples, int(time.time()))
    total = series * samples
    print(f"{total} samples ({series} series × {samples}) in {len(payloads)} requests of ≤ {PER_REQUEST}, "
          f"{sum(map(len, payloads)) / len(payloads) / 1024:.0f} KiB each (snappy), {connections} connections")
    await vigil_run(payloads, total, connections)
    await victoria_run(payloads, total, connections)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.connections, args.series, args.samples))
