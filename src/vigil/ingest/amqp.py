"""Consumes OpenStack notifications from RabbitMQ, as StackTach's worker did, one consumer per deployment.

For each configured exchange (topic; `nova` and `glance` by default) and routing key
(`notifications.info`, `notifications.error` by default) the consumer binds its own queue,
`<prefix>.<exchange>.<routing key>`, and stores what arrives. An exchange that already exists is
used as it is (OpenStack declares its own, often not durable); a missing one is declared.

Deliveries are stored in batches (whatever arrived while the previous batch was being stored, up
to the prefetch count) and acknowledged only once the batch is in the write-ahead log. A malformed
message is logged, counted and acknowledged with its batch, so it never blocks the queue. When the
connection drops, unacknowledged messages go back to the broker and the consumer reconnects with
exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq.abc
from aio_pika.abc import AbstractChannel, AbstractConnection

from vigil.errors import Unavailable
from vigil.events.service import Events, Message

log = logging.getLogger(__name__)

# Deliveries are taken from aio-pika's underlying aiormq channel: aio-pika's own message objects (and
# the task it starts for each) cost more CPU than storing the notification does.
Delivery = aiormq.abc.DeliveredMessage


def safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class AmqpConsumer:
    def __init__(self, name: str, url: str, events: Events, *, exchanges: list[str], routing_keys: list[str],
                 queue_prefix: str, durable: bool, prefetch: int, reconnect_max: float) -> None:
        self.name = name
        self.url = url
        self.events = events
        self.exchanges = exchanges
        self.routing_keys = routing_keys
        self.queue_prefix = queue_prefix
        self.durable = durable
        self.prefetch = prefetch
        self.reconnect_max = reconnect_max
        self.connected = asyncio.Event()
        self.stored_batches = 0
        self._closing = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def queue_name(self, exchange: str, routing_key: str) -> str:
        return f"{self.queue_prefix}.{exchange}.{routing_key}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"amqp-{self.name}")

    async def close(self) -> None:
        self._closing = True
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                await self._session()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any broker or network failure: reconnect
                self.connected.clear()
                if self._closing:
                    return
                delay = min(self.reconnect_max, 0.5 * 2 ** min(attempt, 16)) * random.uniform(0.8, 1.2)
                log.warning("AMQP deployment %s (%s): %s; reconnecting in %.1fs", self.name, safe_url(self.url),
                            exc or type(exc).__name__, delay)
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def _exchange(self, connection: AbstractConnection, channel: AbstractChannel, name: str) -> None:
        # Probe on a throwaway channel: a failed passive declaration closes the channel it ran on.
        probe = await connection.channel()
        try:
            await probe.declare_exchange(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=self.durable)
        finally:
            if not probe.is_closed:
                await probe.close()

    async def _session(self) -> None:
        connection = await aio_pika.connect(self.url, timeout=10)
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)
            inbox: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=self.prefetch * 2)
            raw = await channel.get_underlay_channel()
            for exchange in self.exchanges:
                await self._exchange(connection, channel, exchange)
                for key in self.routing_keys:
                    queue = await channel.declare_queue(self.queue_name(exchange, key), durable=self.durable)
                    await queue.bind(exchange, routing_key=key)
                    await raw.basic_consume(queue.name, inbox.put)
            # Listed among the deployments once its queues exist (so nothing published from now on is lost).
            deployment_id = await self.events.deployments.ensure(self.name)
            self.connected.set()
            log.info("AMQP deployment %s consuming %s from %s", self.name, ", ".join(self.exchanges),
                     safe_url(self.url))
            await self._consume(raw, deployment_id, inbox, lost)
        finally:
            self.connected.clear()
            if not connection.is_closed:
                await connection.close()

    async def _next(self, inbox: asyncio.Queue[Delivery], lost: asyncio.Event) -> list[Delivery] | None:
        getter = asyncio.ensure_future(inbox.get())
        stopper = asyncio.ensure_future(self._stop.wait())
        loser = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait({getter, stopper, loser}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (stopper, loser):
                waiter.cancel()
        if not getter.done():
            getter.cancel()
            if lost.is_set() and not self._closing:
                raise ConnectionError("connection to the broker lost")
            return None
        batch = [getter.result()]
        # At most half the prefetch window: the other half keeps arriving while this batch is stored.
        while len(batch) < max(1, self.prefetch // 2) and not inbox.empty():
            batch.append(inbox.get_nowait())
        return batch

    async def _consume(self, raw: aiormq.abc.AbstractChannel, deployment_id: int, inbox: asyncio.Queue[Delivery],
                       lost: asyncio.Event) -> None:
        acked = 0  # delivery tags up to this one are acknowledged (tags are per channel)
        while True:
            batch = await self._next(inbox, lost)
            if batch is None:
                return
            messages = [Message(bytes(m.body), m.routing_key or "", m.exchange or "") for m in batch]
            while True:
                try:
                    await self.events.ingest_messages(deployment_id, messages)
                    break
                except Unavailable as exc:
                    # Storage is behind or stopping: keep the batch unacknowledged and try again.
                    if self._closing or lost.is_set():
                        return
                    log.warning("AMQP deployment %s: %s; retrying the batch", self.name, exc)
                    await asyncio.sleep(1.0)
            tags = sorted(m.delivery_tag or 0 for m in batch)
            if tags == list(range(acked + 1, acked + 1 + len(tags))):
                await raw.basic_ack(tags[-1], multiple=True)  # one frame for the whole batch
            else:
                for tag in tags:
                    await raw.basic_ack(tag)
            acked = max(acked, tags[-1])
            self.stored_batches += 1


class AmqpIngest:
    """The consumers of every configured deployment."""

    def __init__(self, deployments: list[tuple[str, str]], events: Events, *, exchanges: list[str],
                 routing_keys: list[str], queue_prefix: str, durable: bool, prefetch: int,
                 reconnect_max: float) -> None:
        self.consumers = [AmqpConsumer(name, url, events, exchanges=exchanges, routing_keys=routing_keys,
                                       queue_prefix=queue_prefix, durable=durable, prefetch=prefetch,
                                       reconnect_max=reconnect_max) for name, url in deployments]

    def start(self) -> None:
        for consumer in self.consumers:
            consumer.start()

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.consumers))
