"""The series index in memory: each metric's series (id and tags), held as columns so that a tag filter
is a few numpy operations instead of a statement to the engine.

A metric is loaded from the engine's `series` table the first time a query needs it and kept up to date
by the ingest path, which announces every series it wrote for the first time before it acknowledges the
write (series announced while their metric loads are added once it has loaded). Metrics are evicted
least recently used once the index holds more than `max_series`; a metric larger than that on its own
is never held, and queries on it filter in the engine instead (`None` from `select`).
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vigil.metrics.tagfilter import Absent, And, Everything, Has, Match, Or, TagFilter
from vigil.storage.telemetry import TelemetryStore

NewSeries = tuple[str, int, dict[str, str]]  # (metric key, series id, tags)


@lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    """A tag pattern (`*` any run of characters) as a regex; patterns are lower-cased like stored tags."""
    return re.compile(".*".join(re.escape(part) for part in pattern.lower().split("*")), re.DOTALL)


@dataclass(frozen=True, slots=True)
class Selection:
    """Series of a metric that pass a filter, in output order (sorted by their tag pairs)."""

    ids: np.ndarray  # uint64
    tags: list[dict[str, str]]
    everything: bool  # every series of the metric passed (no need to name them to the engine)


class MetricSeries:
    """One metric's series. Additions are cheap appends; the columns are rebuilt on the next read."""

    def __init__(self, ids: list[int], tags: list[dict[str, str]]) -> None:
        self._position: dict[int, int] = {}
        self._ids: list[int] = []
        self._tags: list[dict[str, str]] = []
        self._built = False
        self.add(zip(ids, tags, strict=True))

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, series: Iterable[tuple[int, dict[str, str]]]) -> None:
        for sid, tags in series:
            if sid not in self._position:
                self._position[sid] = len(self._ids)
                self._ids.append(sid)
                self._tags.append(tags)
                self._built = False

    def _build(self) -> None:
        pairs = [sorted(tags.items()) for tags in self._tags]
        order = sorted(range(len(self._ids)), key=pairs.__getitem__)
        self.ids = np.array([self._ids[i] for i in order], dtype=np.uint64)
        self.tags = [dict(pairs[i]) for i in order]  # each in key order, as responses show them
        # Per tag name: each series' value as a code into that name's distinct values (-1: absent).
        values: dict[str, dict[str, int]] = {}
        codes: dict[str, np.ndarray] = {}
        for row, tags in enumerate(self.tags):
            for key, value in tags.items():
                distinct = values.setdefault(key, {})
                column = codes.get(key)
                if column is None:
                    column = codes[key] = np.full(len(self.tags), -1, dtype=np.int32)
                column[row] = distinct.setdefault(value, len(distinct))
        self._values = {key: list(distinct) for key, distinct in values.items()}
        self._codes = codes
        self._built = True

    def select(self, tag_filter: TagFilter) -> Selection:
        if not self._built:
            self._build()
        if isinstance(tag_filter, Everything):
            return Selection(self.ids, self.tags, True)
        mask = self._mask(tag_filter)
        rows = np.flatnonzero(mask)
        return Selection(self.ids[rows], [self.tags[i] for i in rows.tolist()], rows.size == len(self.tags))

    def _keys(self, key: str) -> list[str]:
        key = key.lower()
        if "*" not in key:
            return [key] if key in self._codes else []
        pattern = _pattern(key)
        return [k for k in self._codes if pattern.fullmatch(k)]

    def _value_mask(self, key: str, pattern: str | None, negate: bool) -> np.ndarray:
        """Series having a tag named like `key` whose value matches `pattern` (None: any value);
        with `negate`, whose value does not match."""
        out = np.zeros(len(self.tags), dtype=bool)
        for name in self._keys(key):
            codes = self._codes[name]
            if pattern is None:
                out |= codes >= 0
                continue
            regex = _pattern(pattern)
            passing = np.fromiter((bool(regex.fullmatch(v)) != negate for v in self._values[name]), dtype=bool,
                                  count=len(self._values[name]))
            out |= (codes >= 0) & passing[np.maximum(codes, 0)]
        return out

    def _mask(self, f: TagFilter) -> np.ndarray:
        if isinstance(f, Everything):
            return np.ones(len(self.tags), dtype=bool)
        if isinstance(f, Match):
            any_value = f.pattern == "*" and not f.negate
            return self._value_mask(f.key, None if any_value else f.pattern, f.negate)
        if isinstance(f, Has):
            return self._value_mask(f.key, None, False)
        if isinstance(f, Absent):
            return ~self._value_mask(f.key, None, False)
        if isinstance(f, And):
            out = np.ones(len(self.tags), dtype=bool)
            for part in f.parts:
                out &= self._mask(part)
            return out
        if isinstance(f, Or):
            out = np.zeros(len(self.tags), dtype=bool)
            for part in f.parts:
                out |= self._mask(part)
            return out
        return ~self._mask(f.part)


class SeriesIndex:
    def __init__(self, store: TelemetryStore, max_series: int = 1_000_000,
                 sync: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.max_series = max_series
        self.sync = sync  # the write-ahead log's read barrier: series rows still in it are loaded first
        self._metrics: OrderedDict[str, MetricSeries] = OrderedDict()
        self._loading: dict[str, asyncio.Future[MetricSeries | None]] = {}
        self._arrived: dict[str, list[tuple[int, dict[str, str]]]] = {}  # announced while loading
        self._too_big: set[str] = set()
        self.held = 0  # series held, over all metrics

    def announce(self, series: Iterable[NewSeries]) -> None:
        """Series the ingest path wrote for the first time (or again, after it forgot them)."""
        for key, sid, tags in series:
            held = self._metrics.get(key)
            if held is not None:
                before = len(held)
                held.add([(sid, tags)])
                self.held += len(held) - before
                if len(held) > self.max_series:
                    self.forget([key])
                    self._too_big.add(key)
            elif key in self._arrived:  # loading
                self._arrived[key].append((sid, tags))
        self._evict()

    def forget(self, keys: Iterable[str]) -> None:
        """Metrics deleted (or whose series rows may be gone): read them again next time."""
        for key in keys:
            held = self._metrics.pop(key, None)
            if held is not None:
                self.held -= len(held)
            self._too_big.discard(key)

    async def select(self, metric: str, tag_filter: TagFilter) -> Selection | None:
        """The metric's series passing the filter, or None when the metric is too large to hold."""
        held = await self._get(metric)
        return None if held is None else held.select(tag_filter)

    async def _get(self, metric: str) -> MetricSeries | None:
        held = self._metrics.get(metric)
        if held is not None:
            self._metrics.move_to_end(metric)
            return held
        if metric in self._too_big:
            return None
        loading = self._loading.get(metric)
        if loading is None:
            self._arrived[metric] = []
            loading = self._loading[metric] = asyncio.ensure_future(self._load(metric))
            loading.add_done_callback(lambda _: self._loading.pop(metric, None))
        return await asyncio.shield(loading)

    async def _load(self, metric: str) -> MetricSeries | None:
        try:
            if self.sync is not None:
                await self.sync()
            table = await self.store.query_arrow(
                f"SELECT series_id, any(tags) AS tags FROM {self.store.database}.series "
                f"WHERE metric = {{metric:String}} GROUP BY series_id LIMIT {self.max_series + 1}", {"metric": metric})
        finally:
            arrived = self._arrived.pop(metric)
        if table.num_rows > self.max_series:
            self._too_big.add(metric)
            return None
        held = MetricSeries(table.column("series_id").to_pylist(),
                            [dict(pairs) for pairs in table.column("tags").to_pylist()])
        held.add(arrived)
        self._metrics[metric] = held
        self.held += len(held)
        self._evict(keep=metric)
        return held

    def _evict(self, keep: str | None = None) -> None:
        while self.held > self.max_series and len(self._metrics) > 1:
            oldest = next(iter(self._metrics))
            if oldest == keep:
                self._metrics.move_to_end(oldest)
                continue
            self.held -= len(self._metrics.pop(oldest))
