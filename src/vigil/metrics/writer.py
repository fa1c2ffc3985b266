"""Group commit through the write-ahead log, then large INSERTs into the telemetry engine.

Requests hand their SampleBatch to `write`, which returns once the batch is in the log: batches
that arrive while one append runs go together in the next. A second task loads the log into the
engine a segment at a time, when a segment is large or old enough, and whenever a reader asks
(`sync`), so a query always sees every measurement that was acknowledged before it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from vigil.errors import Unavailable
from vigil.metrics.ingest import SampleBatch
from vigil.storage.telemetry import TelemetryError, TelemetryStore
from vigil.storage.wal import SegmentLog

log = logging.getLogger(__name__)

SAMPLES_SCHEMA = pa.schema([
    ("metric", pa.string()), ("series_id", pa.uint64()), ("time", pa.uint32()), ("uniq", pa.uint64()),
    ("count", pa.uint64()), ("sum", pa.float64()), ("min", pa.float64()), ("max", pa.float64()),
    ("last", pa.float64()), ("stddev", pa.float64()), ("version", pa.uint64()),
])
SERIES_SCHEMA = pa.schema([
    ("metric", pa.string()), ("series_id", pa.uint64()), ("tags", pa.map_(pa.string(), pa.string())),
    ("first_seen", pa.uint32()),
])
DIRTY_SCHEMA = pa.schema([("metric", pa.string()), ("window", pa.uint32())])
SCHEMAS = {"series": SERIES_SCHEMA, "samples": SAMPLES_SCHEMA, "rollup_dirty": DIRTY_SCHEMA}
ROLLUP_WINDOW = 60  # rollups are recomputed a minute of one metric at a time
RETRY_BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)


def dirty_windows(samples: pa.Table) -> pa.Table:
    """The (metric, minute) windows a batch touches: their rollups must be recomputed."""
    times = samples.column("time").to_numpy()
    windows = pa.array((times - times % ROLLUP_WINDOW).astype(np.uint32))
    pairs = pa.table({"metric": samples.column("metric"), "window": windows}).group_by(["metric", "window"])
    return pairs.aggregate([]).select(["metric", "window"]).cast(DIRTY_SCHEMA)


class SampleWriter:
    def __init__(self, store: TelemetryStore, wal: SegmentLog, *, flush_rows: int, flush_interval: float,
                 max_pending_rows: int, wait_timeout: float = 30.0,
                 on_flush: Callable[[int, float], None] | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.store = store
        self.wal = wal
        self.flush_rows = flush_rows
        self.flush_interval = flush_interval
        self.max_pending_rows = max_pending_rows
        self.wait_timeout = wait_timeout
        self._on_flush = on_flush
        self._on_failure = on_failure
        self._queue: deque[tuple[SampleBatch, asyncio.Future[None]]] = deque()
        self._queued_rows = 0
        self._wake_append = asyncio.Event()
        self._wake_flush = asyncio.Event()
        self._state = asyncio.Condition()
        self._open: list[dict[str, pa.Table]] = []  # what the open segment holds, kept in memory
        self._open_rows = 0
        self._open_since = 0.0
        self._unloaded_rows = 0  # appended, not yet in the engine
        self._appended = 0  # sequence numbers: appends done / appends loaded into the engine
        self._loaded = 0
        self._last_version = 0
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._observers: list[Callable[[pa.Table], None]] = []

    def observe(self, observer: Callable[[pa.Table], None]) -> None:
        """Call `observer(samples)` with every acknowledged batch (e.g. the alert evaluator). It runs on
        the event loop right after the append, so it must be quick: queue work, don't do it."""
        self._observers.append(observer)

    @property
    def pending_rows(self) -> int:
        return self._queued_rows + self._unloaded_rows

    # -- lifecycle ----------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Load the segments a previous process left behind; returns the rows loaded."""
        rows = 0
        for segment in self.wal.segments():
            tables = await asyncio.to_thread(self.wal.read, segment)
            await self._load(segment, tables)
            rows += tables["samples"].num_rows
            self.wal.delete(segment)
        if rows:
            log.info("loaded %d measurements from the write-ahead log", rows)
        return rows

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._append_loop(), name="wal-append"),
                       asyncio.create_task(self._flush_loop(), name="wal-flush")]

    async def close(self) -> None:
        """Stop taking batches, append what is queued and load everything into the engine."""
        self._closing = True
        self._wake_append.set()
        if self._tasks:
            await self._tasks[0]
            self._wake_flush.set()
            await self._tasks[1]

    # -- writing ------------------------------------------------------------------------------------

    async def write(self, batch: SampleBatch) -> None:
        """Wait until the batch is in the log. When the engine falls behind, wait for room first
        (bounded); Unavailable if there is none in time or the server is stopping."""
        if self._closing:
            raise Unavailable("The server is shutting down; retry shortly")
        if self.pending_rows + batch.rows > self.max_pending_rows:
            try:
                async with asyncio.timeout(self.wait_timeout):
                    async with self._state:
                        await self._state.wait_for(
                            lambda: self.pending_rows + batch.rows <= self.max_pending_rows or self._closing)
            except TimeoutError:
                raise Unavailable("Too many measurements waiting to be stored; retry shortly") from None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, future))
        self._queued_rows += batch.rows
        self._wake_append.set()
        await asyncio.shield(future)

    def _versions(self, n: int) -> np.ndarray:
        # Strictly increasing, so that the last write of a point wins; kept in the log so that a
        # replayed segment is identical to the first attempt (the engine then drops it).
        base = max(time.time_ns(), self._last_version + 1)
        self._last_version = base + n - 1
        return np.arange(base, base + n, dtype=np.uint64)

    def _tables(self, batches: list[SampleBatch]) -> dict[str, pa.Table]:
        series = [s for b in batches for s in b.new_series]
        now = int(time.time())
        series_table = pa.table({
            "metric": pa.array([s[0] for s in series], pa.string()),
            "series_id": pa.array([s[1] for s in series], pa.uint64()),
            "tags": pa.array([s[2] for s in series], pa.map_(pa.string(), pa.string())),
            "first_seen": pa.array(np.full(len(series), now, dtype=np.uint32)),
        }, schema=SERIES_SCHEMA)
        samples = pa.concat_tables([b.samples for b in batches])
        samples = samples.append_column("version", pa.array(self._versions(samples.num_rows)))
        return {"series": series_table, "samples": samples, "rollup_dirty": dirty_windows(samples)}

    async def _append_loop(self) -> None:
        while True:
            await self._wake_append.wait()
            self._wake_append.clear()
            while self._queue:
                items = list(self._queue)
                self._queue.clear()
                rows = sum(b.rows for b, _ in items)
                try:
                    tables = self._tables([b for b, _ in items])
                    async with self._state:
                        await asyncio.to_thread(self.wal.append, tables)
                        if not self._open:
                            self._open_since = time.monotonic()
                        self._open.append(tables)
                        self._open_rows += rows
                        self._unloaded_rows += rows
                        self._appended += 1
                except (OSError, pa.ArrowException) as exc:
                    log.error("appending %d measurements to the write-ahead log failed: %s", rows, exc)
                    if self._on_failure:
                        self._on_failure()
                    for _, future in items:
                        if not future.done():
                            future.set_exception(Unavailable("Could not write the measurements; retry"))
                else:
                    for _, future in items:
                        if not future.done():
                            future.set_result(None)
                    for observer in self._observers:
                        try:
                            observer(tables["samples"])
                        except Exception:  # an observer's bug must not stop ingest
                            log.exception("ingest observer failed")
                finally:
                    self._queued_rows -= rows
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
            tables = {name: pa.concat_tables([p[name] for p in parts]) for name in SCHEMAS}
            started = time.perf_counter()
            await self._load(segment, tables)
            if segment is not None:
                self.wal.delete(segment)
            if self._on_flush:
                self._on_flush(rows, time.perf_counter() - started)
            async with self._state:
                self._unloaded_rows -= rows
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
                for name in SCHEMAS:
                    await self.store.insert_arrow(name, tables[name], dedup_token=f"wal-{segment}-{name}")
                return
            except TelemetryError as exc:
                if self._on_failure:
                    self._on_failure()
                delay = RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF) - 1)]
                log.error("loading segment %s into the engine failed (retrying in %.1fs): %s", segment, delay, exc)
                attempt += 1
                await asyncio.sleep(delay)
