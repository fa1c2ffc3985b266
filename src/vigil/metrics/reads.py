"""Where a measurement query's points come from: the recent points in memory when they cover the
window (`recent.py`), else the engine (`samples.py`) after the write-ahead log's read barrier."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import numpy as np
import pyarrow as pa

from vigil.metrics import samples
from vigil.metrics.recent import RecentSamples
from vigil.metrics.samples import FIELDS, Source
from vigil.metrics.tagfilter import TagFilter
from vigil.storage.telemetry import TelemetryStore


class SampleReads:
    def __init__(self, store: TelemetryStore, sync: Callable[[], Awaitable[None]],
                 recent: RecentSamples | None = None) -> None:
        self.store = store
        self.sync = sync  # waits until every acknowledged write is in the engine
        self.recent = recent

    def _held(self, sources: list[Source], *, raw_only: bool = False) -> RecentSamples | None:
        if self.recent is not None and self.recent.covers(sources, int(time.time()), raw_only=raw_only):
            return self.recent
        return None

    async def read_buckets(self, metric: str, sources: list[Source], series_ids: np.ndarray, resolution: int,
                           limit: int, fields: tuple[str, ...] = FIELDS) -> pa.Table:
        if held := self._held(sources):
            return await held.read_buckets(metric, sources, series_ids, resolution, limit, fields)
        await self.sync()
        return await samples.read_buckets(self.store, metric, sources, series_ids, resolution, limit, fields)

    async def read_grouped(self, metric: str, sources: list[Source], series_ids: np.ndarray | None,
                           groups: np.ndarray | None, resolution: int, summary: str, group_function: str,
                           limit: int, members: bool = False) -> tuple[pa.Table, np.ndarray | None]:
        if held := self._held(sources):
            return await held.read_grouped(metric, sources, series_ids, groups, resolution, summary,
                                           group_function, limit, members)
        await self.sync()
        return await samples.read_grouped(self.store, metric, sources, series_ids, groups, resolution, summary,
                                          group_function, limit, members)

    async def read_points(self, metric: str, sources: list[Source], series_ids: np.ndarray, limit: int) -> pa.Table:
        if held := self._held(sources, raw_only=True):  # a rollup's points are its buckets, not raw points
            return await held.read_points(metric, sources, series_ids, limit)
        await self.sync()
        return await samples.read_points(self.store, metric, sources, series_ids, limit)

    async def active_series(self, metric: str, sources: list[Source], among: np.ndarray | None) -> np.ndarray:
        if held := self._held(sources):
            return await held.active_series(metric, sources, among)
        await self.sync()
        return await samples.active_series(self.store, metric, sources, among)

    async def any_active(self, metric: str, sources: list[Source], among: np.ndarray) -> bool:
        if held := self._held(sources):
            return await held.any_active(metric, sources, among)
        await self.sync()
        return await samples.any_active(self.store, metric, sources, among)

    async def matching_series(self, metric: str, tag_filter: TagFilter, sources: list[Source],
                              limit: int) -> dict[int, dict[str, str]]:
        """For metrics too large for the series index: the engine filters their tags."""
        await self.sync()
        return await samples.matching_series(self.store, metric, tag_filter, sources, limit)
