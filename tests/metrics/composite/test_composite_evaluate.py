"""Evaluation of composite expressions against a small in-memory source.

Every expected number below is worked out by hand from FIXTURE (resolution 60 s,
window [0, 600) unless a test says otherwise).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import numpy as np
import pytest

from vigil.metrics.composite import CompositeError, Limits, Series, evaluate, parse

RES = 60


@dataclass
class Stream:
    metric: str
    tags: dict[str, str]
    times: list[int]
    values: list[float]
    period: int | None = None


def _tag_ok(tags: dict[str, str], key: str, patterns: list[str]) -> bool:
    value = tags.get(key)
    if value is None:
        return False
    for pattern in patterns:
        if pattern.startswith("!"):
            if not fnmatchcase(value, pattern[1:]):
                return True
        elif fnmatchcase(value, pattern):
            return True
    return False


@dataclass
class MemorySource:
    """The SeriesSource contract over a list of streams, downsampling with numpy."""

    streams: list[Stream]
    calls: list[tuple[object, ...]] = field(default_factory=list)

    async def fetch(
        self, metric: str, tags: dict[str, list[str]], function: str, start: int, end: int, resolution: int
    ) -> list[Series]:
        self.calls.append((metric, tags, function, start, end, resolution))
        out = []
        for st in self.streams:
            if not fnmatchcase(st.metric, metric):
                continue
            if not all(_tag_ok(st.tags, k, pats) for k, pats in tags.items()):
                continue
            t = np.asarray(st.times, dtype=np.int64)
            v = np.asarray(st.values, dtype=np.float64)
            inside = (t >= start) & (t < end)
            t, v = t[inside], v[inside]
            if t.size == 0:
                continue
            buckets = (t // resolution) * resolution
            starts = np.flatnonzero(np.concatenate(([True], np.diff(buckets) != 0)))
            counts = np.diff(np.append(starts, t.size))
            sums = np.add.reduceat(v, starts)
            agg = {
                "sum": sums,
                "mean": sums / counts,
                "min": np.minimum.reduceat(v, starts),
                "max": np.maximum.reduceat(v, starts),
                "count": counts.astype(np.float64),
            }[function]
            out.append(Series(st.metric, dict(st.tags), buckets[starts], agg, st.period))
        return out


FIXTURE = [
    Stream("cpu", {"host": "a", "env": "prod"}, [0, 60, 120, 180, 240], [1, 2, 3, 4, 5]),
    Stream("cpu", {"host": "b", "env": "prod"}, [0, 60, 120, 180, 240], [10, 20, 30, 40, 50]),
    Stream("cpu", {"host": "c", "env": "dev"}, [60, 180], [7, 9]),
    Stream("counter", {"host": "a"}, [0, 60, 120, 180, 240, 300], [10, 20, 5, 15, 25, 30]),
    Stream("net", {"host": "a"}, [0, 120], [120, 240], period=120),
    Stream("sparse", {"host": "a"}, [0, 180], [1, 4]),
    Stream("req.2xx", {"region": "us-east", "az": "b"}, [0, 60], [8, 9]),
    Stream("req.2xx", {"region": "us-east", "az": "c"}, [0, 60], [2, 5]),
    Stream("req.2xx", {"region": "eu", "az": "e"}, [0, 60], [5, 5]),
    Stream("req.total", {"region": "us-east", "az": "b"}, [0, 60], [10, 10]),
    Stream("req.total", {"region": "us-east", "az": "c"}, [0, 60], [10, 10]),
    Stream("req.total", {"region": "eu", "az": "e"}, [0, 60], [10, 10]),
    Stream(
        "appoptics.disk.disk_ops.read", {"host": "ip-192-168-15-18.ec2.internal"}, [0, 60, 120, 180], [100, 150, 40, 90]
    ),
]

T5 = [0, 60, 120, 180, 240]
PROD_A = {"host": "a", "env": "prod"}
PROD_B = {"host": "b", "env": "prod"}
DEV_C = {"host": "c", "env": "dev"}
US_B = {"region": "us-east", "az": "b"}
US_C = {"region": "us-east", "az": "c"}
EU_E = {"region": "eu", "az": "e"}

# (expression, [(tags, times, values), ...]); tags None means "not checked".
Expected = list[tuple[dict[str, str] | None, list[int], list[float]]]
CASES: list[tuple[str, Expected]] = [
    # series(): tag patterns, negation, several patterns for a key, metric wildcards, options
    ('s("cpu", {"env": "prod"})', [(PROD_A, T5, [1, 2, 3, 4, 5]), (PROD_B, T5, [10, 20, 30, 40, 50])]),
    ('series("cpu", {"host": "!a"})', [(PROD_B, T5, [10, 20, 30, 40, 50]), (DEV_C, [60, 180], [7, 9])]),
    ('s("cpu", {"host": ["a", "c"]})', [(PROD_A, T5, [1, 2, 3, 4, 5]), (DEV_C, [60, 180], [7, 9])]),
    ('s("req.*", {az: "b"})', [(US_B, [0, 60], [8, 9]), (US_B, [0, 60], [10, 10])]),
    ('s("cpu", {"host": "b"}, {period: "120", function: "sum"})', [(PROD_B, [0, 120, 240], [30, 70, 50])]),
    ('s("cpu", {"host": "b"}, {period: 120, function: "max"})', [(PROD_B, [0, 120, 240], [20, 40, 50])]),
    # aggregates: outer join on time, tags the inputs share
    ('sum(s("cpu", {"env": "prod"}))', [({"env": "prod"}, T5, [11, 22, 33, 44, 55])]),
    ('sum(s("cpu", "*"))', [({}, T5, [11, 29, 33, 53, 55])]),
    ('mean(s("cpu", "*"))', [({}, T5, [5.5, 29 / 3, 16.5, 53 / 3, 27.5])]),
    ('min(s("cpu", "*"))', [({}, T5, [1, 2, 3, 4, 5])]),
    ('max(s("cpu", "*"))', [({}, T5, [10, 20, 30, 40, 50])]),
    ('sum(s("nothing", "*"))', []),
    # nested sets flatten
    (
        'sum([s("cpu", {"host": "a"}), [s("cpu", {"host": "b"}), [s("cpu", {"host": "c"})]]])',
        [({}, T5, [11, 29, 33, 53, 55])],
    ),
    # per-series transforms
    ('abs(scale(s("cpu", {"host": "a"}), {factor: "-2"}))', [(PROD_A, T5, [2, 4, 6, 8, 10])]),
    ('scale(s("cpu", {"host": "b"}), {factor: "1/10"})', [(PROD_B, T5, [1, 2, 3, 4, 5])]),
    ('scale(s("cpu", {"host": "b"}), {factor: 0.5})', [(PROD_B, T5, [5, 10, 15, 20, 25])]),
    ('derive(s("counter", "*"))', [(None, [60, 120, 180, 240, 300], [10, -15, 10, 10, 5])]),
    ('derive(s("counter", "*"), {detect_reset: "true"})', [(None, [60, 120, 180, 240, 300], [10, 0, 10, 10, 5])]),
    ('derive(s("counter", "*"), {detect_reset: "false"})', [(None, [60, 120, 180, 240, 300], [10, -15, 10, 10, 5])]),
    ('rate(s("cpu", {"host": "b"}))', [(PROD_B, T5, [10 / 60, 20 / 60, 30 / 60, 40 / 60, 50 / 60])]),
    ('rate(s("net", "*"), {duration: "60"})', [(None, [0, 120], [60, 120])]),  # the metric's period is 120
    (
        'rate(s("cpu", {"host": "b"}, {period: "120"}), {duration: "1"})',
        [(PROD_B, [0, 120, 240], [15 / 120, 35 / 120, 50 / 120])],
    ),
    ('integrate(s("cpu", {"host": "a"}))', [(PROD_A, T5, [1, 3, 6, 10, 15])]),
    ('window(s("cpu", {"host": "a"}), {size: "3"})', [(PROD_A, [120, 180, 240], [2, 3, 4])]),
    ('window(s("cpu", {"host": "a"}), {size: "3", function: "sum"})', [(PROD_A, [120, 180, 240], [6, 9, 12])]),
    ('window(s("cpu", {"host": "a"}), {size: "3", function: "min"})', [(PROD_A, [120, 180, 240], [1, 2, 3])]),
    ('window(s("cpu", {"host": "a"}), {size: "3", function: "max"})', [(PROD_A, [120, 180, 240], [3, 4, 5])]),
    ('window(s("counter", "*"), {size: 3, function: "median"})', [(None, [120, 180, 240, 300], [10, 15, 15, 25])]),
    ('window(s("cpu", {"host": "c"}), {size: "3"})', [(DEV_C, [], [])]),  # fewer points than the window
    ('window(s("cpu", {"host": "a"}))', [(PROD_A, T5, [1, 2, 3, 4, 5])]),  # default size 1: no windowing
    ('moving_average(s("cpu", {"host": "b"}), {size: "2"})', [(PROD_B, [60, 120, 180, 240], [15, 25, 35, 45])]),
    # filling gaps over the whole window [0, 600)
    ('fill(s("sparse", "*"), {value: "0"})', [(None, list(range(0, 600, 60)), [1, 0, 0, 4, 0, 0, 0, 0, 0, 0])]),
    ('fill(s("sparse", "*"), {value: 2.5})', [(None, list(range(0, 600, 60)), [1, 2.5, 2.5, 4] + [2.5] * 6)]),
    ('zero_fill(s("sparse", "*"))', [(None, list(range(0, 600, 60)), [1, 0, 0, 4, 0, 0, 0, 0, 0, 0])]),
    ('last_fill(s("sparse", "*"))', [(None, list(range(0, 600, 60)), [1, 1, 1, 4, 4, 4, 4, 4, 4, 4])]),
    ('fill(s("cpu", {"host": "c"}), {value: "last"})', [(DEV_C, list(range(60, 600, 60)), [7, 7, 9] + [9] * 6)]),
    # choosing series by a summary: means a=3, b=30, c=8; maxima 5, 50, 9; sums 15, 150, 16
    ('filter(s("cpu", "*"), {gt: "20"})', [(PROD_B, T5, [10, 20, 30, 40, 50])]),
    ('filter(s("cpu", "*"), {lt: "8"})', [(PROD_A, T5, [1, 2, 3, 4, 5])]),
    ('filter(s("cpu", "*"), {lte: "8"})', [(PROD_A, T5, [1, 2, 3, 4, 5]), (DEV_C, [60, 180], [7, 9])]),
    (
        'filter(s("cpu", "*"), {gte: "9", function: "max"})',
        [(PROD_B, T5, [10, 20, 30, 40, 50]), (DEV_C, [60, 180], [7, 9])],
    ),
    ('filter(s("cpu", "*"), {gt: "4", lt: "20"})', [(DEV_C, [60, 180], [7, 9])]),
    (
        'filter(s("cpu", "*"), {gt: "15", function: "sum"})',
        [(PROD_B, T5, [10, 20, 30, 40, 50]), (DEV_C, [60, 180], [7, 9])],
    ),
    ('filter(s("cpu", "*"), {lt: "2", function: "min"})', [(PROD_A, T5, [1, 2, 3, 4, 5])]),
    ('top(s("cpu", "*"), {count: "2"})', [(PROD_B, T5, [10, 20, 30, 40, 50]), (DEV_C, [60, 180], [7, 9])]),
    ('top(s("cpu", "*"), {count: "1", function: "min"})', [(PROD_B, T5, [10, 20, 30, 40, 50])]),
    (
        'top(s("cpu", "*"))',
        [(PROD_B, T5, [10, 20, 30, 40, 50]), (DEV_C, [60, 180], [7, 9]), (PROD_A, T5, [1, 2, 3, 4, 5])],
    ),
    ('bottom(s("cpu", "*"), {count: "1", function: "max"})', [(PROD_A, T5, [1, 2, 3, 4, 5])]),
    ('bottom(s("cpu", "*"), {count: 2, function: "sum"})', [(PROD_A, T5, [1, 2, 3, 4, 5]), (DEV_C, [60, 180], [7, 9])]),
    # two-input arithmetic: inner join on time
    ('subtract([s("cpu", {"host": "b"}), s("cpu", {"host": "a"})])', [({"env": "prod"}, T5, [9, 18, 27, 36, 45])]),
    ('multiply([s("cpu", {"host": "a"}), s("cpu", {"host": "c"})])', [({}, [60, 180], [14, 36])]),
    ('divide(s("cpu", {"env": "prod"}))', [({"env": "prod"}, T5, [0.1] * 5)]),  # a set that holds exactly 2
    ('divide(s("cpu", "*"))', []),  # 3 series: no result, as the original
    (
        'divide([s("cpu", {"host": "a"}), scale(s("cpu", {"host": "a"}), {factor: "0"})])',
        [({"host": "a", "env": "prod"}, [], [])],
    ),
    # pairing sets: identical tag sets pair up; a single series is applied to every series
    (
        'divide([s("req.2xx", "*"), s("req.total", "*")])',
        [(US_B, [0, 60], [0.8, 0.9]), (US_C, [0, 60], [0.2, 0.5]), (EU_E, [0, 60], [0.5, 0.5])],
    ),
    (
        'divide([s("req.2xx", {"region": "us-east"}), sum(s("req.total", "*"))])',
        [(US_B, [0, 60], [8 / 30, 9 / 30]), (US_C, [0, 60], [2 / 30, 5 / 30])],
    ),
    (
        'subtract([s("req.total", {"az": "e"}), s("req.2xx", {"region": "us-east"})])',
        [(US_B, [0, 60], [2, 1]), (US_C, [0, 60], [8, 5])],
    ),
    (
        'divide([s("req.2xx", {"region": "eu"}), s("cpu", "*")])',
        [(PROD_A, [0, 60], [5 / 1, 5 / 2]), (PROD_B, [0, 60], [5 / 10, 5 / 20]), (DEV_C, [60], [5 / 7])],
    ),
    ('divide([s("req.2xx", "*"), s("cpu", "*")])', []),  # 3 against 3 and no tag set in common
    # a divide of two sums, flat and per tag group
    ('divide([sum(s("req.2xx", "*")), sum(s("req.total", "*"))])', [({}, [0, 60], [0.5, 19 / 30])]),
    (
        'group_by("region", divide([sum(s("req.2xx", "*")), sum(s("req.total", "*"))]))',
        [(EU_E, [0, 60], [0.5, 0.5]), ({"region": "us-east"}, [0, 60], [0.5, 0.7])],
    ),
    (
        'group_by("region,az", divide([sum(s("req.2xx", "*")), sum(s("req.total", "*"))]))',
        [(EU_E, [0, 60], [0.5, 0.5]), (US_B, [0, 60], [0.8, 0.9]), (US_C, [0, 60], [0.2, 0.5])],
    ),
    (
        'group_by("region", divide([sum(s("req.2xx", "*")), sum(s("req.total", "*", {group: "false"}))]))',
        [({"region": "eu"}, [0, 60], [5 / 30, 5 / 30]), ({"region": "us-east"}, [0, 60], [10 / 30, 14 / 30])],
    ),
    ('group_by("region", sum(s("req.2xx", {"region": "us*"})))', [({"region": "us-east"}, [0, 60], [10, 14])]),
    ('group_by("env", sum(s("cpu", "*")))', [(DEV_C, [60, 180], [7, 9]), ({"env": "prod"}, T5, [11, 22, 33, 44, 55])]),
    ('group_by("region", s("cpu", "*"))', []),  # no stream has the tag: nothing to group
    # map(): the expression once per value of a tag (or per metric name)
    (
        'map({host: "*"}, sum(s("cpu", {"host": "&"})))',
        [(PROD_A, T5, [1, 2, 3, 4, 5]), (PROD_B, T5, [10, 20, 30, 40, 50]), (DEV_C, [60, 180], [7, 9])],
    ),
    (
        'map({"host": "[ab]"}, max(s("cpu", {"host": "&"})))',
        [(PROD_A, T5, [1, 2, 3, 4, 5]), (PROD_B, T5, [10, 20, 30, 40, 50])],
    ),
    ('map({metric: "req.*"}, sum(s("&", "*")))', [({}, [0, 60], [15, 19]), ({}, [0, 60], [30, 30])]),
    # the language specification's own example
    (
        'derive(s("appoptics.disk.disk_ops.read", {"host": "ip-192-168-15-18.ec2.internal"}), {detect_reset: "true"})',
        [({"host": "ip-192-168-15-18.ec2.internal"}, [60, 120, 180], [50, 0, 50])],
    ),
    (
        'derive(s("appoptics.disk.disk_ops.read", {"host": "ip-192-168-15-18.ec2.internal"}))',
        [({"host": "ip-192-168-15-18.ec2.internal"}, [60, 120, 180], [50, -110, 50])],
    ),
]


def check(result: list[Series], expected: Expected) -> None:
    assert len(result) == len(expected), [(s.metric, s.tags) for s in result]
    for got, (tags, times, values) in zip(result, expected, strict=True):
        if tags is not None:
            assert got.tags == tags
        assert got.times.dtype == np.int64
        assert got.values.dtype == np.float64
        assert got.times.tolist() == times
        assert got.values.tolist() == pytest.approx(values)


async def run(text: str, **kwargs: object) -> list[Series]:
    window = {"start": 0, "end": 600, "resolution": RES}
    window.update(kwargs)  # type: ignore[arg-type]
    return await evaluate(parse(text), MemorySource(FIXTURE), **window)  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:70] for c in CASES])
async def test_expression(text: str, expected: Expected) -> None:
    check(await run(text), expected)


@pytest.mark.asyncio
async def test_derived_series_keep_the_first_inputs_metric() -> None:
    (quotient,) = await run('divide([sum(s("req.2xx", "*")), sum(s("req.total", "*"))])')
    assert quotient.metric == "req.2xx"
    names = [s.metric for s in await run('map({metric: "req.*"}, sum(s("&", "*")))')]
    assert names == ["req.2xx", "req.total"]


@pytest.mark.asyncio
async def test_series_period_option_sets_the_fetch_resolution_and_period() -> None:
    source = MemorySource(FIXTURE)
    (got,) = await evaluate(parse('s("cpu", {"host": "b"}, {period: "300"})'), source, start=0, end=600, resolution=60)
    assert source.calls == [("cpu", {"host": ["b"]}, "mean", 0, 600, 300)]
    assert got.period == 300
    assert got.times.tolist() == [0]
    assert got.values.tolist() == [30.0]


@pytest.mark.asyncio
async def test_period_never_finer_than_the_resolution() -> None:
    source = MemorySource(FIXTURE)
    await evaluate(parse('s("cpu", {"host": "b"}, {period: "30"})'), source, start=0, end=600, resolution=60)
    assert source.calls[0][-1] == 60


@pytest.mark.asyncio
async def test_group_by_and_map_fetch_each_series_once() -> None:
    source = MemorySource(FIXTURE)
    text = 'group_by("region,az", divide([sum(s("req.2xx", "*")), sum(s("req.total", "*"))]))'
    await evaluate(parse(text), source, start=0, end=600, resolution=60)
    assert sorted(call[0] for call in source.calls) == ["req.2xx", "req.total"]


@pytest.mark.asyncio
async def test_dynamic_tags_fill_in_percent() -> None:
    expr = parse('sum(s("cpu", "%"))')
    source = MemorySource(FIXTURE)
    (prod,) = await evaluate(expr, source, start=0, end=600, resolution=60, dynamic_tags={"env": ["prod"]})
    assert prod.values.tolist() == [11, 22, 33, 44, 55]
    (everything,) = await evaluate(expr, source, start=0, end=600, resolution=60)
    assert everything.values.tolist() == [11, 29, 33, 53, 55]


# --- timeshift: window [120, 300) ---------------------------------------------------------


@pytest.mark.asyncio
async def test_timeshift_overlays_the_past_on_the_present() -> None:
    result = await run('timeshift("0,1m", s("cpu", {"host": "a"}))', start=120, end=300)
    check(result, [(PROD_A, [120, 180, 240], [3, 4, 5]), (PROD_A, [120, 180, 240], [2, 3, 4])])
    assert [s.timeshift for s in result] == [0, 60]


@pytest.mark.asyncio
async def test_timeshift_units_and_forward_shifts() -> None:
    two_minutes = await run('timeshift("2m", s("cpu", {"host": "a"}))', start=120, end=300)
    seconds = await run('timeshift("120s", s("cpu", {"host": "a"}))', start=120, end=300)
    check(two_minutes, [(PROD_A, [120, 180, 240], [1, 2, 3])])
    check(seconds, [(PROD_A, [120, 180, 240], [1, 2, 3])])
    forward = await run('timeshift("+1m", s("cpu", {"host": "a"}))', start=120, end=300)
    check(forward, [(PROD_A, [120, 180], [4, 5])])
    assert forward[0].timeshift == -60


@pytest.mark.asyncio
async def test_timeshift_reads_the_shifted_window() -> None:
    source = MemorySource(FIXTURE)
    await evaluate(parse('timeshift("1h,1d", s("cpu", "*"))'), source, start=90_000, end=90_600, resolution=60)
    assert [(c[3], c[4]) for c in source.calls] == [(86_400, 87_000), (3_600, 4_200)]


@pytest.mark.asyncio
async def test_timeshift_of_a_filled_series() -> None:
    result = await run('timeshift("1m", zero_fill(s("sparse", "*")))', start=120, end=300)
    check(result, [(None, [120, 180, 240], [0, 0, 4])])


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_too_many_series_fetched() -> None:
    with pytest.raises(CompositeError, match=r"too many series: 3 .*limit is 2"):
        await run('s("cpu", "*")', limits=Limits(max_series=2))


@pytest.mark.asyncio
async def test_too_many_points_fetched() -> None:
    with pytest.raises(CompositeError, match=r"too many points: 12 .*limit is 10"):
        await run('sum(s("cpu", "*"))', limits=Limits(max_points=10))


@pytest.mark.asyncio
async def test_limits_count_every_fetch_of_a_timeshift() -> None:
    text = 'timeshift("0,1m,2m,3m", s("cpu", {"host": "a"}))'
    assert len(await run(text, limits=Limits(max_series=4))) == 4
    with pytest.raises(CompositeError, match="too many series"):
        await run(text, limits=Limits(max_series=3))


@pytest.mark.asyncio
async def test_fill_growth_is_bounded_before_allocating() -> None:
    # 2 points fetched, but filling [0, 600) at 60 s would make 10.
    with pytest.raises(CompositeError, match=r"fill\(\) produces .*limit is 5"):
        await run('zero_fill(s("sparse", "*"))', limits=Limits(max_points=5))


@pytest.mark.asyncio
async def test_invalid_window() -> None:
    with pytest.raises(CompositeError, match="resolution"):
        await run('s("cpu", "*")', resolution=0)
    with pytest.raises(CompositeError, match="after its start"):
        await run('s("cpu", "*")', start=600, end=600)


@pytest.mark.asyncio
async def test_source_failure_propagates() -> None:
    class Broken:
        async def fetch(self, *args: object) -> list[Series]:
            raise RuntimeError("storage down")

    with pytest.raises(RuntimeError, match="storage down"):
        await evaluate(parse('sum([s("a", "*"), s("b", "*")])'), Broken(), start=0, end=60, resolution=60)


# --- scale ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_million_points_stay_fast_and_exact() -> None:
    # 200 counters of 5000 points each, counter k growing by k per step.
    n = 5000
    times = list(range(0, n * 60, 60))
    streams = [Stream("big", {"i": str(k)}, times, (np.arange(n) * k).tolist()) for k in range(1, 201)]
    (total,) = await evaluate(
        parse('sum(derive(s("big", "*")))'), MemorySource(streams), start=0, end=n * 60, resolution=60
    )
    assert total.times.size == n - 1
    assert np.all(total.values == sum(range(1, 201)))


# --- the source contract --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_independent_series_are_fetched_concurrently() -> None:
    class Rendezvous:
        """Each fetch waits until both are in flight: fetching one after the other times out."""

        def __init__(self) -> None:
            self.in_flight = 0
            self.both = asyncio.Event()

        async def fetch(self, metric: str, *args: object) -> list[Series]:
            self.in_flight += 1
            if self.in_flight == 2:
                self.both.set()
            await asyncio.wait_for(self.both.wait(), timeout=2)
            value = 6.0 if metric == "a" else 3.0
            return [Series(metric, {}, np.array([0], dtype=np.int64), np.array([value]))]

    (quotient,) = await evaluate(parse('divide([s("a"), s("b")])'), Rendezvous(), start=0, end=60, resolution=60)
    assert quotient.values.tolist() == [2.0]


@pytest.mark.asyncio
async def test_unaligned_source_points_are_floored_and_merged() -> None:
    class Sloppy:
        async def fetch(self, metric: str, tags: object, function: str, *args: object) -> list[Series]:
            times = np.array([70, 5, 65], dtype=np.int64)
            return [Series(metric, {}, times, np.array([1.0, 2.0, 4.0]))]

    (summed,) = await evaluate(parse('s("x", "*", {function: "sum"})'), Sloppy(), start=0, end=120, resolution=60)
    assert summed.times.tolist() == [0, 60]
    assert summed.values.tolist() == [2.0, 5.0]
    (averaged,) = await evaluate(parse('s("x")'), Sloppy(), start=0, end=120, resolution=60)
    assert averaged.values.tolist() == [2.0, 2.5]
