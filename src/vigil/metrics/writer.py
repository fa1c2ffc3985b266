"""Measurements into the write-ahead log (group commit), then large INSERTs into the telemetry engine.

Requests hand their SampleBatch to `write`, which returns once the batch is in the log; the
machinery (queue, append and load tasks, the `sync` read barrier, replay) is
`storage/wal_writer.GroupCommitWriter`. What is particular to measurements: every batch is stamped
with strictly increasing versions (last write wins), carries the series rows seen for the first
time, and marks the (metric, minute) windows whose rollups must be recomputed — all three in the
log, so that a replayed segment is identical to its first attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.metrics.ingest import SampleBatch
from vigil.storage.telemetry import TelemetryStore
from vigil.storage.wal import SegmentLog
from vigil.storage.wal_writer import GroupCommitWriter

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


def dirty_windows(samples: pa.Table) -> pa.Table:
    """The (metric, minute) windows a batch touches: their rollups must be recomputed."""
    # One hash pass over (metric code, minute) packed into 64 bits: an Arrow group_by plans and starts
    # an execution engine per call, which cost more than the work itself for a group commit.
    metrics = pc.dictionary_encode(samples.column("metric")).combine_chunks()
    times = samples.column("time").to_numpy()
    codes = metrics.indices.to_numpy(zero_copy_only=False).astype(np.uint64)
    packed = (codes << np.uint64(32)) | (times - times % ROLLUP_WINDOW).astype(np.uint64)
    pairs = pc.unique(pa.array(packed)).to_numpy()
    return pa.table({"metric": metrics.dictionary.take(pa.array(pairs >> np.uint64(32))),
                     "window": pa.array((pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32))}, schema=DIRTY_SCHEMA)


class SampleWriter(GroupCommitWriter[SampleBatch, None]):
    noun = "measurements"
    observed = "samples"
    dedup_token = "wal-{segment}-{table}"
    task_prefix = "wal"
    append_failed_message = "Could not write the measurements; retry"

    def __init__(self, store: TelemetryStore, wal: SegmentLog, *, flush_rows: int, flush_interval: float,
                 max_pending_rows: int, wait_timeout: float = 30.0,
                 on_flush: Callable[[int, float], None] | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        super().__init__(store, wal, flush_rows=flush_rows, flush_interval=flush_interval,
                         max_pending=max_pending_rows, wait_timeout=wait_timeout, on_failure=on_failure)
        self._on_flush = on_flush
        self._last_version = 0

    @property
    def max_pending_rows(self) -> int:
        return self.max_pending

    async def write(self, batch: SampleBatch) -> None:
        """Wait until the batch is in the log (see `GroupCommitWriter._submit` for the bounds)."""
        await self._submit(batch, batch.rows)

    def _versions(self, n: int) -> np.ndarray:
        # Strictly increasing, so that the last write of a point wins; kept in the log so that a
        # replayed segment is identical to the first attempt (the engine then drops it).
        base = max(time.time_ns(), self._last_version + 1)
        self._last_version = base + n - 1
        return np.arange(base, base + n, dtype=np.uint64)

    def _prepare(self, items: list[SampleBatch]) -> tuple[dict[str, pa.Table], list[None]]:
        series = [s for b in items for s in b.new_series]
        now = int(time.time())
        series_table = pa.table({
            "metric": pa.array([s[0] for s in series], pa.string()),
            "series_id": pa.array([s[1] for s in series], pa.uint64()),
            "tags": pa.array([s[2] for s in series], pa.map_(pa.string(), pa.string())),
            "first_seen": pa.array(np.full(len(series), now, dtype=np.uint32)),
        }, schema=SERIES_SCHEMA)
        samples = pa.concat_tables([b.samples for b in items])
        samples = samples.append_column("version", pa.array(self._versions(samples.num_rows)))
        tables = {"series": series_table, "samples": samples, "rollup_dirty": dirty_windows(samples)}
        return tables, [None] * len(items)

    def _segment_loaded(self, tables: dict[str, pa.Table], rows: int, seconds: float) -> None:
        if self._on_flush:
            self._on_flush(rows, seconds)
