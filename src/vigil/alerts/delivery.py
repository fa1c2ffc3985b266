"""Delivering notifications: a bounded queue, a few workers, retries with exponential backoff.

A worker makes one attempt at a time; a failed attempt that may succeed later (network error,
timeout, HTTP 5xx or 429, SMTP 4xx) is put back on the queue after `backoff × 2^(attempt-1)`
seconds (at most 5 minutes), up to `attempts` tries in all. So a dead endpoint never holds a
worker while it waits, and nothing here ever blocks the evaluator: `submit` only queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from vigil.alerts.model import Service
from vigil.alerts.notify import sender
from vigil.alerts.notify.context import Context, SmtpConfig
from vigil.alerts.notify.message import DeliveryError, Notification
from vigil.selfmetrics import SelfMetrics

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0

# (alert id, service id, "delivered" | "retrying" | "failed", error or None, when, the notification)
Outcome = Callable[[int, int, str, str | None, float, Notification], None]


@dataclass(slots=True)
class Delivery:
    service: Service
    notification: Notification
    attempt: int = 1


class Deliverer:
    def __init__(self, context: Context, metrics: SelfMetrics, *, queue_limit: int, workers: int, attempts: int,
                 backoff: float, on_outcome: Outcome) -> None:
        self.context = context
        self._metrics = metrics
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=queue_limit)
        self._workers = workers
        self._attempts = attempts
        self._backoff = backoff
        self._on_outcome = on_outcome
        self._tasks: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.TimerHandle] = set()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._retries) + self._busy

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"alert-delivery-{i}") for i in range(self._workers)]

    async def close(self, grace: float = 5.0) -> None:
        """Give queued deliveries and their retries `grace` seconds, then drop what is left (counted)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        for handle in self._retries:
            handle.cancel()
        dropped = self._queue.qsize() + len(self._retries)
        if dropped:
            self._metrics.alert_notifications.labels("any", "dropped").inc(dropped)
            log.warning("%d alert notifications were not delivered before shutdown", dropped)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.context.client.aclose()

    def submit(self, delivery: Delivery) -> bool:
        try:
            self._queue.put_nowait(delivery)
            self._idle.clear()
        except asyncio.QueueFull:
            self._metrics.alert_notifications.labels(delivery.service.type, "dropped").inc()
            self._report(delivery, "failed", "the delivery queue is full (alert_delivery_queue); notification dropped")
            return False
        return True

    def _report(self, d: Delivery, outcome: str, error: str | None) -> None:
        try:
            self._on_outcome(d.notification.alert.id, d.service.id, outcome, error, time.time(), d.notification)
        except Exception:  # recording must never stop deliveries
            log.exception("recording a delivery outcome failed")

    def _requeue(self, handle_box: list[asyncio.TimerHandle], delivery: Delivery) -> None:
        self._retries.discard(handle_box[0])
        self.submit(delivery)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self.pending:
            self._idle.set()

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.get()
            self._busy += 1
            try:
                await self._attempt(delivery)
            finally:
                self._busy -= 1
                self._check_idle()

    async def _attempt(self, d: Delivery) -> None:
        kind = d.service.type
        try:
            await sender(kind)(d.service, d.notification, self.context)
        except DeliveryError as exc:
            error = str(exc)
            retry = exc.retry and d.attempt < self._attempts
        except Exception as exc:  # a notifier's bug is a failed delivery, not a dead worker
            log.exception("%s notifier failed", kind)
            error, retry = f"internal error: {type(exc).__name__}", False
        else:
            self._metrics.alert_notifications.labels(kind, "delivered").inc()
            if d.notification.observed_at is not None:
                self._metrics.alert_notification_delay.observe(max(0.0, time.time() - d.notification.observed_at))
            self._report(d, "delivered", None)
            return
        log.warning("alert %d: %s notification to service %d failed (attempt %d): %s", d.notification.alert.id,
                    kind, d.service.id, d.attempt, error)
        if retry:
            self._metrics.alert_notifications.labels(kind, "retried").inc()
            self._report(d, "retrying", f"{error} (attempt {d.attempt} of {self._attempts}; retrying)")
            delay = min(MAX_BACKOFF, self._backoff * 2 ** (d.attempt - 1))
            box: list[asyncio.TimerHandle] = []
            box.append(asyncio.get_running_loop().call_later(delay, self._requeue, box,
                                                             Delivery(d.service, d.notification, d.attempt + 1)))
            self._retries.add(box[0])
        else:
            self._metrics.alert_notifications.labels(kind, "failed").inc()
            self._report(d, "failed", f"{error} (gave up after {d.attempt} attempt{'s' if d.attempt > 1 else ''})")


def make_context(*, timeout: float, smtp: SmtpConfig, pagerduty_url: str) -> Context:
    client = httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(max_connections=32))
    return Context(client=client, timeout=timeout, smtp=smtp, pagerduty_url=pagerduty_url)
