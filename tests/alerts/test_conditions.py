"""Tag matching and the per-condition state machines, on hand-made batches."""

from __future__ import annotations

import numpy as np

from vigil.alerts.conditions import STALE_SECONDS, ConditionRuntime, Rows
from vigil.alerts.matching import TagMatcher, signal_id, stream_key
from vigil.alerts.model import Condition, ConditionSpec, TagFilter


def rows(points: list[tuple[int, int, float]], arrival: float = 0.0) -> Rows:
    """(series id, time, value) points as plain measurements, sorted like the evaluator sorts them."""
    points = sorted(points)
    sids = np.array([p[0] for p in points], np.uint64)
    values = np.array([p[2] for p in points], np.float64)
    return Rows(sids, np.array([p[1] for p in points], np.int64), np.ones(len(points)), values, values, values,
                arrival, arrival)


def runtime(kind: str = "above", threshold: float | None = 10, tags: tuple[TagFilter, ...] = (), **spec: object
            ) -> ConditionRuntime:
    return ConditionRuntime(1, Condition(7, ConditionSpec(kind, "m", threshold=threshold, tags=tags,
                                                          summary_function=spec.pop("fn", "average"),
                                                          **spec), 0.0), 100)  # type: ignore[arg-type]


def test_wildcards_values_and_missing_tags() -> None:
    m = TagMatcher((TagFilter("region", ("us-*", "eu-west")), TagFilter("host", ("*",))))
    assert m.matches({"region": "us-east-1", "host": "a"})
    assert m.matches({"region": "eu-west", "host": "b"})
    assert not m.matches({"region": "eu-west-2", "host": "b"})  # literal values match whole values only
    assert not m.matches({"region": "us-east"})  # host is required
    assert TagMatcher((TagFilter("path", ("/a?b*",)),)).matches({"path": "/a?bc"})  # only * is special
    assert not TagMatcher((TagFilter("path", ("/a?b",)),)).matches({"path": "/axb"})


def test_signal_keys_per_stream_and_grouped() -> None:
    tags = {"region": "us", "host": "a", "az": "1"}
    assert TagMatcher(()).signal_key(tags) == stream_key(tags) == "az=1,host=a,region=us"
    grouped = TagMatcher((TagFilter("region", ("*",)), TagFilter("host", ("a", "b"), grouped=True)))
    assert grouped.signal_key(tags) == "region=us,host=a|b"
    assert grouped.exact == ("host", frozenset({"a", "b"}))
    assert signal_id("region=us,host=a|b") == signal_id("region=us,host=a|b") != signal_id("region=eu,host=a|b")


def test_a_spike_inside_one_batch_counts_and_recovery_ends_the_violation() -> None:
    c = runtime()
    c.admit(1, {"h": "a"})
    changed, _ = c.feed(rows([(1, 100, 5), (1, 101, 50), (1, 102, 6)]))
    assert changed and list(c.fresh) == [1] and c.fresh[1].value == 50 and c.violating == {}
    c.fresh.clear()
    c.feed(rows([(1, 103, 11)]))
    assert c.violating[1].value == 11
    changed, _ = c.feed(rows([(1, 104, 9)]))
    assert changed and c.violating == {}


def test_derivative_skips_late_points_and_handles_resets() -> None:
    c = runtime(fn="derivative", threshold=-1, kind="below")
    c.admit(1, {"h": "a"})
    c.feed(rows([(1, 100, 100), (1, 160, 150)]))
    assert c.violating == {} and c.prev[1] == (160, 150.0)
    c.feed(rows([(1, 130, 0)]))  # older than the last point: no derivative, ignored
    assert c.violating == {} and not c.fresh
    c.feed(rows([(1, 220, 10)]))
    assert c.violating[1].value == -140.0


def test_grouped_streams_drop_out_after_the_stale_window() -> None:
    c = runtime(fn="sum", threshold=100, tags=(TagFilter("h", ("*",), grouped=True),))
    for sid, host in ((1, "a"), (2, "b")):
        c.admit(sid, {"h": host})
    c.feed(rows([(1, 1000, 60), (2, 1000, 30)]))
    assert c.violating == {}  # 90
    c.feed(rows([(2, 1010, 50)]))
    (group,) = c.violating.values()
    assert (group.key, group.value, group.recorded_at) == ("h=*", 110.0, 1010)
    c.feed(rows([(2, 1000 + STALE_SECONDS + 1, 50)]))  # a's point is now too old to count
    assert c.violating == {}


def test_absent_timer_re_arms_until_the_stream_is_really_silent() -> None:
    c = runtime("absent", None, duration=60)
    c.admit(1, {"h": "a"})
    _, timers = c.feed(rows([(1, 100, 1)], arrival=1000.0))
    assert timers == [(1060.0, 1, 0)]
    c.feed(rows([(1, 130, 1)], arrival=1030.0))  # reported again: no second timer
    changed, more = c.on_timer(1, 0, 1060.0)
    assert not changed and more == [(1090.0, 1, 0)]
    changed, more = c.on_timer(1, 0, 1090.0)
    assert changed and more == [] and c.violating[1].recorded_at == 1030
