"""Putting several series on common timestamps, without a Python loop per point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .types import Series

_EMPTY_T = np.empty(0, dtype=np.int64)
_EMPTY_V = np.empty(0, dtype=np.float64)


def union_reduce(series: Sequence[Series], how: str) -> tuple[np.ndarray, np.ndarray]:
    """Reduce values sharing a timestamp across ``series`` (an outer join on time).

    A timestamp present in only some series is reduced over those that have it, which is
    what summing or averaging streams that report at different moments needs.
    """
    if not series:
        return _EMPTY_T, _EMPTY_V
    times = np.concatenate([s.times for s in series])
    values = np.concatenate([s.values for s in series])
    if times.size == 0:
        return _EMPTY_T, _EMPTY_V
    order = np.argsort(times, kind="stable")
    times = times[order]
    values = values[order]
    starts = np.flatnonzero(np.concatenate(([True], times[1:] != times[:-1])))
    out_times = times[starts]
    if how == "sum":
        out = np.add.reduceat(values, starts)
    elif how == "mean":
        counts = np.diff(np.append(starts, times.size))
        out = np.add.reduceat(values, starts) / counts
    elif how == "min":
        out = np.minimum.reduceat(values, starts)
    elif how == "max":
        out = np.maximum.reduceat(values, starts)
    else:  # pragma: no cover - the analyser only lets the four names through
        raise ValueError(how)
    return out_times, out.astype(np.float64, copy=False)


def inner_join(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps present in both series, with each side's values there."""
    times, ia, ib = np.intersect1d(a.times, b.times, assume_unique=True, return_indices=True)
    return times.astype(np.int64, copy=False), a.values[ia], b.values[ib]


def grid(step: int, start: int, end: int) -> np.ndarray:
    """Bucket starts of width ``step`` covering [start, end), the first floored to ``step``."""
    first = (start // step) * step
    if first >= end:
        return _EMPTY_T
    return np.arange(first, end, step, dtype=np.int64)
