"""How series() leaves get their data: from the source once, then narrowed per group."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .align import union_reduce
from .combine import aggregate_groups
from .expr import SeriesExpr
from .limits import Budget
from .types import CombiningSource, Series, SeriesSource


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    resolution: int

    def shifted_back(self, seconds: int) -> Window:
        return Window(self.start - seconds, self.end - seconds, self.resolution)


# How to merge points a misbehaving source left in the same bucket: like with like,
# and counts add up.
_REALIGN = {"mean": "mean", "sum": "sum", "min": "min", "max": "max", "count": "sum"}


def _aligned(times: np.ndarray, values: np.ndarray, step: int, function: str) -> tuple[np.ndarray, np.ndarray]:
    """Times floored to ``step``, ascending and unique, whatever the source sent.

    Joins between series match timestamps exactly, so one unfloored or unsorted stream
    would silently pair nothing; the check is one vectorised pass when all is well.
    """
    floored = (times // step) * step
    if floored.size > 1 and bool(np.any(floored[1:] <= floored[:-1])):
        probe = Series("", {}, floored, values)
        return union_reduce([probe], _REALIGN[function])
    return floored, values


class Loader(Protocol):
    async def load(self, leaf: SeriesExpr, window: Window) -> list[Series]: ...

    def can_combine(self, leaf: SeriesExpr) -> bool:
        """Whether `load_combined` may serve an aggregate of this leaf."""
        ...

    async def load_combined(self, leaf: SeriesExpr, how: str, by: tuple[str, ...], window: Window) -> list[Series]:
        """`how` of the leaf's streams per group of the `by` tags, aggregated by the source."""
        ...


_Key = tuple[str, tuple[tuple[str, tuple[str, ...]], ...], str, int, int, int]
_CombinedKey = tuple[_Key, str, tuple[str, ...]]


class SourceLoader:
    """Fetches from the SeriesSource, at most once per distinct query.

    group_by() and map() read the same series() for discovery and again per group; the
    cache turns that into one fetch. Entries are tasks so concurrent identical loads share
    one fetch too.
    """

    def __init__(self, source: SeriesSource, budget: Budget, dynamic_tags: dict[str, list[str]] | None = None) -> None:
        self._source = source
        self._budget = budget
        self._dynamic = dynamic_tags or {}
        self._cache: dict[_Key | _CombinedKey, asyncio.Future[list[Series]]] = {}

    def _query(self, leaf: SeriesExpr, window: Window) -> tuple[_Key, dict[str, list[str]], int]:
        step = max(leaf.period or window.resolution, window.resolution)
        tags = {k: list(v) for k, v in self._dynamic.items()} if leaf.dynamic else {k: list(p) for k, p in leaf.tags}
        key: _Key = (
            leaf.metric,
            tuple(sorted((k, tuple(v)) for k, v in tags.items())),
            leaf.function,
            window.start,
            window.end,
            step,
        )
        return key, tags, step

    async def load(self, leaf: SeriesExpr, window: Window) -> list[Series]:
        key, tags, step = self._query(leaf, window)
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(leaf, tags, window, step))
            self._cache[key] = task
        return await task

    def can_combine(self, leaf: SeriesExpr) -> bool:
        return hasattr(self._source, "fetch_combined") and "*" not in leaf.metric and not leaf.has_placeholder

    async def load_combined(self, leaf: SeriesExpr, how: str, by: tuple[str, ...], window: Window) -> list[Series]:
        query, tags, step = self._query(leaf, window)
        key: _CombinedKey = (query, how, by)
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch_combined(leaf, tags, how, by, window, step))
            self._cache[key] = task
        return await task

    async def _fetch_combined(self, leaf: SeriesExpr, tags: dict[str, list[str]], how: str, by: tuple[str, ...],
                              window: Window, step: int) -> list[Series]:
        source: CombiningSource = self._source  # type: ignore[assignment]  # can_combine checked it
        got, inputs = await source.fetch_combined(leaf.metric, tags, leaf.function, how, by, window.start,
                                                  window.end, step)
        self._budget.charge(leaf.metric, inputs, sum(len(s.times) for s in got))
        return [Series(s.metric, dict(s.tags), np.asarray(s.times, dtype=np.int64),
                       np.asarray(s.values, dtype=np.float64), step if leaf.period else max(s.period or step, step))
                for s in got]

    async def _fetch(self, leaf: SeriesExpr, tags: dict[str, list[str]], window: Window, step: int) -> list[Series]:
        got = await self._source.fetch(leaf.metric, tags, leaf.function, window.start, window.end, step)
        self._budget.charge_fetch(leaf.metric, got)
        out = []
        for s in got:
            # The effective sampling period: what rate() divides by and fill() steps by.
            period = step if leaf.period else max(s.period or step, step)
            times, values = _aligned(
                np.asarray(s.times, dtype=np.int64), np.asarray(s.values, dtype=np.float64), step, leaf.function
            )
            out.append(Series(s.metric, dict(s.tags), times, values, period, 0))
        return out

    def close(self) -> None:
        """Cancel fetches nobody will wait for any more (after an error elsewhere)."""
        for task in self._cache.values():
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                # Mark failures as seen: the first one was already raised to the caller.
                with contextlib.suppress(BaseException):
                    task.exception()


class GroupLoader:
    """One group of a group_by(): grouped leaves only see streams with the group's tag values."""

    def __init__(self, parent: Loader, tags: tuple[str, ...], values: tuple[str, ...]) -> None:
        self._parent = parent
        self._wanted = tuple(zip(tags, values, strict=True))

    def can_combine(self, leaf: SeriesExpr) -> bool:
        return True

    async def load_combined(self, leaf: SeriesExpr, how: str, by: tuple[str, ...], window: Window) -> list[Series]:
        # The group's streams are a subset of what the parent read: combining them here costs no fetch.
        return aggregate_groups(how, await self.load(leaf, window), by)

    async def load(self, leaf: SeriesExpr, window: Window) -> list[Series]:
        got = await self._parent.load(leaf, window)
        if not leaf.group:
            return got
        return [s for s in got if all(s.tags.get(k) == v for k, v in self._wanted)]
