"""In-process fan-out (the embedded default): every subscription is a deque in this process.

All calls happen on the event loop's thread (listeners, HTTP handlers and the gRPC server share one
loop), so there are no locks. A publish costs one dict lookup when nobody listens to the topic, and
one `deque.extend` per subscriber otherwise.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vigil.broker.drops import Drops
from vigil.broker.waiting import wait_for_items


class MemorySubscription:
    __slots__ = ("_broker", "_closed", "_event", "_queue", "bytes", "capacity",
                 "delivered", "drops", "max_bytes", "topics", "weigh")

    def __init__(self, broker: MemoryBroker, topics: frozenset[str] | None, capacity: int,
                 max_bytes: int | None = None, weigh: Callable[[Any], int] | None = None) -> None:
        if capacity < 1 or (max_bytes is not None and (max_bytes < 1 or weigh is None)):
            raise ValueError("capacity (and max_bytes, with weigh) must be positive")
        self._broker = broker
        self.topics = topics
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.weigh = weigh
        self.bytes = 0  # weight of the queued items (with max_bytes)
        self._queue: deque[Any] = deque()
        self._event = asyncio.Event()
        self._closed = False
        self.delivered = 0
        self.drops = Drops()

    def push(self, items: Sequence[Any]) -> None:
        queue = self._queue
        queue.extend(items)
        excess = len(queue) - self.capacity
        if self.max_bytes is not None:
            weigh = self.weigh
            assert weigh is not None
            self.bytes += sum(map(weigh, items))
            if excess > 0 or self.bytes > self.max_bytes:
                dropped = 0
                while queue and (excess > 0 or self.bytes > self.max_bytes):
                    self.bytes -= weigh(queue.popleft())
                    excess -= 1
                    dropped += 1
                self._count_drops(dropped)
        elif excess > 0:
            # Drop the oldest: a reader that falls behind sees the newest lines, as Loggregator does.
            if excess == len(queue):
                queue.clear()
            else:
                for _ in range(excess):
                    queue.popleft()
            self._count_drops(excess)
        self._event.set()

    def _count_drops(self, n: int) -> None:
        if n > 0:
            self.drops.add(n)
            self._broker.dropped += n

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(self, max_items: int, wait: float | None = None) -> list[Any]:
        queue = self._queue
        if not queue and not self._closed and not await wait_for_items(self._event, wait):
            return []
        n = min(max_items, len(queue))
        if n == len(queue):
            out = list(queue)
            queue.clear()
            self.bytes = 0
        else:
            out = [queue.popleft() for _ in range(n)]
            if self.weigh is not None:
                self.bytes -= sum(map(self.weigh, out))
        self.delivered += len(out)
        return out

    @property
    def dropped(self) -> int:
        return self.drops.total

    def take_dropped(self) -> tuple[int, int]:
        return self.drops.take()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._broker._remove(self)
            self._event.set()


class MemoryBroker:
    def __init__(self) -> None:
        self._by_topic: dict[str, list[MemorySubscription]] = {}
        self._everything: list[MemorySubscription] = []
        self._count = 0
        self.dropped = 0  # items dropped by all subscriptions, ever

    def publish(self, topic: str, items: Sequence[Any]) -> None:
        if not items:
            return
        subs = self._by_topic.get(topic)
        if subs:
            for sub in subs:
                sub.push(items)
        for sub in self._everything:
            sub.push(items)

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._everything) or topic in self._by_topic

    def subscribe(self, topics: Iterable[str] | None, capacity: int, max_bytes: int | None = None,
                  weigh: Callable[[Any], int] | None = None) -> MemorySubscription:
        wanted = None if topics is None else frozenset(topics)
        sub = MemorySubscription(self, wanted, capacity, max_bytes, weigh)
        if wanted is None:
            self._everything.append(sub)
        else:
            for topic in wanted:
                self._by_topic.setdefault(topic, []).append(sub)
        self._count += 1
        return sub

    def _remove(self, sub: MemorySubscription) -> None:
        if sub.topics is None:
            self._everything.remove(sub)
        else:
            for topic in sub.topics:
                subs = self._by_topic[topic]
                subs.remove(sub)
                if not subs:
                    del self._by_topic[topic]
        self._count -= 1

    @property
    def subscriptions(self) -> int:
        return self._count

    async def close(self) -> None:
        for sub in [*self._everything, *(s for subs in self._by_topic.values() for s in subs)]:
            sub.close()
