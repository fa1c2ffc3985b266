"""The AMQP consumer against a real RabbitMQ, with kombu (OpenStack's client library) publishing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import kombu

from tests.conftest import StartVigil, Vigil
from tests.events.conftest import KEEP
from tests.events.fixtures import IMAGE, A, B, note, oslo
from tests.events.rabbit import Broker
from vigil.ingest.amqp import safe_url

QUEUES = ["vigil.nova.notifications.info", "vigil.nova.notifications.error", "vigil.glance.notifications.info",
          "vigil.glance.notifications.error"]


def publish(url: str, exchange: str, routing_key: str, *bodies: Any, durable: bool = True) -> None:
    with kombu.Connection(url) as conn:
        target = kombu.Exchange(exchange, type="topic", durable=durable)
        producer = conn.Producer()
        for body in bodies:
            if isinstance(body, bytes):
                producer.publish(body, exchange=target, routing_key=routing_key, declare=[target],
                                 content_type="application/octet-stream", content_encoding="binary", delivery_mode=2)
            else:
                producer.publish(body, exchange=target, routing_key=routing_key, declare=[target],
                                 serializer="json", delivery_mode=2)


def declare_exchange(url: str, name: str, *, durable: bool) -> None:
    with kombu.Connection(url) as conn:
        kombu.Exchange(name, type="topic", durable=durable)(conn.channel()).declare()


def ready_messages(url: str) -> int:
    with kombu.Connection(url) as conn:
        channel = conn.channel()
        return sum(channel.queue_declare(queue=q, passive=True).message_count for q in QUEUES)


async def start_consuming(start_vigil: StartVigil, broker: Broker, **overrides: Any) -> Vigil:
    vigil = await start_vigil(events_retention=KEEP, amqp_deployments=[f"region-1={broker.url}"],
                              amqp_reconnect_max=1.0, **overrides)
    consumer = vigil.services.amqp.consumers[0]
    await asyncio.wait_for(consumer.connected.wait(), 30)
    return vigil


async def wait_for_ids(vigil: Vigil, count: int) -> None:
    deadline = time.monotonic() + 30
    while vigil.services.events.writer.last_id < count:
        assert time.monotonic() < deadline, f"only {vigil.services.events.writer.last_id} of {count} stored"
        await asyncio.sleep(0.05)


def malformed(vigil: Vigil) -> float:
    value = vigil.services.self_metrics.registry.get_sample_value(
        "vigil_events_notifications_total", {"source": "amqp", "outcome": "malformed"})
    return value or 0.0


async def test_consumes_nova_and_glance(start_vigil: StartVigil, broker: Broker) -> None:
    vigil = await start_consuming(start_vigil, broker)
    nova = [note("compute.instance.create.start", "10:00:00", instance=A, state="building"),
            oslo(note("compute.instance.create.end", "10:00:30.500000", instance=A, state="active"))]
    await asyncio.to_thread(publish, broker.url, "nova", "notifications.info", *nova)
    await wait_for_ids(vigil, 2)
    await asyncio.to_thread(publish, broker.url, "nova", "notifications.error", b"{not json",
                            note("compute.instance.delete.error", "10:01:00", instance=B, state="error"))
    await asyncio.to_thread(publish, broker.url, "glance", "notifications.info",
                            note("image.upload", "10:02:00", publisher="image.g-1", id=IMAGE, status="saving"))
    await wait_for_ids(vigil, 4)
    client = vigil.client
    rows = (await client.get(f"/stacky/uuid/?uuid={A}")).json()
    assert [r[1:5] for r in rows[1:]] == [[" ", "2014-01-14 10:00:00", "region-1", "compute.instance.create.start"],
                                          [" ", "2014-01-14 10:00:30.500000", "region-1",
                                           "compute.instance.create.end"]]
    assert (await client.get(f"/stacky/timings/uuid/?uuid={A}")).json()[1] == [".", "compute.instance.create",
                                                                               "0d 00:00:30.50"]
    assert (await client.get(f"/stacky/uuid/?uuid={B}")).json()[1][1] == "E"
    glance = (await client.get(f"/stacky/uuid/?uuid={IMAGE}&service=glance")).json()
    assert glance[1][4:] == ["image.upload", "g-1", "saving"]
    show = (await client.get("/stacky/show/3/")).json()
    assert show[0][4] == ["Category", "notifications.error"]
    assert json.loads(show[1])[0] == "notifications.error"
    assert malformed(vigil) == 1.0
    await vigil.services.amqp.close()
    # everything, the malformed message too, was acknowledged: nothing goes back to the queues
    assert await asyncio.to_thread(ready_messages, broker.url) == 0


async def test_reconnects_after_a_broker_restart(start_vigil: StartVigil, broker: Broker) -> None:
    vigil = await start_consuming(start_vigil, broker)
    consumer = vigil.services.amqp.consumers[0]
    await asyncio.to_thread(publish, broker.url, "nova", "notifications.info",
                            note("compute.instance.update", "10:00:00", instance=A))
    await wait_for_ids(vigil, 1)
    await asyncio.to_thread(broker.stop, kill=True)
    deadline = time.monotonic() + 30
    while consumer.connected.is_set():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.to_thread(broker.start)
    await asyncio.wait_for(consumer.connected.wait(), 60)
    await asyncio.to_thread(publish, broker.url, "nova", "notifications.info",
                            note("compute.instance.update", "10:00:01", instance=A))
    await wait_for_ids(vigil, 2)


async def test_uses_an_existing_exchange_as_it_is(start_vigil: StartVigil, broker: Broker) -> None:
    # OpenStack declares its exchanges itself, often not durable: the consumer must not clash with that.
    await asyncio.to_thread(declare_exchange, broker.url, "nova", durable=False)
    vigil = await start_consuming(start_vigil, broker, amqp_exchanges=["nova"],
                                  amqp_routing_keys=["monitor.info"], amqp_queue_prefix="st")
    await asyncio.to_thread(publish, broker.url, "nova", "monitor.info",
                            note("compute.instance.update", "10:00:00", instance=A), durable=False)
    await wait_for_ids(vigil, 1)
    assert vigil.services.amqp.consumers[0].queue_name("nova", "monitor.info") == "st.nova.monitor.info"


def test_passwords_stay_out_of_logs() -> None:
    assert safe_url("amqp://nova:s3cret@rabbit:5672/vh") == "amqp://nova:***@rabbit:5672/vh"
    assert safe_url("amqp://rabbit/") == "amqp://rabbit/"


async def test_prefetch_bounds_what_is_held_in_memory(start_vigil: StartVigil, broker: Broker) -> None:
    vigil = await start_consuming(start_vigil, broker, amqp_prefetch=4)
    events = vigil.services.events
    store = events.ingest_messages
    release = asyncio.Event()
    sizes: list[int] = []

    async def slow(deployment_id: int, messages: list) -> int:
        sizes.append(len(messages))
        await release.wait()
        return await store(deployment_id, messages)

    events.ingest_messages = slow  # type: ignore[method-assign]
    bodies = [note("compute.instance.update", f"10:00:{i:02d}", instance=A) for i in range(20)]
    await asyncio.to_thread(publish, broker.url, "nova", "notifications.info", *bodies)
    deadline = time.monotonic() + 30
    while not sizes:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    # held back by the first batch (at most half the window): the broker sent only the window of 4
    assert len(sizes) == 1 and sizes[0] <= 2
    assert await asyncio.to_thread(ready_messages, broker.url) == 16
    assert vigil.services.amqp.consumers[0].stored_batches == 0
    release.set()
    await wait_for_ids(vigil, 20)
    assert max(sizes) == 2 and sum(sizes) == 20
