"""Platform events: ingest 100,000 notifications over AMQP and 100,000 over HTTP, then query latency.

    python bench/events.py [--notifications 100000] [--connections 8] [--queries 200]

Needs Debian's rabbitmq-server (a private broker is started on free loopback ports).

- AMQP: the notifications are published into the consumer's durable queues while `vigil serve` is
  stopped, then the server is started and the time until it has stored them all is measured: the
  consumer's own rate, not the publisher's.
- HTTP: POST /v1/notifications, 1,000 a request, over `--connections` keep-alive connections.
- Queries, with those 200,000 notifications stored: `uuid/`, `timings/uuid/`, `summary/` and
  `request/` (random instances and requests), one at a time; p50 and p99.

Each instance gets four notifications (an API update, create.start, an update, create.end), so a
quarter of the notifications are timings and every request is tracked.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import kombu
import orjson

from _server import TOKEN, Server, post_all

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.events.rabbit import Broker  # the test suite's private broker


def notifications(count: int, start: dt.datetime, tag: str) -> tuple[list[dict], list[str], list[str]]:
    bodies, instances, requests = [], [], []
    for i in range(count // 4):
        instance = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{tag}-{i}"))
        request = f"req-{uuid.uuid5(uuid.NAMESPACE_OID, f'{tag}-r-{i}')}"
        instances.append(instance)
        requests.append(request)
        base = start + dt.timedelta(milliseconds=37 * i)
        for event, publisher, ms in (("compute.instance.update", "api.api-1", 0),
                                     ("compute.instance.create.start", f"compute.c-{i % 50}", 500),
                                     ("compute.instance.update", f"compute.c-{i % 50}", 4000),
                                     ("compute.instance.create.end", f"compute.c-{i % 50}", 20_000 + i % 40_000)):
            bodies.append({
                "message_id": str(uuid.uuid4()), "publisher_id": publisher, "event_type": event, "priority": "INFO",
                "timestamp": str(base + dt.timedelta(milliseconds=ms)), "_context_request_id": request,
                "_context_project_id": f"tenant-{i % 100}",
                "payload": {"instance_id": instance, "tenant_id": f"tenant-{i % 100}", "state": "active",
                            "old_state": "building", "old_task_state": "spawning", "new_task_state": None,
                            "image_meta": {"image_type": "base", "os_type": "linux"}, "memory_mb": 2048,
                            "display_name": f"server-{i}", "host": f"c-{i % 50}"}})
    return bodies, instances, requests


def publish(url: str, bodies: list[dict]) -> float:
    # Transient messages: a broker writing 100,000 persistent ones to disk throttles the publisher
    # for longer than the client's socket timeout, and the consumer's rate is what is measured here.
    started = time.perf_counter()
    with kombu.Connection(url) as conn:
        exchange = kombu.Exchange("nova", type="topic", durable=True)
        producer = conn.Producer()
        exchange(conn.default_channel).declare()
        for body in bodies:
            producer.publish(orjson.dumps(body), exchange=exchange, routing_key="notifications.info",
                             content_type="application/json", content_encoding="utf-8", delivery_mode=1)
    return time.perf_counter() - started


def stored(client: httpx.Client, source: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("vigil_events_notifications_total") and f'source="{source}"' in line \
                and 'outcome="stored"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_stored(client: httpx.Client, source: str, count: int, timeout: float = 900) -> float:
    deadline = time.monotonic() + timeout
    while (done := stored(client, source)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done:.0f} of {count} stored")
        time.sleep(0.5)
    return time.perf_counter()


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    return f"{values[len(values) // 2] * 1000:7.1f} / {values[int(len(values) * 0.99)] * 1000:7.1f} ms"


def run(count: int, connections: int, queries: int) -> None:
    broker_dir = tempfile.TemporaryDirectory(prefix="vigil-bench-rabbit-")
    broker = Broker(Path(broker_dir.name)).start()
    server = Server(VIGIL_AMQP_DEPLOYMENTS=f"bench={broker.url}", VIGIL_EVENTS_REPORT_INTERVAL="0")
    try:
        start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
        amqp_bodies, instances, requests = notifications(count, start, "amqp")
        http_bodies, more_instances, more_requests = notifications(count, start + dt.timedelta(hours=2), "http")

        # The queues exist once the consumer has run; then fill them with the server stopped.
        server.start()
        client = httpx.Client(base_url=server.url, auth=(TOKEN, ""), timeout=120)
        while client.get("/stacky/deployments/").json() == [["#", "Name"]]:
            time.sleep(0.1)
        client.close()
        server.proc.terminate()  # type: ignore[union-attr]
        server.proc.wait(60)  # type: ignore[union-attr]
        published = publish(broker.url, amqp_bodies)
        print(f"notifications:       {count} over AMQP, {count} over HTTP")
        print(f"AMQP publish:        {count / published:,.0f} notifications/s (kombu, one connection)")

        server.start()  # the same data dir
        client = httpx.Client(base_url=server.url, auth=(TOKEN, ""), timeout=120)
        began = time.perf_counter()
        cpu0 = server.cpu_seconds()
        done = wait_stored(client, "amqp", count)
        cpu = server.cpu_seconds() - cpu0
        print(f"AMQP ingest:         {count / (done - began):,.0f} notifications/s "
              f"({count / cpu:,.0f} per server CPU second)")

        payloads = [orjson.dumps(http_bodies[i:i + 1000]) for i in range(0, len(http_bodies), 1000)]
        cpu0 = server.cpu_seconds()
        began = time.perf_counter()
        latencies = asyncio.run(post_all(server.url, "/v1/notifications?deployment=bench-http", payloads,
                                         connections))
        elapsed = time.perf_counter() - began
        cpu = server.cpu_seconds() - cpu0
        print(f"HTTP ingest:         {count / elapsed:,.0f} notifications/s over {connections} connections "
              f"({count / cpu:,.0f} per server CPU second); request p50 / p99 {percentiles(latencies)}")

        # Let the lifecycle processor catch up before timing the queries.
        began = time.perf_counter()
        client.get("/stacky/summary/")
        print(f"catch-up:            {time.perf_counter() - began:.2f} s until timings were current")

        rng = random.Random(7)
        every_instance = instances + more_instances
        every_request = requests + more_requests
        for name, path, key, pool in (("uuid/", "/stacky/uuid/", "uuid", every_instance),
                                      ("timings/uuid/", "/stacky/timings/uuid/", "uuid", every_instance),
                                      ("summary/", "/stacky/summary/", None, None),
                                      ("request/", "/stacky/request/", "request_id", every_request)):
            times = []
            for _ in range(queries):
                params = {key: rng.choice(pool)} if key and pool else {}
                began = time.perf_counter()
                response = client.get(path, params=params)
                times.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
            print(f"{name:<20} p50 / p99 {percentiles(times)}  ({queries} queries, {2 * count:,} stored)")
        print(f"server peak RSS:     {server.peak_rss_mib():.0f} MiB")
        client.close()
    finally:
        server.stop()
        broker.close()
        broker_dir.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--queries", type=int, default=200)
    options = parser.parse_args()
    run(options.notifications, options.connections, options.queries)
