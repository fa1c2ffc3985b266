"""The most recent measurements, held in memory as Arrow columns: Prometheus' "head block".

Every acknowledged batch is added here before its 202 (a write-ahead-log observer), so a query whose
whole window lies in what this holds is answered from memory, without the engine's read barrier, its
`FINAL` merge of freshly written parts, or a statement at all. The answers are the engine's: the same
last-write-wins (per series, time and `uniq`, the highest version), the same merged fields per bucket,
the same combining across a group (`samples.py` holds the SQL these functions mirror, and a test
compares the two on random data).

What it covers: every point whose time is at or after `since`. At start that is just after the latest
point the engine holds (an empty engine: everything), so no point of a covered time can be missing
here. Rows are bounded by `limit`; past it the oldest times are dropped and `since` moves forward
past them. Backfills older than `since` go to the engine only. A deleted metric is forgotten.

A rollup tier answers a query exactly as the raw points of its buckets do (it is recomputed from
them), so a covered window is served from here whatever tier the planner chose, except for the
derivative, which differs between raw points and rollup buckets: that reads here only when the plan
is raw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.metrics.samples import FIELDS, Source, bucket_values
from vigil.metrics.writer import SAMPLES_SCHEMA

_KEY = ("series_id", "time", "uniq")
_MERGE = {"count": np.add, "sum": np.add, "min": np.minimum, "max": np.maximum}
_COMBINE = {"sum": np.add, "min": np.minimum, "max": np.maximum}
# Past this many rows a read runs in a worker thread (numpy releases the GIL) instead of the event loop.
_THREAD_ROWS = 200_000


_NOTHING = pa.schema([f for f in SAMPLES_SCHEMA if f.name != "metric"]).empty_table()


def _empty_buckets(fields: Iterable[str]) -> pa.Table:
    return pa.table({"series_id": pa.array([], pa.uint64()), "t": pa.array([], pa.uint32()),
                     **{f: pa.array([], pa.uint64() if f == "count" else pa.float64()) for f in fields}})


class _Rows:
    """One selection of a metric's points: sorted by series, time, uniq; one row per key (last write)."""

    __slots__ = ("columns", "size")

    def __init__(self, table: pa.Table, ids: np.ndarray | None, start: int, stop: int, fields: Iterable[str]) -> None:
        times = table.column("time")
        mask = pc.and_(pc.greater_equal(times, pa.scalar(start, pa.uint32())),
                       pc.less(times, pa.scalar(min(stop, 2**32 - 1), pa.uint32())))
        if ids is not None:
            mask = pc.and_(mask, pc.is_in(table.column("series_id"), value_set=pa.array(ids, pa.uint64())))
        names = list(dict.fromkeys((*_KEY, *fields)))
        picked = table.select(names).filter(mask)
        columns = {n: picked.column(n).to_numpy() for n in names}
        # Rows are held in write order, which is version order: a stable sort by the key leaves the
        # last write of each key last. `uniq` is 0 except for service-side aggregated points.
        keys = (columns["uniq"], columns["time"], columns["series_id"])
        order = np.lexsort(keys if columns["uniq"].any() else keys[1:])
        columns = {n: c[order] for n, c in columns.items()}
        sid, time, uniq = columns["series_id"], columns["time"], columns["uniq"]
        last_of_key = np.r_[(sid[1:] != sid[:-1]) | (time[1:] != time[:-1]) | (uniq[1:] != uniq[:-1]), True][:len(sid)]
        self.columns = {n: c[last_of_key] for n, c in columns.items()}
        self.size = int(np.count_nonzero(last_of_key))

    def buckets(self, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bucket of each row, first row of each (series, bucket) run, past-the-end row of each)."""
        sid, time = self.columns["series_id"], self.columns["time"]
        t = time - time % np.uint32(resolution)
        starts = np.flatnonzero(np.r_[True, (sid[1:] != sid[:-1]) | (t[1:] != t[:-1])])
        return t, starts, np.r_[starts[1:], self.size]

    def merged(self, fields: Iterable[str], starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
        """Each (series, bucket) run's fields merged as the engine merges them (`samples.MERGED`)."""
        out = {}
        for f in fields:
            column = self.columns[f]
            if f in _MERGE:
                out[f] = _MERGE[f].reduceat(column, starts)
            elif f == "last":  # rows are in time order: the run's last row has the latest point
                out[f] = column[ends - 1]
            else:  # stddev: averaged over the points
                out[f] = np.add.reduceat(column, starts) / (ends - starts)
        return out


def _span(sources: list[Source]) -> tuple[int, int]:
    return min(s.start for s in sources), max(s.end for s in sources)


class RecentSamples:
    """The recent points of every metric, in memory (`limit` rows; 0 turns it off)."""

    def __init__(self, limit: int, raw_retention: int) -> None:
        self.limit = limit
        self.raw_retention = raw_retention
        self.since = 2**32  # nothing is covered until `start` has asked the engine
        self.rows = 0
        self._metrics: dict[str, list[pa.Table]] = {}  # per metric: chunks, largest first

    def start(self, latest_in_engine: int | None) -> None:
        """Cover every time after the engine's latest point (None: the engine holds none)."""
        if self.limit:
            self.since = 0 if latest_in_engine is None else latest_in_engine + 1

    def covers(self, sources: list[Source], now: int, *, raw_only: bool = False) -> bool:
        if not sources or (raw_only and any(s.table != "samples" for s in sources)):
            return False
        return _span(sources)[0] >= max(self.since, now - self.raw_retention)

    # -- writing ------------------------------------------------------------------------------------

    def add(self, samples: pa.Table) -> None:
        """A batch that was just acknowledged (a write-ahead-log observer: runs on the event loop)."""
        if not self.limit or self.since >= 2**32 or samples.num_rows == 0:
            return
        if self.since and pc.min(samples.column("time")).as_py() < self.since:
            samples = samples.filter(pc.greater_equal(samples.column("time"), pa.scalar(self.since, pa.uint32())))
        metrics = pc.dictionary_encode(samples.column("metric")).combine_chunks()
        body = samples.drop_columns(["metric"])
        names = metrics.dictionary.to_pylist()
        if len(names) == 1:
            self._append(names[0], body)
        else:
            codes = metrics.indices.to_numpy(zero_copy_only=False)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
            grouped = body.take(pa.array(order))
            for code, name in enumerate(names):
                self._append(name, grouped.slice(bounds[code], bounds[code + 1] - bounds[code]))
        self.rows += body.num_rows
        if self.rows > self.limit:
            self._evict()

    def _append(self, metric: str, chunk: pa.Table) -> None:
        # Chunks merge like a binary counter: O(log n) chunks per metric, each row copied O(log n) times.
        chunks = self._metrics.setdefault(metric, [])
        chunks.append(chunk)
        while len(chunks) > 1 and chunks[-1].num_rows * 2 >= chunks[-2].num_rows:
            last = chunks.pop()
            chunks[-1] = pa.concat_tables([chunks[-1], last]).combine_chunks()

    def _evict(self) -> None:
        """Drop the oldest times until a quarter of the room is free; `since` moves past them."""
        times = np.concatenate([c.column("time").to_numpy() for chunks in self._metrics.values() for c in chunks])
        drop = len(times) - self.limit * 3 // 4
        cut = int(np.partition(times, drop)[drop]) if drop < len(times) else int(times.max()) + 1
        if cut == int(times.min()):  # every row to drop shares the oldest time: drop that time too
            cut += 1
        self.since = max(self.since, cut)
        keep = pa.scalar(self.since, pa.uint32())
        self.rows = 0
        for metric, chunks in list(self._metrics.items()):
            table = pa.concat_tables(chunks)
            table = table.filter(pc.greater_equal(table.column("time"), keep)).combine_chunks()
            if table.num_rows:
                self._metrics[metric] = [table]
                self.rows += table.num_rows
            else:
                del self._metrics[metric]

    def forget(self, metrics: Iterable[str]) -> None:
        """Deleted metrics."""
        for metric in metrics:
            for chunk in self._metrics.pop(metric, ()):
                self.rows -= chunk.num_rows

    # -- reading (the functions of samples.py, over what is held) -------------------------------------

    async def _select(self, metric: str, ids: np.ndarray | None, sources: list[Source],
                      fields: Iterable[str] = ()) -> _Rows:
        chunks = self._metrics.get(metric)
        table = pa.concat_tables(chunks) if chunks else _NOTHING
        start, stop = _span(sources)
        if table.num_rows > _THREAD_ROWS:
            return await asyncio.to_thread(_Rows, table, ids, start, stop, fields)
        return _Rows(table, ids, start, stop, fields)

    async def read_buckets(self, metric: str, sources: list[Source], series_ids: np.ndarray, resolution: int,
                           limit: int, fields: tuple[str, ...] = FIELDS) -> pa.Table:
        rows = await self._select(metric, series_ids, sources, fields)
        if not rows.size:
            return _empty_buckets(fields)
        t, starts, ends = rows.buckets(resolution)
        merged = rows.merged(fields, starts, ends)
        n = min(len(starts), limit + 1)
        return pa.table({"series_id": rows.columns["series_id"][starts][:n], "t": t[starts][:n],
                         **{f: merged[f][:n] for f in fields}})

    async def read_grouped(self, metric: str, sources: list[Source], series_ids: np.ndarray | None,
                           groups: np.ndarray | None, resolution: int, summary: str, group_function: str,
                           limit: int, members: bool = False) -> tuple[pa.Table, np.ndarray | None]:
        fields = ("count", "sum") if summary == "mean" else (summary,)
        rows = await self._select(metric, series_ids, sources, fields)
        if not rows.size:
            return pa.table({"g": pa.array([], pa.uint32()), "t": pa.array([], pa.uint32()),
                             "value": pa.array([], pa.float64())}), (np.array([], np.uint64) if members else None)
        t, starts, ends = rows.buckets(resolution)
        values = bucket_values(rows.merged(fields, starts, ends), summary)
        sids, times = rows.columns["series_id"][starts], t[starts]
        g = np.zeros(len(sids), np.uint32)
        if groups is not None and series_ids is not None and len(sids):
            sorter = np.argsort(series_ids)
            g = groups[sorter[np.searchsorted(series_ids, sids, sorter=sorter)]].astype(np.uint32)
        order = np.lexsort((times, g))
        g, times, values = g[order], times[order], values[order]
        first = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (times[1:] != times[:-1])])
        if group_function == "mean":
            combined = np.add.reduceat(values, first) / np.diff(np.r_[first, len(g)])
        else:
            combined = _COMBINE[group_function].reduceat(values, first)
        n = min(len(first), limit + 1)
        table = pa.table({"g": pa.array(g[first][:n], pa.uint32()), "t": pa.array(times[first][:n], pa.uint32()),
                          "value": pa.array(combined[:n], pa.float64())})
        return table, (sids[np.r_[True, sids[1:] != sids[:-1]]] if members else None)  # sids are sorted

    async def read_points(self, metric: str, sources: list[Source], series_ids: np.ndarray, limit: int) -> pa.Table:
        rows = await self._select(metric, series_ids, sources, ("last",))
        sid, time = rows.columns["series_id"], rows.columns["time"]
        last_of_point = np.r_[(sid[1:] != sid[:-1]) | (time[1:] != time[:-1]), True][:rows.size]
        keep = np.flatnonzero(last_of_point)[:limit + 1]
        return pa.table({"series_id": pa.array(sid[keep], pa.uint64()), "time": pa.array(time[keep], pa.uint32()),
                         "last": pa.array(rows.columns["last"][keep], pa.float64())})

    async def active_series(self, metric: str, sources: list[Source], among: np.ndarray | None) -> np.ndarray:
        return np.unique((await self._select(metric, among, sources)).columns["series_id"])

    async def any_active(self, metric: str, sources: list[Source], among: np.ndarray) -> bool:
        return (await self._select(metric, among, sources)).size > 0
