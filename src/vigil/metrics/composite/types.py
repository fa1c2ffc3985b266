"""Data exchanged with the storage layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Series:
    metric: str  # source metric name (for a derived series, the name of its first input)
    tags: dict[str, str]
    times: np.ndarray  # int64 epoch seconds, ascending, unique, floored to resolution
    values: np.ndarray  # float64, same length
    period: int | None = None  # the metric's period, if known
    # Seconds this series' data was moved forward by timeshift() so it overlays the
    # unshifted window; 0 for series that were not shifted.
    timeshift: int = field(default=0)


class SeriesSource(Protocol):
    async def fetch(
        self,
        metric: str,
        tags: dict[str, list[str]],
        function: str,
        start: int,
        end: int,
        resolution: int,
    ) -> list[Series]:
        """Streams of `metric` (may hold * wildcards: all matching metrics) whose tags match every
        key's patterns (OR within a key; '*' wildcard; '!pat' = tag present and not matching),
        each downsampled to `resolution` with `function` (mean|sum|min|max|count)."""
        ...


class CombiningSource(SeriesSource, Protocol):
    async def fetch_combined(
        self,
        metric: str,
        tags: dict[str, list[str]],
        function: str,
        how: str,
        by: tuple[str, ...],
        start: int,
        end: int,
        resolution: int,
    ) -> tuple[list[Series], int]:
        """What `how` (sum|mean|min|max) of the streams `fetch` would return gives, per group of the `by`
        tags (one group when empty), computed where the data is; each series carries the tags its
        group's streams share. Also returns how many streams went in."""
        ...
