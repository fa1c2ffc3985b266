"""Stores notifications: ids, duplicate suppression, group commit into a write-ahead log, bulk loads.

`write(rows)` returns once the rows are in the log (a crash after that loses nothing: the log is
loaded again at start), so HTTP answers and AMQP acks wait for it; rows that arrive while one
append runs go together in the next. A second task loads the log into the engine a segment at a
time and then tells the lifecycle processor how far the engine holds events.

Ids are assigned in the append task, so they strictly increase in the order rows were accepted.
A notification whose `message_id` was stored recently (a redelivery after a lost ack, a retried
POST) is not stored again: it gets the id of the first copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from vigil.errors import Unavailable
from vigil.storage.telemetry import TelemetryError, TelemetryStore
from vigil.storage.wal import SegmentLog

log = logging.getLogger(__name__)

_S = pa.string()
EVENTS_SCHEMA = pa.schema([
    ("id", pa.uint64()), ("kind", _S), ("deployment", pa.uint32()), ("routing_key", _S),
    ("when", pa.timestamp("us", tz="UTC")), ("publisher", _S), ("event", _S), ("service", _S), ("host", _S),
    ("instance", _S), ("request_id", _S), ("tenant", _S), ("message_id", _S), ("state", _S),
    ("old_state", _S), ("old_task", _S), ("task", _S), ("image_type", pa.uint32()), ("owner", _S),
    ("status", _S), ("uuid", _S), ("json", _S),
])
SCHEMAS = {"events": EVENTS_SCHEMA}
RETRY_BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)

Row = dict[str, Any]


class EventWriter:
    def __init__(self, store: TelemetryStore, wal: SegmentLog, *, flush_rows: int, flush_interval: float,
                 max_pending: int, dedup_window: int, wait_timeout: float = 30.0,
                 on_loaded: Callable[[int], None] | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.store = store
        self.wal = wal
        self.flush_rows = flush_rows
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.dedup_window = dedup_window
        self.wait_timeout = wait_timeout
        self._on_loaded = on_loaded
        self._on_failure = on_failure
        self._queue: deque[tuple[list[Row], asyncio.Future[list[int]]]] = deque()
        self._queued_rows = 0
        self._wake_append = asyncio.Event()
        self._wake_flush = asyncio.Event()
        self._state = asyncio.Condition()
        self._open: list[pa.Table] = []
        self._open_rows = 0
        self._unloaded_rows = 0
        self._appended = 0  # sequence numbers of appends done / loaded into the engine
        self._loaded = 0
        self._next_id = 1
        self.loaded_id = 0  # every event with an id up to this one is in the engine
        self._recent: dict[str, int] = {}  # message_id -> id, oldest first (bounded LRU)
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._observers: list[Callable[[pa.Table], None]] = []

    def observe(self, observer: Callable[[pa.Table], None]) -> None:
        """Call `observer(table)` with every stored batch, on the event loop: it must be quick."""
        self._observers.append(observer)

    @property
    def pending_rows(self) -> int:
        return self._queued_rows + self._unloaded_rows

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    # -- lifecycle ----------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Load what a previous process left in the log, then continue its ids. Returns rows loaded."""
        rows = 0
        for segment in self.wal.segments():
            tables = await asyncio.to_thread(self.wal.read, segment)
            await self._load(segment, tables["events"])
            rows += tables["events"].num_rows
            self.wal.delete(segment)
        if rows:
            log.info("loaded %d notifications from the write-ahead log", rows)
        db = self.store.database
        top = await self.store.query_arrow(f"SELECT max(id) AS m FROM {db}.events")
        self.loaded_id = int(top.column("m")[0].as_py() or 0)
        self._next_id = self.loaded_id + 1
        if self.dedup_window and self.loaded_id:
            recent = await self.store.query_arrow(
                f"SELECT message_id, id FROM {db}.events WHERE id > {{low:UInt64}} AND message_id IS NOT NULL "
                "ORDER BY id", {"low": max(self.loaded_id - self.dedup_window, 0)})
            for message_id, event_id in zip(recent.column("message_id").to_pylist(),
                                            recent.column("id").to_pylist(), strict=True):
                self._remember(message_id, event_id)
        return rows

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._append_loop(), name="events-append"),
                       asyncio.create_task(self._flush_loop(), name="events-flush")]

    async def close(self) -> None:
        self._closing = True
        self._wake_append.set()
        if self._tasks:
            await self._tasks[0]
            self._wake_flush.set()
            await self._tasks[1]

    # -- writing ------------------------------------------------------------------------------------

    async def write(self, rows: list[Row]) -> list[int]:
        """Store `rows` (every key of the schema but `id`); returns their ids once they are in the log.
        Unavailable when the engine is too far behind for too long, or the server is stopping."""
        if self._closing:
            raise Unavailable("The server is shutting down; retry shortly")
        if not rows:
            return []
        if self.pending_rows + len(rows) > self.max_pending:
            try:
                async with asyncio.timeout(self.wait_timeout):
                    async with self._state:
                        await self._state.wait_for(
                            lambda: self.pending_rows + len(rows) <= self.max_pending or self._closing)
            except TimeoutError:
                raise Unavailable("Too many notifications waiting to be stored; retry shortly") from None
            if self._closing:
                raise Unavailable("The server is shutting down; retry shortly")
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, future))
        self._queued_rows += len(rows)
        self._wake_append.set()
        return await asyncio.shield(future)

    def _remember(self, message_id: str, event_id: int) -> None:
        self._recent[message_id] = event_id
        if len(self._recent) > self.dedup_window:
            del self._recent[next(iter(self._recent))]

    def _assign(self, items: list[tuple[list[Row], asyncio.Future[list[int]]]]) -> tuple[list[Row], list[list[int]]]:
        fresh: list[Row] = []
        ids: list[list[int]] = []
        batch_ids: dict[str, int] = {}
        for rows, _ in items:
            mine = []
            for row in rows:
                message_id = row.get("message_id")
                known = None
                if message_id and self.dedup_window:
                    known = batch_ids.get(message_id) or self._recent.get(message_id)
                if known is not None:
                    mine.append(known)
                    continue
                row["id"] = event_id = self._next_id
                self._next_id += 1
                if message_id and self.dedup_window:
                    batch_ids[message_id] = event_id
                fresh.append(row)
                mine.append(event_id)
            ids.append(mine)
        return fresh, ids

    async def _append_loop(self) -> None:
        while True:
            await self._wake_append.wait()
            self._wake_append.clear()
            while self._queue:
                items = list(self._queue)
                self._queue.clear()
                count = sum(len(rows) for rows, _ in items)
                next_id = self._next_id
                try:
                    fresh, ids = self._assign(items)
                    table = pa.Table.from_pylist(fresh, schema=EVENTS_SCHEMA)
                    async with self._state:
                        if table.num_rows:
                            await asyncio.to_thread(self.wal.append, {"events": table})
                            self._open.append(table)
                            self._open_rows += table.num_rows
                            self._unloaded_rows += table.num_rows
                            self._appended += 1
                except (OSError, pa.ArrowException, TypeError, ValueError) as exc:
                    self._next_id = next_id  # nothing of this batch was stored: its ids are free again
                    log.error("appending %d notifications to the write-ahead log failed: %s", count, exc)
                    if self._on_failure:
                        self._on_failure()
                    for _, future in items:
                        if not future.done():
                            future.set_exception(Unavailable("Could not store the notifications; retry"))
                else:
                    for row in fresh:
                        if row.get("message_id") and self.dedup_window:
                            self._remember(row["message_id"], row["id"])
                    for (_, future), mine in zip(items, ids, strict=True):
                        if not future.done():
                            future.set_result(mine)
                    for observer in self._observers:
                        try:
                            observer(table)
                        except Exception:  # an observer's bug must not stop ingest
                            log.exception("events observer failed")
                finally:
                    self._queued_rows -= count
                if self._open_rows >= self.flush_rows:
                    self._wake_flush.set()
            if self._closing:
                return

    # -- loading into the engine --------------------------------------------------------------------

    async def sync(self) -> None:
        """Return once everything acknowledged so far is in the engine (a read barrier)."""
        target = self._appended
        if self._loaded >= target:
            return
        self._wake_flush.set()
        async with self._state:
            await self._state.wait_for(lambda: self._loaded >= target)

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_flush.wait(), timeout=self.flush_interval)
            self._wake_flush.clear()
            async with self._state:
                if not self._open:
                    if self._closing and not self._queue:
                        return
                    continue
                segment = self.wal.rotate()
                parts, rows, upto = self._open, self._open_rows, self._appended
                self._open, self._open_rows = [], 0
            table = pa.concat_tables(parts)
            await self._load(segment, table)
            if segment is not None:
                self.wal.delete(segment)
            top = max(int(p.column("id")[-1].as_py()) for p in parts)
            async with self._state:
                self._unloaded_rows -= rows
                self._loaded = upto
                self.loaded_id = max(self.loaded_id, top)
                self._state.notify_all()
            if self._on_loaded:
                self._on_loaded(self.loaded_id)
            if self._closing and not self._open and not self._queue:
                return

    async def _load(self, segment: int | None, table: pa.Table) -> None:
        """INSERT a segment, retrying until the engine takes it: it was acknowledged, so it must land.
        The segment number makes the INSERT idempotent (a retry or a replay is dropped)."""
        attempt = 0
        while True:
            try:
                started = time.perf_counter()
                await self.store.insert_arrow("events", table, dedup_token=f"events-wal-{segment}")
                log.debug("loaded %d notifications in %.3fs", table.num_rows, time.perf_counter() - started)
                return
            except TelemetryError as exc:
                if self._on_failure:
                    self._on_failure()
                delay = RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF) - 1)]
                log.error("loading events segment %s failed (retrying in %.1fs): %s", segment, delay, exc)
                attempt += 1
                await asyncio.sleep(delay)
