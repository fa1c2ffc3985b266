"""Group commit through the write-ahead log, then large INSERTs into the telemetry engine.

The machinery shared by every writer that must not lose what it acknowledged (measurements,
notifications): `write(item)` queues the item and returns once it is in the log; items that arrive
while one append runs go together in the next (group commit). A second task loads the log into the
engine a segment at a time: when the open segment holds `flush_rows` rows, when it is
`flush_interval` seconds old, or when a reader asks (`sync`, a read barrier). Segments left by a
crash are loaded again by `recover`; each INSERT carries a deduplication token made from the
segment number, so a retry or a replay of an already loaded segment is dropped by the engine.

Bounded: when `max_pending` rows are queued or not yet loaded, `write` waits up to `wait_timeout`
seconds for room, then refuses with `Unavailable` (a 503 for HTTP, a requeue for AMQP).

What differs per writer is a subclass: how items become Arrow tables (`_prepare`, which also gives
each item its answer), what to undo when an append fails (`_abandon`), what to remember once it
succeeded (`_committed`) and what to note once a segment is in the engine (`_segment_loaded`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import pyarrow as pa

from vigil.errors import Unavailable
from vigil.storage.telemetry import TelemetryError, TelemetryStore
from vigil.storage.wal import SegmentLog

log = logging.getLogger(__name__)

RETRY_BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)

Item = TypeVar("Item")
Answer = TypeVar("Answer")
Observer = Callable[[pa.Table], None]


class GroupCommitWriter(ABC, Generic[Item, Answer]):
    """`noun` names the rows in messages ("measurements"); `observed` is the table observers get;
    `dedup_token` is a format string with `{segment}` and `{table}`, stable across versions because
    it decides whether a replayed segment is dropped as already loaded."""

    noun = "rows"
    observed = ""
    dedup_token = "wal-{segment}-{table}"
    task_prefix = "wal"
    append_errors: tuple[type[BaseException], ...] = (OSError, pa.ArrowException)
    append_failed_message = "Could not store the rows; retry"

    def __init__(self, store: TelemetryStore, wal: SegmentLog, *, flush_rows: int, flush_interval: float,
                 max_pending: int, wait_timeout: float = 30.0,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.store = store
        self.wal = wal
        self.flush_rows = flush_rows
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.wait_timeout = wait_timeout
        self._on_failure = on_failure
        self._queue: deque[tuple[Item, int, asyncio.Future[Answer]]] = deque()
        self._queued_rows = 0
        self._wake_append = asyncio.Event()
        self._wake_flush = asyncio.Event()
        self._state = asyncio.Condition()
        self._open: list[dict[str, pa.Table]] = []  # what the open segment holds, kept in memory
        self._open_rows = 0
        self._unloaded_rows = 0  # appended, not yet in the engine
        self._appended = 0  # sequence numbers: appends done / appends loaded into the engine
        self._loaded = 0
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._observers: list[Observer] = []

    # -- what a writer defines ----------------------------------------------------------------------

    @abstractmethod
    def _prepare(self, items: list[Item]) -> tuple[dict[str, pa.Table], list[Answer]]:
        """The tables to append for these items (in arrival order) and each item's answer."""

    def _abandon(self) -> None:
        """The append of the last prepared items failed: undo what `_prepare` assigned."""

    def _committed(self, tables: dict[str, pa.Table]) -> None:
        """The last prepared tables are in the log (called before anyone is answered)."""

    def _segment_loaded(self, tables: dict[str, pa.Table], rows: int, seconds: float) -> None:
        """A segment is in the engine; called before `sync` waiters wake, so they see its effects."""

    # -- observers and bounds -----------------------------------------------------------------------

    def observe(self, observer: Observer) -> None:
        """Call `observer(table)` with every appended batch, right after the append, on the event
        loop: it must be quick (queue work, don't do it)."""
        self._observers.append(observer)

    @property
    def pending_rows(self) -> int:
        return self._queued_rows + self._unloaded_rows

    # -- lifecycle ----------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Load the segments a previous process left behind; returns the rows loaded (of `observed`)."""
        rows = 0
        for segment in self.wal.segments():
            tables = await asyncio.to_thread(self.wal.read, segment)
            await self._load(segment, tables)
            rows += tables[self.observed].num_rows
            self.wal.delete(segment)
        if rows:
            log.info("loaded %d %s from the write-ahead log", rows, self.noun)
        return rows

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._append_loop(), name=f"{self.task_prefix}-append"),
                       asyncio.create_task(self._flush_loop(), name=f"{self.task_prefix}-flush")]

    async def close(self) -> None:
        """Stop taking items, append what is queued and load everything into the engine."""
        self._closing = True
        self._wake_append.set()
        if self._tasks:
            await self._tasks[0]
            self._wake_flush.set()
            await self._tasks[1]

    # -- writing ------------------------------------------------------------------------------------

    async def _submit(self, item: Item, rows: int) -> Answer:
        """Wait until the item is in the log. When the engine falls behind, wait for room first
        (bounded); Unavailable if there is none in time or the server is stopping."""
        if self._closing:
            raise Unavailable("The server is shutting down; retry shortly")
        if self.pending_rows + rows > self.max_pending:
            try:
                async with asyncio.timeout(self.wait_timeout):
                    async with self._state:
                        await self._state.wait_for(
                            lambda: self.pending_rows + rows <= self.max_pending or self._closing)
            except TimeoutError:
                raise Unavailable(f"Too many {self.noun} waiting to be stored; retry shortly") from None
            if self._closing:
                raise Unavailable("The server is shutting down; retry shortly")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.append((item, rows, future))
        self._queued_rows += rows
        self._wake_append.set()
        return await asyncio.shield(future)

    async def _append_loop(self) -> None:
        while True:
            await self._wake_append.wait()
            self._wake_append.clear()
            while self._queue:
                queued = list(self._queue)
                self._queue.clear()
                count = sum(rows for _, rows, _ in queued)
                try:
                    tables, answers = self._prepare([item for item, _, _ in queued])
                    rows = tables[self.observed].num_rows
                    async with self._state:
                        if rows:  # nothing new (every item a duplicate): nothing to append
                            await asyncio.to_thread(self.wal.append, tables)
                            self._open.append(tables)
                            self._open_rows += rows
                            self._unloaded_rows += rows
                            self._appended += 1
                except self.append_errors as exc:
                    self._abandon()
                    log.error("appending %d %s to the write-ahead log failed: %s", count, self.noun, exc)
                    if self._on_failure:
                        self._on_failure()
                    for _, _, future in queued:
                        if not future.done():
                            future.set_exception(Unavailable(self.append_failed_message))
                else:
                    self._committed(tables)
                    for (_, _, future), answer in zip(queued, answers, strict=True):
                        if not future.done():
                            future.set_result(answer)
                    for observer in self._observers:
                        try:
                            observer(tables[self.observed])
                        except Exception:  # an observer's bug must not stop ingest
                            log.exception("%s observer failed", self.noun)
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
            tables = {name: pa.concat_tables([p[name] for p in parts]) for name in self.wal.schemas}
            started = time.perf_counter()
            await self._load(segment, tables)
            if segment is not None:
                self.wal.delete(segment)
            seconds = time.perf_counter() - started
            async with self._state:
                self._unloaded_rows -= rows
                self._segment_loaded(tables, rows, seconds)
                self._loaded = upto
                self._state.notify_all()
            if self._closing and not self._open and not self._queue:
                return

    async def _load(self, segment: int | None, tables: dict[str, pa.Table]) -> None:
        """INSERT a segment, retrying until the engine takes it: it was acknowledged, so it must land.
        The segment number makes the INSERT idempotent (a retry or a replay is dropped by the engine)."""
        attempt = 0
        while True:
            try:
                for name in self.wal.schemas:
                    token = self.dedup_token.format(segment=segment, table=name)
                    await self.store.insert_arrow(name, tables[name], dedup_token=token)
                return
            except TelemetryError as exc:
                if self._on_failure:
                    self._on_failure()
                delay = RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF) - 1)]
                log.error("loading %s segment %s into the engine failed (retrying in %.1fs): %s",
                          self.noun, segment, delay, exc)
                attempt += 1
                await asyncio.sleep(delay)
