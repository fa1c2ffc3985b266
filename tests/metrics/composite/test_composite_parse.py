"""Parsing and checking composite definitions, including where errors point."""

from __future__ import annotations

import pytest

from vigil.metrics.composite import CompositeError, parse
from vigil.metrics.composite.expr import (
    Aggregate,
    Binary,
    DeriveParams,
    FillParams,
    FilterParams,
    GroupBy,
    MapExpr,
    RankParams,
    RateParams,
    ScaleParams,
    SeriesExpr,
    SetExpr,
    TimeShift,
    Transform,
    WindowParams,
)


def test_spec_series_example() -> None:
    expr = parse('s("cpu.percent.user", {"environment" : "prod", "service": "api"})')
    assert expr == SeriesExpr("cpu.percent.user", (("environment", ("prod",)), ("service", ("api",))))
    assert isinstance(expr, SeriesExpr)
    assert (expr.function, expr.period, expr.group, expr.dynamic) == ("mean", None, True, False)


def test_spec_derive_example() -> None:
    expr = parse(
        'derive(s("appoptics.disk.disk_ops.read", {"host": "ip-192-168-15-18.ec2.internal"}), {detect_reset: "true"})'
    )
    leaf = SeriesExpr("appoptics.disk.disk_ops.read", (("host", ("ip-192-168-15-18.ec2.internal",)),))
    assert expr == Transform("derive", leaf, DeriveParams(detect_reset=True))


def test_derive_does_not_detect_resets_by_default() -> None:
    assert parse('derive(s("c"))') == Transform("derive", SeriesExpr("c"), DeriveParams(detect_reset=False))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('s("cpu")', 'series("cpu", "*")'),
        ('s("cpu", {})', 'series("cpu")'),
        ('window(s("a"), {size: 5})', 'window(s("a"), {"size": "5"})'),
        ('  sum(\n s("a",\t{"host" : "x"})\n)  ', 'sum(s("a",{host:"x"}))'),
        ('s("a", {}, {period: 60, function: "sum"})', 's("a", {}, {"period": "60", "function": "sum"})'),
        ('moving_average(s("a"), {size: "3"})', 'window(s("a"), {size: "3", function: "mean"})'),
        ('zero_fill(s("a"))', 'fill(s("a"), {value: "0"})'),
        ('last_fill(s("a"))', 'fill(s("a"), {value: "last"})'),
        ('top(s("a"))', 'top(s("a"), {count: "5", function: "mean"})'),
        ('rate(s("a"))', 'rate(s("a"), {duration: "1"})'),
        ('timeshift("-7d", s("a"))', 'timeshift("7d", s("a"))'),
        ('timeshift("0,1,2,3w", s("a"))', 'timeshift("0w,1w,2w,3w", s("a"))'),
        ('timeshift("120s", s("a"))', 'timeshift("2m", s("a"))'),
    ],
)
def test_equivalent_spellings(a: str, b: str) -> None:
    assert parse(a) == parse(b)


def test_structure_of_every_function() -> None:
    a = SeriesExpr("a")
    b = SeriesExpr("b")
    cases = {
        'sum(s("a"))': Aggregate("sum", a),
        'mean([s("a"), [s("b")]])': Aggregate("mean", SetExpr((a, SetExpr((b,))))),
        'abs(s("a"))': Transform("abs", a),
        'integrate(s("a"))': Transform("integrate", a),
        'scale(s("a"), {factor: "1/1024"})': Transform("scale", a, ScaleParams(1 / 1024)),
        'scale(s("a"), {factor: "0.1"})': Transform("scale", a, ScaleParams(0.1)),
        'rate(s("a"), {duration: "60"})': Transform("rate", a, RateParams(60.0)),
        'window(s("a"), {size: "64", function: "median"})': Transform("window", a, WindowParams(64, "median")),
        'fill(s("a"), {value: "-1.5"})': Transform("fill", a, FillParams(-1.5)),
        'filter(s("a"), {gt: "1", lte: 9, function: "max"})': Transform("filter", a, FilterParams("max", gt=1, lte=9)),
        'bottom(s("a"), {count: "3", function: "sum"})': Transform("bottom", a, RankParams(3, "sum")),
        'divide([s("a"), s("b")])': Binary("divide", a, b),
        'subtract(s("a"))': Binary("subtract", a),
        'multiply([[s("a")], s("b")])': Binary("multiply", SetExpr((a,)), b),
        'group_by("region, az", sum(s("a")))': GroupBy(("region", "az"), Aggregate("sum", a)),
        'map({host: "web*"}, s("a", {host: "&"}))': MapExpr("host", "web*", SeriesExpr("a", (("host", ("&",)),))),
        'map({metric: "aws.*"}, s("&"))': MapExpr("metric", "aws.*", SeriesExpr("&")),
        'timeshift("1h,1d", s("a"))': TimeShift((3600, 86_400), a),
    }
    for text, expected in cases.items():
        assert parse(text) == expected, text


@pytest.mark.parametrize(
    ("offsets", "seconds"),
    [
        ("0", (0,)),
        ("0,1,2,3w", (0, 604_800, 1_209_600, 1_814_400)),
        ("1h,1d", (3600, 86_400)),
        ("0,60s", (0, 60)),
        ("+7d", (-604_800,)),
        ("1.5h", (5400,)),
        ("1,2m,30s", (60, 120, 30)),
    ],
)
def test_timeshift_offsets(offsets: str, seconds: tuple[int, ...]) -> None:
    expr = parse(f'timeshift("{offsets}", s("a"))')
    assert isinstance(expr, TimeShift)
    assert expr.shifts == seconds


def test_series_options_and_tag_forms() -> None:
    expr = parse('s("a.*", {"@host": ["web*", "!web9"], env: 1}, {function: "max", period: "300", group: "false"})')
    assert expr == SeriesExpr(
        "a.*", (("@host", ("web*", "!web9")), ("env", ("1",))), function="max", period=300, group=False
    )
    assert parse('s("a", "%")') == SeriesExpr("a", dynamic=True)
    assert parse('s("a\\"b")') == SeriesExpr('a"b')


def test_parsed_composites_are_hashable() -> None:
    text = 'group_by("r", divide([sum(s("a", {x: ["1", "2"]})), sum(s("b"))]))'
    assert hash(parse(text)) == hash(parse(text))


ERRORS = [
    # syntax
    ('sum(s("cpu", "*")', "unexpected end of input at column 18", 18),
    ('sum(s("cpu" "*"))', "unexpected '\"*\"' at column 13", 13),
    ('sum([s("a") s("b")])', "unexpected 's' at column 13", 13),
    ('sum(s("a"),)', "unexpected ')' at column 12", 12),
    ('sum(\n  s("a"),\n  )', "unexpected ')' at column 3 of line 3", 3),
    ('s("cpu', "unterminated string at column 3", 3),
    ('s("cpu", $)', "unexpected character '$' at column 10", 10),
    ('s("a\\q")', "invalid escape in string at column 3", 3),
    ('group_by(region, s("a"))', "unexpected ',' at column 16", 16),
    ("", "empty composite expression at column 1", 1),
    ("   ", "empty composite expression at column 1", 1),
    # what may stand where
    ('"cpu"', "expected a set of series, got a string at column 1", 1),
    ('sum("cpu")', "expected a set of series, got a string at column 5", 5),
    ('sum({a: "b"})', "expected a set of series, got an option map at column 5", 5),
    ("sum(5)", "expected a set of series, got a number at column 5", 5),
    # functions and arity
    ('foo(s("cpu", "*"))', "unknown function 'foo' at column 1", 1),
    ('sum(bar("x"))', "unknown function 'bar' at column 5", 5),
    ('sum(s("a"), s("b"))', "sum() takes 1 argument (set), got 2 at column 1", 1),
    ("abs()", "abs() takes 1 argument (set), got 0 at column 1", 1),
    ('scale(s("a"))', "scale() takes 2 arguments (set, {factor}), got 1 at column 1", 1),
    ('s("a", {}, {}, {})', "s() takes 1 to 3 arguments (metric, tags, options), got 4 at column 1", 1),
    (
        'divide([s("a"), s("b"), s("c")])',
        "divide() takes a set of exactly 2 elements (dividend, divisor), got 3 at column 8",
        8,
    ),
    (
        'subtract([s("a")])',
        "subtract() takes a set of exactly 2 elements (minuend, subtrahend), got 1 at column 10",
        10,
    ),
    ('multiply(s("a"), s("b"))', "multiply() takes 1 argument (set of 2), got 2 at column 1", 1),
    # options
    (
        'derive(s("x", "*"), {detect: "true"})',
        "derive(): unknown option 'detect' (allowed: detect_reset) at column 22",
        22,
    ),
    (
        'derive(s("x"), {detect_reset: "yes"})',
        "derive(): option 'detect_reset' must be \"true\" or \"false\", got 'yes' at column 31",
        31,
    ),
    (
        'derive(s("a"), {detect_reset: "true", detect_reset: "false"})',
        "option 'detect_reset' given twice at column 39",
        39,
    ),
    ('abs(s("a"), {})', "abs() takes 1 argument (set), got 2", 1),
    ('derive(s("a"), "true")', "derive(): expected an option map, got a string at column 16", 16),
    ('scale(s("a"), {})', "scale(): option 'factor' is required at column 1", 1),
    ('scale(s("a"), {factor: "1/0"})', "scale(): option 'factor' divides by zero: '1/0'", None),
    ('scale(s("a"), {factor: "big"})', "scale(): option 'factor' must be a number or a fraction", None),
    ('window(s("a"), {size: "65"})', "window(): option 'size' must be between 1 and 64, got 65 at column 23", 23),
    ('window(s("a"), {size: "0"})', "window(): option 'size' must be between 1 and 64, got 0", None),
    ('window(s("a"), {size: "2.5"})', "window(): option 'size' must be a whole number, got '2.5'", None),
    (
        'window(s("a"), {function: "p99"})',
        "window(): option 'function' must be one of mean, sum, min, max, median",
        None,
    ),
    (
        'moving_average(s("a"), {size: 3, function: "max"})',
        "moving_average(): unknown option 'function' (allowed: size)",
        None,
    ),
    ('fill(s("a"), {})', "fill(): option 'value' is required", None),
    ('fill(s("a"), {value: "next"})', "fill(): option 'value' must be a number, got 'next'", None),
    ('filter(s("a"), {function: "max"})', "filter(): needs at least one of the options gt, gte, lt, lte", None),
    ('filter(s("a"), {gt: "x"})', "filter(): option 'gt' must be a number, got 'x'", None),
    ('filter(s("a"), {gt: [1]})', "filter(): option 'gt' must be a string or a number, got a set", None),
    ('top(s("a"), {count: "0"})', "top(): option 'count' must be at least 1, got 0", None),
    ('bottom(s("a"), {function: "count"})', "bottom(): option 'function' must be one of mean, sum, min, max", None),
    ('rate(s("a"), {duration: "-1"})', "rate(): option 'duration' must be greater than 0", None),
    # series
    ('s("a", {}, {function: "median"})', "s(): option 'function' must be one of mean, sum, min, max, count", None),
    ('s("a", {}, {period: "1m"})', "s(): option 'period' must be a whole number, got '1m'", None),
    ('s("a", {}, {group: "maybe"})', 's(): option \'group\' must be "true" or "false"', None),
    ('s("a", "us-east*")', 's(): tags must be a map such as {"host": "web*"}, "*" or "%" at column 8', 8),
    ('s("")', "s(): the metric name must be a non-empty string at column 3", 3),
    ("s(123)", "s(): the metric name must be a non-empty string at column 3", 3),
    ('s("a", {host: {x: "y"}})', "s(): tag 'host' pattern must be a string, got an option map", None),
    ('s("a", {host: []})', "s(): tag 'host' has an empty list of patterns", None),
    ('s("a", {host: "x", host: "y"})', "s(): tag 'host' given twice at column 20", 20),
    # group_by, map, timeshift
    (
        'group_by(["region"], s("a"))',
        'group_by(): the first argument must be a string such as "region,az", got a set',
        None,
    ),
    ('group_by("region,", s("a"))', "group_by(): empty tag name in 'region,'", None),
    ('group_by("a,a", s("a"))', "group_by(): tag named twice in 'a,a'", None),
    ('group_by("region", s("a", "*", {group: "false"}))', "group_by(): its set contains no series() to group", None),
    ('map({host: "*"}, s("a"))', "map(): no series() in its set uses the placeholder '&'", None),
    ('map({host: "*", az: "b"}, s("&"))', "map(): the first argument must be a map with one key", None),
    ('map({host: 1}, s("&"))', "map(): the pattern for 'host' must be a non-empty string", None),
    ('timeshift("1y", s("a"))', "timeshift(): bad offset '1y'", None),
    ('timeshift("1", s("a"))', "timeshift(): offset '1' has no unit (s, m, h, d or w)", None),
    (
        'timeshift(1, s("a"))',
        "timeshift(): the first argument must be a string of offsets, got a number at column 11",
        11,
    ),
]


@pytest.mark.parametrize(("text", "message", "column"), ERRORS, ids=[e[0][:60] or "empty" for e in ERRORS])
def test_error(text: str, message: str, column: int | None) -> None:
    with pytest.raises(CompositeError) as caught:
        parse(text)
    assert message in str(caught.value)
    if column is not None:
        assert caught.value.column == column
