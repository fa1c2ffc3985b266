"""Meaning of the syntax tree: the function catalogue, arities and options.

Everything that can be known without data is checked here, so that a persisted
composite that parses is one that can run.
"""

from __future__ import annotations

from collections.abc import Callable

from . import options as opt
from .expr import (
    PLACEHOLDER,
    Aggregate,
    Binary,
    DeriveParams,
    Expr,
    FillParams,
    FilterParams,
    GroupBy,
    MapExpr,
    RankParams,
    RateParams,
    ScaleParams,
    SeriesExpr,
    SetExpr,
    TagPatterns,
    TimeShift,
    Transform,
    WindowParams,
    leaves,
)
from .syntax import Call, MapLit, Node, Num, SetLit, Str, describe

SERIES_FUNCTIONS = ("mean", "sum", "min", "max", "count")
SUMMARY_FUNCTIONS = ("mean", "sum", "min", "max")
WINDOW_FUNCTIONS = ("mean", "sum", "min", "max", "median")
MAX_WINDOW = 64

fail = opt.fail


def analyze(node: Node) -> Expr:
    return _set_arg(node)


def _set_arg(node: Node) -> Expr:
    """Any argument that must produce a set of series."""
    match node:
        case SetLit():
            return SetExpr(tuple(_set_arg(item) for item in node.items))
        case Call():
            handler = _HANDLERS.get(node.name)
            if handler is None:
                raise fail(f"unknown function '{node.name}'", node)
            return handler(node)
        case _:
            raise fail(f"expected a set of series, got {describe(node)}", node)


def _arity(node: Call, low: int, high: int, signature: str) -> tuple[Node, ...]:
    n = len(node.args)
    if low <= n <= high:
        return node.args
    wanted = str(low) if low == high else f"{low} to {high}"
    plural = "" if high == 1 else "s"
    raise fail(f"{node.name}() takes {wanted} argument{plural} ({signature}), got {n}", node)


def _options(node: Call, index: int, allowed: tuple[str, ...]) -> dict[str, Node]:
    """The option map at ``index`` (absent means empty), with unknown keys rejected."""
    if index >= len(node.args):
        return {}
    arg = node.args[index]
    if not isinstance(arg, MapLit):
        raise fail(f"{node.name}(): expected an option map, got {describe(arg)}", arg)
    found: dict[str, Node] = {}
    for entry in arg.entries:
        if entry.key not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise opt.fail_at(f"{node.name}(): unknown option '{entry.key}' (allowed: {known})", entry.key_pos)
        if entry.key in found:
            raise opt.fail_at(f"{node.name}(): option '{entry.key}' given twice", entry.key_pos)
        found[entry.key] = entry.value
    return found


def _required(node: Call, found: dict[str, Node], key: str) -> Node:
    if key not in found:
        raise fail(f"{node.name}(): option '{key}' is required", node)
    return found[key]


# --- series -----------------------------------------------------------------------------


def _series(node: Call) -> Expr:
    args = _arity(node, 1, 3, "metric, tags, options")
    metric = args[0]
    if not isinstance(metric, Str) or not metric.value:
        raise fail(f"{node.name}(): the metric name must be a non-empty string", metric)
    tags: TagPatterns = ()
    dynamic = False
    if len(args) > 1:
        tags, dynamic = _tag_patterns(node, args[1])
    found = _options(node, 2, ("function", "period", "group"))
    function = opt.choice(node.name, "function", found["function"], SERIES_FUNCTIONS) if "function" in found else "mean"
    period = opt.integer(node.name, "period", found["period"], low=1) if "period" in found else None
    group = opt.boolean(node.name, "group", found["group"]) if "group" in found else True
    return SeriesExpr(metric.value, tags, function, period, group, dynamic, node.pos.column)


def _tag_patterns(node: Call, arg: Node) -> tuple[TagPatterns, bool]:
    if isinstance(arg, Str):
        if arg.value == "*":
            return (), False
        if arg.value == "%":
            return (), True
        raise fail(f'{node.name}(): tags must be a map such as {{"host": "web*"}}, "*" or "%"', arg)
    if not isinstance(arg, MapLit):
        raise fail(f"{node.name}(): tags must be a map, got {describe(arg)}", arg)
    seen: set[str] = set()
    patterns: list[tuple[str, tuple[str, ...]]] = []
    for entry in arg.entries:
        if entry.key in seen:
            raise opt.fail_at(f"{node.name}(): tag '{entry.key}' given twice", entry.key_pos)
        seen.add(entry.key)
        values = entry.value.items if isinstance(entry.value, SetLit) else (entry.value,)
        if not values:
            raise fail(f"{node.name}(): tag '{entry.key}' has an empty list of patterns", entry.value)
        texts: list[str] = []
        for value in values:
            if not isinstance(value, Str | Num):
                raise fail(f"{node.name}(): tag '{entry.key}' pattern must be a string, got {describe(value)}", value)
            texts.append(value.value if isinstance(value, Str) else value.text)
        patterns.append((entry.key, tuple(texts)))
    return tuple(patterns), False


# --- functions over a set ---------------------------------------------------------------


def _aggregate(node: Call) -> Expr:
    (arg,) = _arity(node, 1, 1, "set")
    return Aggregate(node.name, _set_arg(arg))


def _plain(node: Call) -> Expr:
    (arg,) = _arity(node, 1, 1, "set")
    return Transform(node.name, _set_arg(arg))


def _scale(node: Call) -> Expr:
    args = _arity(node, 2, 2, "set, {factor}")
    found = _options(node, 1, ("factor",))
    factor = opt.factor(node.name, "factor", _required(node, found, "factor"))
    return Transform("scale", _set_arg(args[0]), ScaleParams(factor))


def _derive(node: Call) -> Expr:
    args = _arity(node, 1, 2, "set, {detect_reset}")
    found = _options(node, 1, ("detect_reset",))
    detect = opt.boolean(node.name, "detect_reset", found["detect_reset"]) if "detect_reset" in found else False
    return Transform("derive", _set_arg(args[0]), DeriveParams(detect))


def _rate(node: Call) -> Expr:
    args = _arity(node, 1, 2, "set, {duration}")
    found = _options(node, 1, ("duration",))
    duration = opt.positive(node.name, "duration", found["duration"]) if "duration" in found else 1.0
    return Transform("rate", _set_arg(args[0]), RateParams(duration))


def _window(node: Call) -> Expr:
    args = _arity(node, 1, 2, "set, {size, function}")
    keys = ("size",) if node.name == "moving_average" else ("size", "function")
    found = _options(node, 1, keys)
    size = opt.integer(node.name, "size", found["size"], low=1, high=MAX_WINDOW) if "size" in found else 1
    function = opt.choice(node.name, "function", found["function"], WINDOW_FUNCTIONS) if "function" in found else "mean"
    return Transform("window", _set_arg(args[0]), WindowParams(size, function))


def _fill(node: Call) -> Expr:
    if node.name == "fill":
        args = _arity(node, 2, 2, "set, {value}")
        found = _options(node, 1, ("value",))
        raw = _required(node, found, "value")
        if opt.text(node.name, "value", raw).strip() == "last":
            params = FillParams(None)
        else:
            params = FillParams(opt.number(node.name, "value", raw))
    else:
        args = _arity(node, 1, 1, "set")
        params = FillParams(0.0 if node.name == "zero_fill" else None)
    return Transform("fill", _set_arg(args[0]), params)


def _filter(node: Call) -> Expr:
    args = _arity(node, 2, 2, "set, {gt, gte, lt, lte, function}")
    found = _options(node, 1, ("gt", "gte", "lt", "lte", "function"))
    bounds = {key: opt.number(node.name, key, found[key]) for key in ("gt", "gte", "lt", "lte") if key in found}
    if not bounds:
        raise fail(f"{node.name}(): needs at least one of the options gt, gte, lt, lte", node)
    function = (
        opt.choice(node.name, "function", found["function"], SUMMARY_FUNCTIONS) if "function" in found else "mean"
    )
    return Transform("filter", _set_arg(args[0]), FilterParams(function, **bounds))


def _rank(node: Call) -> Expr:
    args = _arity(node, 1, 2, "set, {count, function}")
    found = _options(node, 1, ("count", "function"))
    count = opt.integer(node.name, "count", found["count"], low=1) if "count" in found else RankParams.count
    function = (
        opt.choice(node.name, "function", found["function"], SUMMARY_FUNCTIONS) if "function" in found else "mean"
    )
    return Transform(node.name, _set_arg(args[0]), RankParams(count, function))


def _binary(node: Call) -> Expr:
    (arg,) = _arity(node, 1, 1, "set of 2")
    if isinstance(arg, SetLit):
        if len(arg.items) != 2:
            raise fail(
                f"{node.name}() takes a set of exactly 2 elements ({_binary_roles(node.name)}), got {len(arg.items)}",
                arg,
            )
        return Binary(node.name, _set_arg(arg.items[0]), _set_arg(arg.items[1]))
    return Binary(node.name, _set_arg(arg))


def _binary_roles(name: str) -> str:
    return {"divide": "dividend, divisor", "subtract": "minuend, subtrahend"}.get(name, "two factors")


# --- functions that re-run their argument -------------------------------------------------


def _group_by(node: Call) -> Expr:
    tags_arg, inner_arg = _arity(node, 2, 2, '"tag1,tag2", set')
    if not isinstance(tags_arg, Str):
        got = describe(tags_arg)
        raise fail(f'group_by(): the first argument must be a string such as "region,az", got {got}', tags_arg)
    tags = tuple(t.strip() for t in tags_arg.value.split(","))
    if not all(tags):
        raise fail(f"group_by(): empty tag name in {tags_arg.value!r}", tags_arg)
    if len(set(tags)) != len(tags):
        raise fail(f"group_by(): tag named twice in {tags_arg.value!r}", tags_arg)
    inner = _set_arg(inner_arg)
    if not any(leaf.group and not leaf.has_placeholder for leaf in leaves(inner)):
        raise fail('group_by(): its set contains no series() to group (all have {group: "false"})', node)
    return GroupBy(tags, inner)


def _map(node: Call) -> Expr:
    spec, inner_arg = _arity(node, 2, 2, '{tag: "pattern"}, set')
    if not isinstance(spec, MapLit) or len(spec.entries) != 1:
        example = '{host: "web*"} or {metric: "aws.*"}'
        raise fail(f"map(): the first argument must be a map with one key, e.g. {example}", spec)
    (entry,) = spec.entries
    if not isinstance(entry.value, Str) or not entry.value.value:
        raise fail(f"map(): the pattern for '{entry.key}' must be a non-empty string", entry.value)
    inner = _set_arg(inner_arg)
    if not any(leaf.has_placeholder for leaf in leaves(inner)):
        raise fail(f"map(): no series() in its set uses the placeholder '{PLACEHOLDER}'", node)
    return MapExpr(entry.key, entry.value.value, inner)


def _timeshift(node: Call) -> Expr:
    shifts_arg, inner_arg = _arity(node, 2, 2, '"offsets", set')
    return TimeShift(opt.shifts(shifts_arg), _set_arg(inner_arg))


_HANDLERS: dict[str, Callable[[Call], Expr]] = {
    "series": _series,
    "s": _series,
    "sum": _aggregate,
    "mean": _aggregate,
    "min": _aggregate,
    "max": _aggregate,
    "abs": _plain,
    "integrate": _plain,
    "scale": _scale,
    "derive": _derive,
    "rate": _rate,
    "window": _window,
    "moving_average": _window,
    "fill": _fill,
    "zero_fill": _fill,
    "last_fill": _fill,
    "filter": _filter,
    "top": _rank,
    "bottom": _rank,
    "divide": _binary,
    "subtract": _binary,
    "multiply": _binary,
    "group_by": _group_by,
    "map": _map,
    "timeshift": _timeshift,
}

FUNCTIONS = tuple(sorted(_HANDLERS))
