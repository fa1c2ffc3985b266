"""Log history in the telemetry engine: bounded buffering in front of batched INSERTs, and reads.

Ingest never waits on the engine. `append` only queues the lines (`append_table` queues lines that
already are Arrow columns, as the syslog workers send them); one task loads the queue into
the engine every `flush_interval` seconds or as soon as `flush_lines` are waiting, one INSERT per
load. The queue holds at most `max_pending` lines and `max_pending_bytes` (messages plus a fixed
overhead per line): beyond that the oldest are dropped and counted
(best effort, never back-pressure: Loggregator's rule). If the engine fails, the lines stay queued
and the next load tries again; the bound still applies.

Lines whose timestamp lies outside [now - retention, now + future window] go to live readers and
the in-memory ring but not to history: they would expire at once, or sit in a partition far in the
future. They are counted in `out_of_window`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import pyarrow as pa

from vigil.logs.columns import lines_columns, row_weights
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD, line_weight
from vigil.storage.telemetry import HISTORY_INSERT_NICE, TelemetryError, TelemetryStore

log = logging.getLogger(__name__)

_message = attrgetter("message")
Batch = list[LogLine] | pa.Table  # a queued batch: lines, or the same as Arrow columns


def _concat(batches: list[Batch]) -> pa.Table:
    """Queued batches as one table, in order; runs of LogLine batches are converted together."""
    tables: list[pa.Table] = []
    run: list[LogLine] = []
    for batch in batches:
        if isinstance(batch, pa.Table):
            if run:
                tables.append(lines_columns(run))
                run = []
            tables.append(batch)
        else:
            run.extend(batch)
    if run:
        tables.append(lines_columns(run))
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


@dataclass(frozen=True, slots=True)
class SourceMeta:
    count: int
    oldest_us: int
    newest_us: int


class LogStore:
    def __init__(self, telemetry: TelemetryStore, *, retention: int, future_window: int, max_pending: int,
                 flush_lines: int, flush_interval: float, max_pending_bytes: int = 256 * 1024 * 1024,
                 on_flush: Callable[[int, float], None] | None = None) -> None:
        self.telemetry = telemetry
        self.retention_us = retention * 1_000_000
        self.future_us = future_window * 1_000_000
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.flush_lines = flush_lines
        self.flush_interval = flush_interval
        self._on_flush = on_flush
        self._pending: deque[Batch] = deque()
        self._weights: deque[int] = deque()  # each pending batch's weight (line_weight summed)
        self._pending_lines = 0
        self._pending_bytes = 0
        self._seq = time.time_ns()  # ingest order; starts at the clock so it also grows across restarts
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.stored = 0
        self.dropped = 0  # the queue was full
        self.out_of_window = 0
        self.failures = 0  # failed INSERTs (their lines were retried)

    @property
    def pending(self) -> int:
        return self._pending_lines

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def append(self, lines: list[LogLine]) -> None:
        """Queue lines for history. Never blocks; drops the oldest queued lines when full."""
        if not lines:
            return
        weight = sum(map(len, map(_message, lines))) + LINE_OVERHEAD * len(lines)
        self._pending.append(lines)
        self._weights.append(weight)
        self._pending_lines += len(lines)
        self._pending_bytes += weight
        if self._pending_lines > self.max_pending or self._pending_bytes > self.max_pending_bytes:
            self._shed()
        if self._pending_lines >= self.flush_lines:
            self._wake.set()

    def append_table(self, table: pa.Table, weight: int | None = None) -> None:
        """`append` for lines already in `columns.SCHEMA` (the syslog workers build them); `weight`
        is the rows' weight if the caller knows it (their messages' lengths plus LINE_OVERHEAD each)."""
        if not table.num_rows:
            return
        if weight is None:
            weight = int(row_weights(table).sum())
        self._pending.append(table)
        self._weights.append(weight)
        self._pending_lines += table.num_rows
        self._pending_bytes += weight
        if self._pending_lines > self.max_pending or self._pending_bytes > self.max_pending_bytes:
            self._shed()
        if self._pending_lines >= self.flush_lines:
            self._wake.set()

    def _shed(self) -> None:
        pending, weights = self._pending, self._weights
        while pending and (self._pending_lines > self.max_pending or self._pending_bytes > self.max_pending_bytes):
            first, weight = pending[0], weights[0]
            lines_over = self._pending_lines - self.max_pending
            bytes_over = self._pending_bytes - self.max_pending_bytes
            if lines_over >= len(first) or bytes_over >= weight:
                pending.popleft()
                weights.popleft()
                cut, cut_weight = len(first), weight
            elif isinstance(first, pa.Table):  # the same cut, over the table's row weights
                cumulative = np.cumsum(row_weights(first))
                cut = max(lines_over, int(np.searchsorted(cumulative, bytes_over)) + 1 if bytes_over > 0 else 0)
                cut_weight = int(cumulative[cut - 1]) if cut else 0
                pending[0] = first.slice(cut)
                weights[0] = weight - cut_weight
            else:  # cut just enough lines off the front of the oldest batch
                cut = max(lines_over, 0)
                cut_weight = sum(map(line_weight, first[:cut]))
                while cut_weight < bytes_over:
                    cut_weight += line_weight(first[cut])
                    cut += 1
                pending[0] = first[cut:]
                weights[0] = weight - cut_weight
            self._pending_lines -= cut
            self._pending_bytes -= cut_weight
            self.dropped += cut

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-store")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            try:
                await self.sync()
            except Exception:  # a bug, not the engine (sync keeps those lines): log it and keep loading
                log.exception("loading log lines into the engine failed")

    async def sync(self) -> None:
        """Load everything queued so far into the engine (readers call this first)."""
        async with self._lock:
            if not self._pending:
                return
            batches = list(self._pending)
            weight = sum(self._weights)
            self._pending.clear()
            self._weights.clear()
            count = self._pending_lines
            self._pending_lines = 0
            self._pending_bytes = 0
            table = _concat(batches)
            started = time.perf_counter()
            try:
                await self._insert(table)
            except TelemetryError as exc:
                self.failures += 1
                log.warning("log history INSERT of %d lines failed, will retry: %s", count, exc)
                # Put them back in front of anything queued meanwhile; the bound still applies.
                self._pending.appendleft(table)
                self._weights.appendleft(weight)
                self._pending_lines += count
                self._pending_bytes += weight
                if self._pending_lines > self.max_pending or self._pending_bytes > self.max_pending_bytes:
                    self._shed()
                return
            if self._on_flush:
                self._on_flush(count, time.perf_counter() - started)

    async def _insert(self, table: pa.Table) -> None:
        n = table.num_rows
        table = table.append_column("seq", pa.array(np.arange(self._seq, self._seq + n, dtype=np.uint64)))
        now = time.time_ns() // 1000
        ts = table.column("time").cast(pa.int64()).to_numpy()
        keep = (ts >= now - self.retention_us) & (ts <= now + self.future_us)
        kept = int(keep.sum())
        if kept != n:
            self.out_of_window += n - kept
            table = table.filter(pa.array(keep))
        self._seq += n
        await self.telemetry.insert_arrow("logs", table, nice=HISTORY_INSERT_NICE)
        self.stored += kept

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task:
            await self._task
        try:
            await self.sync()
        except Exception:  # closing: the engine may already be gone; logs are best effort
            log.exception("could not store the last log lines")

    # ------------------------------------------------------------------------------------- reads

    def _window(self, start_us: int | None, end_us: int | None) -> tuple[int, int]:
        now = time.time_ns() // 1000
        lo = now - self.retention_us
        start = lo if start_us is None else max(start_us, lo)
        end = now + self.future_us + 1 if end_us is None else end_us
        return start, end

    async def read(self, apps: Sequence[str], *, start_us: int | None = None, end_us: int | None = None,
                   limit: int = 100, descending: bool = False, sources: Sequence[str] | None = None) -> list[LogLine]:
        """Lines of `apps` with start <= time < end, at most `limit`, oldest first (newest first if
        `descending`). Without a start, from the oldest kept; without an end, up to the newest."""
        if not apps or limit <= 0:
            return []
        await self.sync()
        start, end = self._window(start_us, end_us)
        if start >= end:
            return []
        db = self.telemetry.database
        where = ("app IN {apps:Array(String)} AND time >= fromUnixTimestamp64Micro({start:Int64}, 'UTC') "
                 "AND time < fromUnixTimestamp64Micro({end:Int64}, 'UTC')")
        params: dict[str, object] = {"apps": list(apps), "start": start, "end": end, "limit": limit}
        if sources:
            where += " AND source IN {sources:Array(String)}"
            params["sources"] = list(sources)
        order = "DESC" if descending else "ASC"
        table = await self.telemetry.query_arrow(
            f"SELECT app, toUnixTimestamp64Micro(time) AS ts, source, instance, stream, host, message "
            f"FROM {db}.logs WHERE {where} ORDER BY time {order}, seq {order} LIMIT {{limit:UInt32}}", params)
        cols = [table.column(name).to_pylist() for name in ("app", "source", "instance", "stream", "ts", "host",
                                                            "message")]
        return [LogLine(*row) for row in zip(*cols, strict=True)]

    async def last(self, apps: Sequence[str], n: int) -> list[LogLine]:
        """The newest `n` lines across `apps`, oldest first."""
        lines = await self.read(apps, limit=n, descending=True)
        lines.reverse()
        return lines

    async def meta(self, limit: int) -> dict[str, SourceMeta]:
        """Per app: lines kept, oldest and newest time (µs). At most `limit` apps."""
        await self.sync()
        start, _ = self._window(None, None)
        db = self.telemetry.database
        table = await self.telemetry.query_arrow(
            f"SELECT app, count() AS n, toUnixTimestamp64Micro(min(time)) AS lo, "
            f"toUnixTimestamp64Micro(max(time)) AS hi FROM {db}.logs "
            "WHERE time >= fromUnixTimestamp64Micro({start:Int64}, 'UTC') "
            "GROUP BY app ORDER BY app LIMIT {limit:UInt32}", {"start": start, "limit": limit})
        return {app: SourceMeta(n, lo, hi) for app, n, lo, hi in zip(
            *(table.column(c).to_pylist() for c in ("app", "n", "lo", "hi")), strict=True)}
