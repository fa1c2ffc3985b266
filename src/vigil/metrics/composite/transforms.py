"""Functions that turn each series into another series on its own."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .align import grid
from .expr import DeriveParams, FillParams, RateParams, ScaleParams, WindowParams
from .types import Series


def rebuild(s: Series, times: np.ndarray, values: np.ndarray) -> Series:
    # A fresh tags dict: group_by()/map() label their outputs in place, and must not
    # write through to series the source (or its cache) still holds.
    return Series(s.metric, dict(s.tags), times, values, s.period, s.timeshift)


def absolute(s: Series) -> Series:
    return rebuild(s, s.times, np.abs(s.values))


def integrate(s: Series) -> Series:
    return rebuild(s, s.times, np.cumsum(s.values))


def scale(s: Series, p: ScaleParams) -> Series:
    return rebuild(s, s.times, s.values * p.factor)


def derive(s: Series, p: DeriveParams) -> Series:
    delta = np.diff(s.values)
    if p.detect_reset:
        # A drop means the counter restarted; the increase across a restart is unknown,
        # so report none rather than a large negative step.
        delta = np.where(delta < 0, 0.0, delta)
    return rebuild(s, s.times[1:], delta)


def rate(s: Series, p: RateParams, resolution: int) -> Series:
    period = max(s.period or resolution, resolution)
    return rebuild(s, s.times, s.values / period * p.duration)


_WINDOW = {
    "mean": np.mean,
    "sum": np.sum,
    "min": np.min,
    "max": np.max,
    "median": np.median,
}


def window(s: Series, p: WindowParams) -> Series:
    if p.size <= 1:
        return rebuild(s, s.times, s.values.copy())
    if s.values.size < p.size:
        return rebuild(s, s.times[:0], s.values[:0])
    frames = sliding_window_view(s.values, p.size)
    return rebuild(s, s.times[p.size - 1 :], _WINDOW[p.function](frames, axis=1))


def fill_step(s: Series, resolution: int) -> int:
    return max(s.period or resolution, resolution)


def fill_size(s: Series, start: int, end: int, resolution: int) -> int:
    """Upper bound of fill()'s output length, to check limits before allocating."""
    step = fill_step(s, resolution)
    first = (start // step) * step
    return max(0, -(-(end - first) // step)) + s.times.size


def fill(s: Series, p: FillParams, start: int, end: int, resolution: int) -> Series:
    buckets = grid(fill_step(s, resolution), start, end)
    if p.value is not None:
        times = np.union1d(buckets, s.times)
        values = np.full(times.size, p.value, dtype=np.float64)
        values[np.searchsorted(times, s.times)] = s.values
        return rebuild(s, times, values)
    if s.times.size == 0:
        return rebuild(s, s.times, s.values)
    # "last": nothing is known before the first point, so filling starts there.
    times = np.union1d(buckets[buckets >= s.times[0]], s.times)
    known = np.searchsorted(times, s.times)
    source = np.zeros(times.size, dtype=np.int64)
    source[known] = known
    latest = np.maximum.accumulate(source)
    full = np.empty(times.size, dtype=np.float64)
    full[known] = s.values
    return rebuild(s, times, full[latest])
