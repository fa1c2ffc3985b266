"""The in-process live fan-out: topics, all-topic subscriptions, bounded queues that drop the oldest."""

from __future__ import annotations

import asyncio

from vigil.broker.memory import MemoryBroker


async def test_publish_reaches_subscribers_of_the_topic_only() -> None:
    broker = MemoryBroker()
    a = broker.subscribe(["a"], capacity=10)
    ab = broker.subscribe(["a", "b"], capacity=10)
    everything = broker.subscribe(None, capacity=10)
    broker.publish("a", [1, 2])
    broker.publish("b", [3])
    broker.publish("c", [4])
    assert await a.get(100) == [1, 2]
    assert await ab.get(100) == [1, 2, 3]
    assert await everything.get(100) == [1, 2, 3, 4]
    assert (a.delivered, ab.delivered, everything.delivered) == (2, 3, 4)


async def test_get_waits_for_items_and_times_out_empty() -> None:
    broker = MemoryBroker()
    sub = broker.subscribe(["a"], capacity=10)
    assert await sub.get(10, wait=0.01) == []
    waiter = asyncio.create_task(sub.get(10))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    broker.publish("a", ["x"])
    assert await asyncio.wait_for(waiter, 1) == ["x"]


async def test_get_returns_at_most_max_items_oldest_first() -> None:
    broker = MemoryBroker()
    sub = broker.subscribe(["a"], capacity=10)
    broker.publish("a", [1, 2, 3, 4, 5])
    assert await sub.get(2) == [1, 2]
    assert await sub.get(10) == [3, 4, 5]


async def test_a_full_queue_drops_its_oldest_items_and_counts_them() -> None:
    broker = MemoryBroker()
    sub = broker.subscribe(["a"], capacity=3)
    broker.publish("a", [1, 2])
    broker.publish("a", [3, 4, 5])  # 5 queued, room for 3: 1 and 2 go
    assert sub.dropped == 2
    dropped, since = sub.take_dropped()
    assert dropped == 2 and since > 0
    assert sub.take_dropped()[0] == 0  # reset
    broker.publish("a", list(range(10, 20)))  # a batch larger than the queue: only its newest 3 stay
    assert await sub.get(100) == [17, 18, 19]
    assert sub.dropped == 2 + 3 + 7


async def test_a_slow_subscriber_does_not_affect_another() -> None:
    broker = MemoryBroker()
    slow = broker.subscribe(["a"], capacity=2)
    fast = broker.subscribe(["a"], capacity=1000)
    for i in range(100):
        broker.publish("a", [i])
        assert await fast.get(10) == [i]
    assert slow.dropped == 98
    assert await slow.get(10) == [98, 99]


async def test_close_removes_the_subscription_and_wakes_its_reader() -> None:
    broker = MemoryBroker()
    sub = broker.subscribe(["a", "b"], capacity=5)
    other = broker.subscribe(None, capacity=5)
    assert broker.subscriptions == 2 and broker.has_subscribers("a")
    waiter = asyncio.create_task(sub.get(10))
    await asyncio.sleep(0.01)
    sub.close()
    assert await asyncio.wait_for(waiter, 1) == []
    assert sub.closed
    broker.publish("a", [1])
    assert sub.pending == 0
    assert broker.subscriptions == 1
    other.close()
    assert not broker.has_subscribers("a")


async def test_broker_close_ends_every_subscription() -> None:
    broker = MemoryBroker()
    subs = [broker.subscribe(["a"], 5), broker.subscribe(None, 5), broker.subscribe(["a", "b"], 5)]
    await broker.close()
    assert all(s.closed for s in subs)
    assert broker.subscriptions == 0


async def test_a_queue_may_also_be_bounded_by_weight() -> None:
    broker = MemoryBroker()
    sub = broker.subscribe(["a"], capacity=100, max_bytes=10, weigh=len)
    broker.publish("a", ["aaaa", "bbbb"])  # 8
    broker.publish("a", ["cccc"])  # 12 > 10: "aaaa" goes
    assert sub.dropped == 1 and sub.bytes == 8
    assert await sub.get(1) == ["bbbb"]
    assert sub.bytes == 4
    broker.publish("a", ["x" * 20])  # heavier than the bound alone: everything goes
    assert sub.pending == 0 and sub.bytes == 0 and sub.dropped == 3
