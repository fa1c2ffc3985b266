"""Which tier serves a query: the coarsest whose bucket divides the resolution and that still keeps the
start of the interval. A rollup tier is read up to the watermark (floored to the tier's size: the
bucket holding it is still partial) and the raw samples after it."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.errors import RequestError
from vigil.metrics.samples import Source

UNAVAILABLE = ("The requested data resolution is unavailable for the given time range. "
               "Please try a different resolution.")


@dataclass(frozen=True, slots=True)
class Tier:
    size: int  # seconds per point; 1 for the raw samples
    table: str
    retention: int


def plan(tiers: list[Tier], start: int, end: int, resolution: int, now: int, watermark: int) -> list[Source]:
    """Sources covering [start, end] for `resolution`. `tiers` are ordered coarsest first, raw last."""
    stop = end + 1
    raw = tiers[-1]
    for tier in tiers:
        if tier.size > resolution or resolution % tier.size or start < now - tier.retention:
            continue
        if tier is raw:
            return [Source(raw.table, start, stop)]
        split = min(max(watermark - watermark % tier.size, start), stop)
        if split < stop and split < now - raw.retention:
            continue  # the rollups lag further behind than the raw samples reach
        sources = []
        if start < split:
            sources.append(Source(tier.table, start, split))
        if split < stop:
            sources.append(Source(raw.table, split, stop))
        return sources
    raise RequestError(UNAVAILABLE)
