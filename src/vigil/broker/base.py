"""The live fan-out interface: topics, publishers that never wait, subscribers with bounded queues.

Live readers (log tails, `/v2/read`, later drains and the stacky watch) each hold a `Subscription`.
A publisher hands a batch to every subscription of the topic and returns at once: a slow or dead
reader can never slow a source down. Each subscription is a bounded queue; when it is full its
*oldest* items are dropped and counted (Loggregator's loss rule), and the reader learns how many
and since when (`take_dropped`) so it can say so (Logplex's L10 notice).

The embedded implementation is `memory.MemoryBroker` (one process). A Redis implementation for
several nodes would publish serialized batches to Redis channels and feed the same `Subscription`
queues from one reader task per node; nothing above this interface changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol


class Subscription(Protocol):
    topics: frozenset[str] | None  # None: every topic
    capacity: int
    delivered: int  # items handed to the reader
    dropped: int  # items dropped because the reader was too slow (total)

    async def get(self, max_items: int, wait: float | None = None) -> list[Any]:
        """Up to `max_items` queued items, oldest first; waits up to `wait` seconds (None: forever) for
        the first one and returns [] when that passes or once closed."""
        ...

    def take_dropped(self) -> tuple[int, int]:
        """(items dropped since the last call, time of the first of those drops in µs) and reset."""
        ...

    @property
    def pending(self) -> int:
        """Items queued and not yet read."""
        ...

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...


class Broker(Protocol):
    def publish(self, topic: str, items: Sequence[Any]) -> None:
        """Hand `items` to every subscription of `topic` (and every all-topics subscription).
        Never blocks."""
        ...

    def subscribe(self, topics: Iterable[str] | None, capacity: int, max_bytes: int | None = None,
                  weigh: Callable[[Any], int] | None = None) -> Subscription:
        """A new subscription to `topics` (None: all) holding at most `capacity` unread items and, with
        `max_bytes`, at most that much of their weight (`weigh(item)`, e.g. a line's length)."""
        ...

    def has_subscribers(self, topic: str) -> bool: ...

    @property
    def subscriptions(self) -> int: ...

    dropped: int  # items dropped by all subscriptions since start

    async def close(self) -> None:
        """Close every subscription (their readers see [] and `closed`)."""
        ...
