"""The Fn statistics parameters and their defaults."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.fnstats.params import StatsParamError, parse_duration, parse_time, parse_window

NOW = dt.datetime(2017, 11, 24, 18, 11, 30, 849000, tzinfo=dt.UTC).timestamp()


def test_defaults_are_the_last_five_minutes_every_30_seconds() -> None:
    w = parse_window(None, None, None, max_points=11_000, now=NOW)
    assert (w.start, w.end, w.step) == (NOW - 300, NOW, 30.0)
    assert len(w.times()) == 11
    # Only an end: five minutes before it. Only a start: up to now.
    w = parse_window(None, "2017-11-24T18:00:00Z", None, max_points=11_000, now=NOW)
    assert w.end - w.start == 300
    w = parse_window("2017-11-24T18:10:00Z", None, "1m", max_points=11_000, now=NOW)
    assert (w.end, w.step, len(w.times())) == (NOW, 60.0, 2)


def test_times_and_durations() -> None:
    assert parse_time("starttime", "2017-11-24T18:01:30.851Z") == pytest.approx(1511546490.851)
    assert parse_time("starttime", "2017-11-24T19:01:30+01:00") == 1511546490.0
    assert [parse_duration(s) for s in ("30s", "5m", "1h30m", "1.5h", "500ms", "0")] == [30, 300, 5400, 5400, 0.5, 0]
    for bad in ("", "30", "5 m", "1d", "m"):
        with pytest.raises(StatsParamError):
            parse_duration(bad)
