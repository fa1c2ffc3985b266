"""End to end: `vigil serve` consumes a real RabbitMQ, a kombu publisher (with publisher confirms) sends
notifications, the stacky API shows them; the broker is killed and restarted in the middle, and
nothing it had confirmed is lost (nor stored twice)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import amqp
import kombu
import kombu.exceptions
import pytest

from tests.events.rabbit import broker_or_skip

pytestmark = pytest.mark.e2e


def notifications(count: int, start: dt.datetime, tag: str) -> list[dict[str, Any]]:
    """`count` instances created: an API update, create.start, create.end (i seconds long) each."""
    out = []
    for i in range(count):
        instance = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{tag}-{i}"))
        request = f"req-{uuid.uuid5(uuid.NAMESPACE_OID, f'{tag}-req-{i}')}"
        base = start + dt.timedelta(seconds=i)
        for event, publisher, offset in (("compute.instance.update", "api.api-1", 0),
                                         ("compute.instance.create.start", "compute.c-1", 1),
                                         ("compute.instance.create.end", "compute.c-1", 2 + i % 7)):
            body = {"message_id": str(uuid.uuid4()), "publisher_id": publisher, "event_type": event,
                    "priority": "INFO", "timestamp": str(base + dt.timedelta(seconds=offset)),
                    "_context_request_id": request, "_context_project_id": "tenant-1",
                    "payload": {"instance_id": instance, "state": "active"}}
            # oslo.messaging's v2 envelope for one in two
            out.append({"oslo.version": "2.0", "oslo.message": json.dumps(body)} if i % 2 else body)
    return out


def publish(url: str, bodies: list[dict[str, Any]], confirmed: list[dict[str, Any]] | None = None) -> None:
    """Publish persistent messages, each once the broker confirmed the one before; with `confirmed`,
    a lost connection ends the run quietly and `confirmed` tells how far it got."""
    try:
        with kombu.Connection(url, transport_options={"confirm_publish": True}) as conn:
            exchange = kombu.Exchange("nova", type="topic", durable=True)
            producer = conn.Producer(serializer="json")
            for body in bodies:
                producer.publish(body, exchange=exchange, routing_key="notifications.info", declare=[exchange],
                                 delivery_mode=2)
                if confirmed is not None:
                    confirmed.append(body)
    except (OSError, kombu.exceptions.KombuError, amqp.exceptions.AMQPError):
        if confirmed is None:
            raise


def stored_ids(client: Any) -> list[int]:
    ids: list[int] = []
    while True:
        rows = client.get("/stacky/search/", params={"field": "deployment", "value": "1", "limit": "1000",
                                                     "offset": str(len(ids))}).json()
        ids += [row[0] for row in rows[1:]]
        if len(rows) < 1001:
            return ids


def wait_for(client: Any, count: int, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        ids = stored_ids(client)
        if len(ids) >= count or time.monotonic() > deadline:
            return ids
        time.sleep(0.5)


def test_stacky_over_rabbitmq_with_a_broker_restart(server_factory: Any, tmp_path: Path) -> None:
    with broker_or_skip(tmp_path / "rabbit") as broker:
        server = server_factory(VIGIL_AMQP_DEPLOYMENTS=f"region-1={broker.url}", VIGIL_AMQP_RECONNECT_MAX="1",
                                VIGIL_EVENTS_REPORT_INTERVAL="0").start()
        client = server.client()
        start = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(hours=2)
        # The consumer declares its queues once connected; wait for them before publishing.
        deadline = time.monotonic() + 60
        while client.get("/stacky/deployments/").json() == [["#", "Name"]]:
            assert time.monotonic() < deadline, "the consumer did not connect"
            time.sleep(0.2)
        assert client.get("/stacky/deployments/").json() == [["#", "Name"], [1, "region-1"]]

        first = notifications(20, start, "first")
        publish(broker.url, first, None)
        assert len(wait_for(client, len(first))) == len(first)

        # A large batch: the broker is killed while it is being published and consumed. What it had
        # confirmed must all be stored; the rest is published again after the restart (a message that
        # reached the queue without its confirm then arrives twice and is stored once).
        second = notifications(700, start + dt.timedelta(minutes=30), "second")
        confirmed: list[dict[str, Any]] = []
        publisher = threading.Thread(target=publish, args=(broker.url, second, confirmed))
        publisher.start()
        deadline = time.monotonic() + 60
        while len(confirmed) < 600 and publisher.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.005)
        broker.stop(kill=True)
        publisher.join(60)
        sent = len(confirmed)
        assert 600 <= sent < len(second), sent
        broker.start()
        publish(broker.url, second[sent:], [])
        third = notifications(10, start + dt.timedelta(hours=1), "third")
        publish(broker.url, third, None)

        total = len(first) + len(second) + len(third)
        ids = wait_for(client, total)
        settled = None
        while ids != settled:  # read again until two answers agree: nothing is arriving any more
            time.sleep(1.0)
            settled, ids = ids, stored_ids(client)
        # Nothing lost, nothing twice: ids are given to new notifications only, one after another.
        assert sorted(ids) == list(range(1, total + 1))

        # The stacky views built from them: one instance of each batch, start to end.
        for tag, offset in (("first", 3), ("second", 699), ("third", 9)):
            instance = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{tag}-{offset}"))
            events = client.get("/stacky/uuid/", params={"uuid": instance}).json()
            assert [row[4] for row in events[1:]] == ["compute.instance.update", "compute.instance.create.start",
                                                      "compute.instance.create.end"]
            seconds = 1 + offset % 7
            assert client.get("/stacky/timings/uuid/", params={"uuid": instance}).json() == [
                ["?", "Event", "Time (secs)"], [".", "compute.instance.create", f"0d 00:00:0{seconds}.00"]]
        kpi = client.get("/stacky/kpi/", params={"limit": "1000"}).json()
        assert len(kpi) == 1 + total // 3
        summary = client.get("/stacky/summary/", params={"limit": "1000"}).json()
        assert summary[1][:2] == ["compute.instance.create", total // 3]
        assert server.stop() == 0
