"""Log history in the real telemetry engine (chDB): batched, bounded, and read back in order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyarrow as pa

from tests.conftest import Vigil
from vigil.logs.model import STDERR, STDOUT, LogLine
from vigil.logs.store import LogStore
from vigil.storage.telemetry import TelemetryError, TelemetryStore

NOW = time.time_ns() // 1000


def store_for(vigil: Vigil, telemetry: Any = None, **kw: Any) -> LogStore:
    options = {"retention": 3600, "future_window": 600, "max_pending": 1000, "flush_lines": 10**6,
               "flush_interval": 60.0, **kw}
    return LogStore(telemetry or vigil.services.telemetry, **options)


def line(app: str, i: int, *, ts: int | None = None, source: str = "app", stream: str = STDOUT) -> LogLine:
    # Without a time: a second before now (taken at the call: the kept window moves with the clock).
    return LogLine(app, source, f"web.{i % 2 + 1}", stream, time.time_ns() // 1000 - 1_000_000 + i if ts is None
                   else ts, "10.0.0.1", f"line {i}")


async def test_lines_come_back_in_order_with_every_field(vigil: Vigil) -> None:
    store = store_for(vigil)
    lines = [line("shop", i, stream=STDERR if i == 3 else STDOUT) for i in range(5)]
    store.append(lines[:2])
    store.append(lines[2:])
    assert store.pending == 5
    assert await store.read(["shop"]) == lines  # read loads what is queued first
    assert store.pending == 0 and store.stored == 5
    assert await store.read(["shop"], descending=True, limit=2) == [lines[4], lines[3]]
    assert await store.last(["shop"], 2) == lines[3:]
    assert await store.read(["other"]) == []


async def test_lines_with_the_same_microsecond_keep_their_arrival_order(vigil: Vigil) -> None:
    store = store_for(vigil)
    lines = [LogLine("same", "app", "", STDOUT, NOW, "", f"#{i}") for i in range(20)]
    store.append(lines)
    assert [x.message for x in await store.read(["same"])] == [f"#{i}" for i in range(20)]
    assert [x.message for x in await store.read(["same"], descending=True, limit=3)] == ["#19", "#18", "#17"]


async def test_time_window_sources_and_several_apps(vigil: Vigil) -> None:
    store = store_for(vigil)
    store.append([line("a", 0, ts=NOW - 3000), line("b", 1, ts=NOW - 2000, source="router"),
                  line("a", 2, ts=NOW - 1000, source="router")])
    got = await store.read(["a", "b"], start_us=NOW - 2000, end_us=NOW - 1000)  # [start, end)
    assert [x.message for x in got] == ["line 1"]
    assert [x.message for x in await store.read(["a", "b"], sources=["router"])] == ["line 1", "line 2"]
    assert [x.message for x in await store.read(["a", "b"], start_us=NOW - 1500)] == ["line 2"]


async def test_lines_outside_the_kept_window_are_counted_not_stored(vigil: Vigil) -> None:
    store = store_for(vigil, retention=60, future_window=10)
    now = time.time_ns() // 1000
    store.append([line("w", 0, ts=now - 120_000_000), line("w", 1), line("w", 2, ts=now + 60_000_000)])
    await store.sync()
    assert store.out_of_window == 2 and store.stored == 1
    assert [x.message for x in await store.read(["w"])] == ["line 1"]


async def test_a_full_queue_drops_the_oldest_lines_and_counts_them(vigil: Vigil) -> None:
    store = store_for(vigil, max_pending=5)
    store.append([line("q", i) for i in range(3)])
    store.append([line("q", i) for i in range(3, 8)])  # 8 queued, room for 5: lines 0-2 go
    assert store.pending == 5 and store.dropped == 3
    store.append([line("q", 8)])  # one more: line 3 goes, cut out of the middle of a batch
    assert store.dropped == 4
    assert [x.message for x in await store.read(["q"])] == [f"line {i}" for i in range(4, 9)]


class FailingOnce:
    """The real engine, except that the first INSERT fails."""

    def __init__(self, real: TelemetryStore) -> None:
        self.real = real
        self.database = real.database
        self.failed = False

    async def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None, nice: int = 10) -> None:
        if not self.failed:
            self.failed = True
            raise TelemetryError("engine down")
        await self.real.insert_arrow(table, data, dedup_token, nice)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_failed_insert_keeps_the_lines_for_the_next_load(vigil: Vigil) -> None:
    store = store_for(vigil, telemetry=FailingOnce(vigil.services.telemetry))
    store.append([line("f", 0), line("f", 1)])
    await store.sync()
    assert store.failures == 1 and store.pending == 2 and store.stored == 0
    store.append([line("f", 2)])
    assert [x.message for x in await store.read(["f"])] == ["line 0", "line 1", "line 2"]
    assert store.stored == 3


async def test_the_background_task_loads_on_its_own(vigil: Vigil) -> None:
    store = store_for(vigil, flush_interval=0.05)
    store.start()
    try:
        store.append([line("bg", 0)])
        deadline = time.monotonic() + 10
        while store.stored == 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert store.pending == 0
    finally:
        await store.close()


async def test_meta_counts_each_app(vigil: Vigil) -> None:
    store = store_for(vigil)
    store.append([line("m1", 0, ts=NOW - 50), line("m1", 1, ts=NOW - 10), line("m2", 2, ts=NOW - 30)])
    meta = await store.meta(10)
    assert (meta["m1"].count, meta["m1"].oldest_us, meta["m1"].newest_us) == (2, NOW - 50, NOW - 10)
    assert meta["m2"].count == 1
    assert list(await store.meta(1)) == ["m1"]  # bounded: the first apps by name


async def test_the_queue_is_bounded_in_bytes_too(vigil: Vigil) -> None:
    # A line weighs its message plus 256: four 744-byte messages make 4,000 bytes; room for 2,000.
    store = store_for(vigil, max_pending=1000, max_pending_bytes=2000)
    big = [LogLine("b", "app", "", STDOUT, time.time_ns() // 1000 - 10 + i, "", f"{i}" + "x" * 743) for i in range(4)]
    store.append(big[:3])  # 3,000 bytes: the oldest line goes
    assert (store.pending, store.pending_bytes, store.dropped) == (2, 2000, 1)
    store.append(big[3:])
    assert (store.pending, store.pending_bytes, store.dropped) == (2, 2000, 2)
    assert [x.message[0] for x in await store.read(["b"])] == ["2", "3"]


async def test_arrow_batches_queue_and_shed_like_line_batches(vigil: Vigil) -> None:
    # The syslog workers hand history Arrow columns; bounds, order and the partial cut are the same.
    from vigil.logs.columns import lines_columns

    store = store_for(vigil, max_pending=5)
    store.append_table(lines_columns([line("t", i) for i in range(3)]))
    store.append([line("t", 3)])
    store.append_table(lines_columns([line("t", i) for i in range(4, 8)]))  # 8 queued: lines 0-2 go
    assert (store.pending, store.dropped) == (5, 3)
    store.append_table(lines_columns([line("t", 8)]))  # line 3, a LogLine batch of its own, goes
    store.append([line("t", 9)])  # line 4 goes: cut off the front of a table
    assert (store.pending, store.dropped) == (5, 5)
    assert [x.message for x in await store.read(["t"])] == [f"line {i}" for i in range(5, 10)]
    assert store.stored == 5


async def test_arrow_batches_are_bounded_in_bytes(vigil: Vigil) -> None:
    # Four 744-character messages weigh 1,000 each with the 256 overhead; room for 2,000.
    from vigil.logs.columns import lines_columns

    store = store_for(vigil, max_pending=1000, max_pending_bytes=2000)
    big = [LogLine("tb", "app", "", STDOUT, time.time_ns() // 1000 - 10 + i, "", f"{i}" + "é" * 743) for i in range(4)]
    store.append_table(lines_columns(big[:3]))  # 3,000: the oldest row is cut off the table
    assert (store.pending, store.pending_bytes, store.dropped) == (2, 2000, 1)
    store.append_table(lines_columns(big[3:]))
    assert (store.pending, store.pending_bytes, store.dropped) == (2, 2000, 2)
    assert [x.message[0] for x in await store.read(["tb"])] == ["2", "3"]
