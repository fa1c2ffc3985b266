"""PromQL's evaluation rules that the Fn statistics rely on, over one series' points (numpy, no loop
over steps): instant values with a look-back window and staleness, and `rate()` with Prometheus'
extrapolation. The rules are those of Prometheus 2.x: a range `[t - r, t]` includes both ends; an
instant value is the latest point in `[t - lookback, t]`, unless a staleness marker came after it.

Vigil stores points to the second, so times here are whole seconds; evaluation times may not be.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def instant(times: np.ndarray, values: np.ndarray, stale: np.ndarray, at: np.ndarray, lookback: float) -> np.ndarray:
    """The series' value at each time of `at` (NaN where it has none)."""
    out = np.full(at.shape, np.nan)
    if times.size == 0:
        return out
    idx = np.searchsorted(times, at, side="right") - 1
    found = idx >= 0
    safe = np.clip(idx, 0, None)
    point_time = times[safe]
    found &= point_time >= at - lookback
    if stale.size:
        j = np.searchsorted(stale, at, side="right") - 1
        # A marker at or after the point (and not after t) ended the series.
        found &= ~((j >= 0) & (stale[np.clip(j, 0, None)] >= point_time))
    out[found] = values[safe[found]]
    return out


def rate(times: np.ndarray, values: np.ndarray, at: np.ndarray, window: float) -> np.ndarray:
    """`rate(series[window])` at each time of `at` (NaN where the window holds fewer than 2 points):
    the increase over the points in `[t - window, t]`, counter resets corrected, extrapolated towards
    the window's ends as Prometheus does, per second."""
    out = np.full(at.shape, np.nan)
    if times.size < 2:
        return out
    lo = np.searchsorted(times, at - window, side="left")
    hi = np.searchsorted(times, at, side="right")  # exclusive
    n = hi - lo
    ok = n >= 2
    if not ok.any():
        return out
    lo, hi, t, n = lo[ok], hi[ok] - 1, at[ok], n[ok]
    # A drop is a reset: the counter restarted from zero, so the value before it is added back.
    prev = values[:-1]
    resets = np.concatenate(([0.0], np.where(values[1:] < prev, prev, 0.0)))
    corrections = np.cumsum(resets)
    first, last = values[lo], values[hi]
    increase = last - first + corrections[hi] - corrections[lo]
    first_t, last_t = times[lo].astype(np.float64), times[hi].astype(np.float64)
    sampled = last_t - first_t
    to_start = first_t - (t - window)
    to_end = t - last_t
    average = sampled / (n - 1)
    # A counter cannot go below zero: do not extrapolate the start past the point where it would be 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = np.where((increase > 0) & (first >= 0), sampled * (first / np.where(increase > 0, increase, 1)),
                           np.inf)
    to_start = np.minimum(to_start, to_zero)
    threshold = average * 1.1
    extrapolated = (sampled + np.where(to_start < threshold, to_start, average / 2)
                    + np.where(to_end < threshold, to_end, average / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = increase * (extrapolated / sampled) / window
    out[ok] = result
    return out


def total(columns: Iterable[np.ndarray], length: int) -> np.ndarray:
    """`sum()` across series at each step: NaN where no series has a value (an empty vector).
    Accumulates one series at a time, so memory stays one row whatever the number of series."""
    sums = np.zeros(length)
    present = np.zeros(length, dtype=bool)
    for column in columns:
        has = ~np.isnan(column)
        sums[has] += column[has]
        present |= has
    return np.where(present, sums, np.nan)
