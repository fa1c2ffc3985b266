"""PromQL's rules as Vigil evaluates them, against values worked out by hand."""

from __future__ import annotations

import numpy as np

from vigil.prom.evaluate import instant, rate, total


def _a(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_instant_values_look_back_and_stop_at_markers() -> None:
    times, values = np.array([100, 110]), _a(1, 2)
    at = _a(99, 100, 105, 112, 115, 120)
    got = instant(times, values, np.array([115]), at, 300)
    np.testing.assert_array_equal(got, _a(np.nan, 1, 1, 2, np.nan, np.nan))
    # Without a marker the last value holds for the look-back window, both ends included.
    got = instant(times, values, np.array([], dtype=np.int64), _a(410, 411), 300)
    np.testing.assert_array_equal(got, _a(2, np.nan))
    # A marker before the latest point does not hide it (the series came back).
    got = instant(times, values, np.array([105]), _a(106, 111), 300)
    np.testing.assert_array_equal(got, _a(np.nan, 2))


def test_rate_extrapolates_like_prometheus() -> None:
    # 0,15,30,45 at 0..45 s; at t=60 over [0, 60]: increase 45 over 45 s sampled; the start is
    # at the window's edge (+0) and the end 15 s away (< 1.1 × 15): extrapolated to 60 s → 1/s.
    got = rate(np.array([0, 15, 30, 45]), _a(0, 15, 30, 45), _a(60), 60)
    np.testing.assert_allclose(got, [1.0])


def test_rate_corrects_resets_and_limits_extrapolation() -> None:
    # 10,20,5,15 at 10..40 s, t=60: increase 5 + 20 (reset) = 25, sampled 30 s, average gap 10 s.
    # Start gap 10 s < 11 s: extrapolate 10 s (the zero point is 12 s away, further); end gap
    # 20 s ≥ 11 s: half a gap, 5 s. 25 × 45 / 30 / 60 = 0.625.
    got = rate(np.array([10, 20, 30, 40]), _a(10, 20, 5, 15), _a(60), 60)
    np.testing.assert_allclose(got, [0.625])


def test_rate_needs_two_points_in_the_window() -> None:
    got = rate(np.array([0, 100]), _a(1, 2), _a(50, 100, 130), 60)
    np.testing.assert_array_equal(np.isnan(got), [True, True, True])


def test_total_is_absent_where_no_series_is_present() -> None:
    got = total([_a(1, np.nan, np.nan), _a(2, 5, np.nan)], 3)
    np.testing.assert_array_equal(got, _a(3, 5, np.nan))
    assert np.isnan(total([], 2)).all()
