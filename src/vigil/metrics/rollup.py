"""Rollup tiers: 1-minute and 1-hour summaries of the samples, each kept for its own retention.

Every loaded batch marks the (metric, minute) windows it touched (`rollup_dirty`). A background
task recomputes those minutes from `samples FINAL` into `rollup_60` — so rollups agree with
last-write-wins and with service-side aggregation — and then the hours containing them from
`rollup_60` into `rollup_3600`, replacing earlier rows (both are ReplacingMergeTree by version).
Reads use a tier only before the watermark: the time the last completed run began, floored to the
tier's size; anything later is read from the raw samples, and so is every minute still waiting to
be recomputed (`pending`: kept in memory from the batches this process acknowledged, and from the
marks left in the table at start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import pyarrow as pa

from vigil.storage.telemetry import TelemetryError, TelemetryStore

log = logging.getLogger(__name__)

MINUTE = 60
HOUR = 3600
MAX_WINDOWS_PER_RUN = 5_000


class Rollups:
    def __init__(self, store: TelemetryStore, interval: float, sync: Callable[[], Awaitable[None]]) -> None:
        self.store = store
        self.interval = interval
        self.sync = sync
        self.watermark = 0  # tiers are complete for every minute before this …
        # … except these: metric → (oldest minute not recomputed yet, when it was last marked)
        self._pending: dict[str, tuple[int, float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def oldest_pending(self, metric: str) -> int | None:
        entry = self._pending.get(metric)
        return entry[0] if entry else None

    def mark(self, samples: pa.Table) -> None:
        """An acknowledged batch: its hours are stale in the tiers until the next run recomputes them."""
        now = time.time()
        oldest = samples.group_by("metric").aggregate([("time", "min")])
        for metric, first in zip(oldest.column("metric").to_pylist(), oldest.column("time_min").to_pylist(),
                                 strict=True):
            window = first - first % MINUTE
            previous = self._pending.get(metric)
            self._pending[metric] = (min(window, previous[0]) if previous else window, now)

    async def load_pending(self) -> None:
        """At start: the marks a previous process left (its batches were never rolled up)."""
        marks = await self.store.query_arrow(
            f"SELECT metric, toUInt32(min(window)) AS w FROM {self.store.database}.rollup_dirty GROUP BY metric")
        now = time.time()
        for metric, window in zip(marks.column("metric").to_pylist(), marks.column("w").to_pylist(), strict=True):
            self._pending[metric] = (window, now)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="rollups")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except TelemetryError as exc:
                log.error("rollup run failed (retrying next interval): %s", exc)
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        """Recompute every marked window; returns how many windows were rolled up."""
        async with self._lock:
            await self.sync()  # everything acknowledged so far is in the engine (and marked)
            started = time.time()
            db = self.store.database
            total = 0
            while True:
                marks = await self.store.query_arrow(
                    f"SELECT metric, toUInt32(window) AS w FROM {db}.rollup_dirty "
                    f"WHERE marked_at <= {{t:DateTime64(6)}} GROUP BY metric, w ORDER BY w LIMIT {MAX_WINDOWS_PER_RUN}",
                    {"t": started})
                if marks.num_rows == 0:
                    break
                pairs = list(zip(marks.column("metric").to_pylist(), marks.column("w").to_pylist(), strict=True))
                await self._recompute(pairs)
                total += len(pairs)
                await self.store.execute(
                    f"DELETE FROM {db}.rollup_dirty WHERE marked_at <= {{t:DateTime64(6)}} AND "
                    "(metric, toUInt32(window)) IN {pairs:Array(Tuple(String, UInt32))}",
                    {"t": started, "pairs": pairs})
                if marks.num_rows < MAX_WINDOWS_PER_RUN:
                    break
            self.watermark = int(started) - int(started) % MINUTE
            self._pending = {m: entry for m, entry in self._pending.items() if entry[1] > started}
            return total

    async def _recompute(self, minutes: list[tuple[str, int]]) -> None:
        db = self.store.database
        version = time.time_ns()
        await self.store.execute(
            f"""
            INSERT INTO {db}.rollup_60
            SELECT metric, series_id, toStartOfMinute(time) AS bucket, sum(count), sum(sum), min(min), max(max),
                   argMax(last, time), max(time), sum(stddev), count(), {{version:UInt64}}
            FROM {db}.samples FINAL
            WHERE (metric, toUInt32(toStartOfMinute(time))) IN {{minutes:Array(Tuple(String, UInt32))}}
            GROUP BY metric, series_id, bucket
            """, {"minutes": minutes, "version": version})
        hours = sorted({(metric, minute - minute % HOUR) for metric, minute in minutes})
        await self.store.execute(
            f"""
            INSERT INTO {db}.rollup_3600
            SELECT metric, series_id, toStartOfHour(time) AS bucket, sum(count), sum(sum), min(min), max(max),
                   argMax(last, last_time), max(last_time), sum(sd_sum), sum(points), {{version:UInt64}}
            FROM {db}.rollup_60 FINAL
            WHERE (metric, toUInt32(toStartOfHour(time))) IN {{hours:Array(Tuple(String, UInt32))}}
            GROUP BY metric, series_id, bucket
            """, {"hours": hours, "version": version})
