"""The group-commit writer on its own: one append for everything queued meanwhile, bounds (wait,
then refuse with 503), failed appends, torn tails and replays, loads retried until the engine
takes them. A small writer of integer rows into a real chDB table."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow as pa
import pytest

from vigil.errors import Unavailable
from vigil.storage.telemetry import ChdbTelemetry
from vigil.storage.wal import SegmentLog
from vigil.storage.wal_writer import GroupCommitWriter

SCHEMA = pa.schema([("x", pa.int64())])
DDL = ("CREATE TABLE {db}.numbers (x Int64) ENGINE = MergeTree ORDER BY x "
       "SETTINGS non_replicated_deduplication_window = 1000")


class NumberWriter(GroupCommitWriter[list[int], int]):
    """Each item is a list of numbers; its answer is how many appends came before it."""

    noun = "numbers"
    observed = "numbers"
    dedup_token = "test-{segment}-{table}"
    task_prefix = "test"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.prepared: list[list[list[int]]] = []
        self.abandoned = 0
        self.loaded_segments: list[int] = []

    async def write(self, numbers: list[int]) -> int:
        return await self._submit(numbers, len(numbers))

    def _prepare(self, items: list[list[int]]) -> tuple[dict[str, pa.Table], list[int]]:
        self.prepared.append(items)
        values = [x for item in items for x in item]
        return {"numbers": pa.table({"x": pa.array(values, pa.int64())})}, [len(self.prepared)] * len(items)

    def _abandon(self) -> None:
        self.abandoned += 1

    def _segment_loaded(self, tables: dict[str, pa.Table], rows: int, seconds: float) -> None:
        self.loaded_segments.append(rows)


class GatedLog(SegmentLog):
    """A log whose appends can be held (to queue items behind a running append) or made to fail."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, {"numbers": SCHEMA})
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.appends = 0
        self.fail_next = False
        self.keep_segments = False

    def append(self, tables: dict[str, pa.Table]) -> int:
        self.entered.set()
        self.gate.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.appends += 1
        return super().append(tables)

    def delete(self, segment: int) -> None:
        if not self.keep_segments:  # keep: a crash between the load and the delete
            super().delete(segment)


@pytest.fixture
async def store(chdb_path: Path) -> AsyncIterator[ChdbTelemetry]:
    telemetry = ChdbTelemetry(chdb_path, database=f"t_{uuid.uuid4().hex}")
    await telemetry.execute(f"CREATE DATABASE {telemetry.database}")
    await telemetry.execute(DDL.format(db=telemetry.database))
    yield telemetry
    await telemetry.execute(f"DROP DATABASE IF EXISTS {telemetry.database}")


async def stored(store: ChdbTelemetry) -> list[int]:
    table = await store.query_arrow(f"SELECT x FROM {store.database}.numbers ORDER BY x")
    return table.column("x").to_pylist()


def make(store: ChdbTelemetry, wal: SegmentLog, **overrides: object) -> NumberWriter:
    options: dict[str, object] = {"flush_rows": 1000, "flush_interval": 3600.0, "max_pending": 100,
                                  "wait_timeout": 5.0}
    options.update(overrides)
    return NumberWriter(store, wal, **options)


def crash(writer: NumberWriter) -> None:
    """Stop the tasks where they are, as a killed process would: nothing more is loaded or deleted."""
    for task in writer._tasks:
        task.cancel()


async def test_items_queued_during_an_append_go_together_in_the_next(store: ChdbTelemetry, tmp_path: Path) -> None:
    wal = GatedLog(tmp_path)
    writer = make(store, wal)
    writer.start()
    try:
        wal.gate.clear()
        first = asyncio.create_task(writer.write([1]))
        await asyncio.to_thread(wal.entered.wait, 5)  # the first append is running and held
        others = [asyncio.create_task(writer.write([n])) for n in (2, 3, 4)]
        await asyncio.sleep(0.05)
        assert not first.done() and not any(t.done() for t in others)  # nobody answered before the append
        wal.gate.set()
        assert await first == 1
        assert await asyncio.gather(*others) == [2, 2, 2]  # one append for the three
        assert wal.appends == 2
        assert writer.prepared == [[[1]], [[2], [3], [4]]]
        assert await stored(store) == []  # in the log only: flush_rows and flush_interval not reached
        await writer.sync()
        assert await stored(store) == [1, 2, 3, 4]
        assert writer.loaded_segments == [4]  # both appends in one segment, one load
        assert wal.segments() == []
    finally:
        await writer.close()


async def test_full_segment_is_loaded_without_a_reader(store: ChdbTelemetry, tmp_path: Path) -> None:
    writer = make(store, GatedLog(tmp_path), flush_rows=3)
    writer.start()
    try:
        await writer.write([1, 2])
        await asyncio.sleep(0.2)
        assert writer.loaded_segments == []  # 2 < flush_rows
        await writer.write([3])
        for _ in range(100):
            if writer.loaded_segments:
                break
            await asyncio.sleep(0.05)
        assert writer.loaded_segments == [3]
        assert await stored(store) == [1, 2, 3]
    finally:
        await writer.close()


async def test_bound_reached_waits_for_room_then_refuses(store: ChdbTelemetry, tmp_path: Path) -> None:
    writer = make(store, GatedLog(tmp_path), max_pending=10, wait_timeout=0.3)
    writer.start()
    try:
        await writer.write(list(range(8)))
        assert writer.pending_rows == 8  # acknowledged, not yet in the engine
        with pytest.raises(Unavailable) as refused:
            await writer.write([100, 101, 102])  # 8 + 3 > 10, and nothing makes room in 0.3 s
        assert refused.value.status == 503
        assert refused.value.message == "Too many numbers waiting to be stored; retry shortly"
        assert writer.pending_rows == 8  # the refused rows are nowhere
        await writer.write([8, 9])  # exactly at the bound: taken
        assert writer.pending_rows == 10

        writer.wait_timeout = 5.0
        waiting = asyncio.create_task(writer.write([10]))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # waits for room
        await writer.sync()  # the engine takes the log: room again
        await waiting
        await writer.sync()
        assert await stored(store) == list(range(11))
    finally:
        await writer.close()


async def test_a_failed_append_refuses_its_items_and_stores_nothing(store: ChdbTelemetry, tmp_path: Path) -> None:
    failures: list[int] = []
    wal = GatedLog(tmp_path)
    writer = make(store, wal, on_failure=lambda: failures.append(1))
    seen: list[list[int]] = []
    writer.observe(lambda table: seen.append(table.column("x").to_pylist()))
    writer.start()
    try:
        wal.fail_next = True
        with pytest.raises(Unavailable) as refused:
            await writer.write([1, 2])
        assert refused.value.message == "Could not store the rows; retry"
        assert writer.abandoned == 1 and failures == [1]
        assert writer.pending_rows == 0 and seen == []
        await writer.write([3])
        await writer.sync()
        assert await stored(store) == [3]
        assert seen == [[3]]
    finally:
        await writer.close()


async def test_an_observer_that_fails_does_not_stop_the_writer(store: ChdbTelemetry, tmp_path: Path) -> None:
    writer = make(store, GatedLog(tmp_path))
    seen: list[int] = []

    def broken(table: pa.Table) -> None:
        raise RuntimeError("bug")

    writer.observe(broken)
    writer.observe(lambda table: seen.append(table.num_rows))
    writer.start()
    try:
        await writer.write([1, 2])
        await writer.write([3])
        assert seen == [2, 1]
    finally:
        await writer.close()


async def test_torn_tail_loses_only_the_unacknowledged_append(store: ChdbTelemetry, tmp_path: Path) -> None:
    first = make(store, GatedLog(tmp_path))
    first.start()
    await first.write([1, 2])
    await first.write([3, 4])
    crash(first)
    await asyncio.sleep(0)
    first.wal.rotate()
    path = next(tmp_path.iterdir())
    path.write_bytes(path.read_bytes()[:-20])  # the process died in the middle of the second append

    second = make(store, GatedLog(tmp_path))
    assert await second.recover() == 2
    assert await stored(store) == [1, 2]
    assert second.wal.segments() == []


async def test_replay_of_a_loaded_segment_does_not_double(store: ChdbTelemetry, tmp_path: Path) -> None:
    wal = GatedLog(tmp_path)
    wal.keep_segments = True  # loaded, but the process died before deleting the segment
    first = make(store, wal)
    first.start()
    await first.write([1, 2, 3])
    await first.sync()
    assert await stored(store) == [1, 2, 3]
    crash(first)
    assert len(wal.segments()) == 1

    second = make(store, GatedLog(tmp_path))
    assert await second.recover() == 3  # read and loaded again ...
    assert await stored(store) == [1, 2, 3]  # ... and dropped by the engine: same token
    assert second.wal.segments() == []
    second.start()
    try:
        await second.write([4])  # a new segment number: not mistaken for the replayed one
        await second.sync()
        assert await stored(store) == [1, 2, 3, 4]
    finally:
        await second.close()


async def test_a_failed_load_is_retried_until_the_engine_takes_it(store: ChdbTelemetry, tmp_path: Path) -> None:
    await store.execute(f"DROP TABLE {store.database}.numbers")
    failures: list[int] = []
    writer = make(store, GatedLog(tmp_path), on_failure=lambda: failures.append(1))
    writer.start()
    try:
        await writer.write([1, 2])  # acknowledged: it is in the log
        syncing = asyncio.create_task(writer.sync())
        for _ in range(100):
            if failures:
                break
            await asyncio.sleep(0.02)
        assert failures and not syncing.done()  # the table is missing: the load fails, and waits
        await store.execute(DDL.format(db=store.database))
        await asyncio.wait_for(syncing, 10)
        assert await stored(store) == [1, 2]
    finally:
        await writer.close()


async def test_close_loads_everything_and_refuses_new_items(store: ChdbTelemetry, tmp_path: Path) -> None:
    writer = make(store, GatedLog(tmp_path))
    writer.start()
    await writer.write([5, 6])
    await writer.close()
    assert await stored(store) == [5, 6]
    assert writer.wal.segments() == []
    with pytest.raises(Unavailable) as refused:
        await writer.write([7])
    assert refused.value.message == "The server is shutting down; retry shortly"
