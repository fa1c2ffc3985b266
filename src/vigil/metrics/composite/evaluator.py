"""Running a checked expression against a SeriesSource."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Sequence

from . import combine, ranking, transforms
from .errors import CompositeError
from .expr import (
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
    TimeShift,
    Transform,
    WindowParams,
    children,
    leaves,
)
from .limits import Budget, Limits
from .loaders import GroupLoader, Loader, SourceLoader, Window
from .types import Series, SeriesSource

DEFAULT_LIMITS = Limits()


async def evaluate(
    expr: Expr,
    source: SeriesSource,
    *,
    start: int,
    end: int,
    resolution: int,
    limits: Limits = DEFAULT_LIMITS,
    dynamic_tags: dict[str, list[str]] | None = None,
) -> list[Series]:
    """Evaluate ``expr`` over [start, end) at ``resolution`` seconds.

    ``dynamic_tags`` fills in series(metric, "%"); without it such series read all streams.
    Raises CompositeError when the window is invalid or a limit is exceeded.
    """
    if resolution <= 0:
        raise CompositeError(f"resolution must be a positive number of seconds, got {resolution}")
    if end <= start:
        raise CompositeError(f"the end of the window ({end}) must be after its start ({start})")
    budget = Budget(limits)
    loader = SourceLoader(source, budget, dynamic_tags)
    evaluator = _Evaluator(loader, Window(start, end, resolution), budget)
    try:
        await evaluator.prefetch(expr)
        return await evaluator.run(expr)
    finally:
        loader.close()


def _name(expr: Expr) -> str:
    match expr:
        case SeriesExpr():
            return f"series('{expr.metric}')"
        case SetExpr():
            return "a set"
        case Transform() | Aggregate():
            return f"{expr.name}()"
        case Binary():
            return f"{expr.op}()"
        case GroupBy():
            return "group_by()"
        case MapExpr():
            return "map()"
        case TimeShift():
            return "timeshift()"


def _relabel(series: Sequence[Series], tags: dict[str, str]) -> list[Series]:
    return [Series(s.metric, {**s.tags, **tags}, s.times, s.values, s.period, s.timeshift) for s in series]


def _move(s: Series, shift: int, resolution: int) -> Series:
    times = ((s.times + shift) // resolution) * resolution
    return Series(s.metric, dict(s.tags), times, s.values, s.period, s.timeshift + shift)


class _Evaluator:
    def __init__(self, loader: Loader, window: Window, budget: Budget, placeholder: str | None = None) -> None:
        self.loader = loader
        self.window = window
        self.budget = budget
        self.placeholder = placeholder  # the value map() is currently substituting for '&'

    def _child(
        self, *, loader: Loader | None = None, window: Window | None = None, placeholder: str | None = None
    ) -> _Evaluator:
        return _Evaluator(
            loader or self.loader,
            window or self.window,
            self.budget,
            placeholder if placeholder is not None else self.placeholder,
        )

    def _resolve(self, leaf: SeriesExpr) -> SeriesExpr:
        if self.placeholder is not None and leaf.has_placeholder:
            return leaf.substitute(self.placeholder)
        return leaf

    async def prefetch(self, expr: Expr) -> None:
        """Start every fetch that is known up front at once, so their latencies overlap."""
        await asyncio.gather(*self._known(expr, self.window))

    def _known(self, expr: Expr, window: Window) -> Iterator[Awaitable[list[Series]]]:
        combined = self._combinable(expr)
        if combined is not None:
            yield self.loader.load_combined(*combined, window)
            return
        match expr:
            case SeriesExpr():
                if not expr.has_placeholder:
                    yield self.loader.load(expr, window)
            case MapExpr():
                return  # what it reads depends on what it discovers
            case TimeShift():
                for shift in expr.shifts:
                    yield from self._known(expr.inner, window.shifted_back(shift))
            case _:
                for child in children(expr):
                    yield from self._known(child, window)

    def _combinable(self, expr: Expr) -> tuple[SeriesExpr, str, tuple[str, ...]] | None:
        """An aggregate of one series() leaf, alone or as the whole of a group_by(): the loader can have
        the source compute it, so the leaf's streams never travel."""
        match expr:
            case Aggregate(name=how, input=SeriesExpr() as leaf):
                by: tuple[str, ...] = ()
            case GroupBy(tags=by, inner=Aggregate(name=how, input=SeriesExpr() as leaf)) if leaf.group:
                pass
            case _:
                return None
        leaf = self._resolve(leaf)
        return (leaf, how, by) if self.loader.can_combine(leaf) else None

    async def run(self, expr: Expr) -> list[Series]:
        result = await self._eval(expr)
        self.budget.check_result(_name(expr), result)
        return result

    async def _eval(self, expr: Expr) -> list[Series]:
        combined = self._combinable(expr)
        if combined is not None:
            return await self.loader.load_combined(*combined, self.window)
        match expr:
            case SeriesExpr():
                return await self.loader.load(self._resolve(expr), self.window)
            case SetExpr():
                out: list[Series] = []
                for item in expr.items:
                    out.extend(await self.run(item))
                return out
            case Aggregate():
                return combine.aggregate(expr.name, await self.run(expr.input))
            case Binary():
                if expr.right is None:
                    return combine.flat_pair(expr.op, await self.run(expr.left))
                return combine.pair_up(expr.op, await self.run(expr.left), await self.run(expr.right))
            case Transform():
                return self._transform(expr, await self.run(expr.input))
            case GroupBy():
                return await self._group_by(expr)
            case MapExpr():
                return await self._map(expr)
            case TimeShift():
                return await self._timeshift(expr)

    def _transform(self, expr: Transform, series: list[Series]) -> list[Series]:
        p = expr.params
        w = self.window
        match expr.name:
            case "abs":
                return [transforms.absolute(s) for s in series]
            case "integrate":
                return [transforms.integrate(s) for s in series]
            case "scale":
                assert isinstance(p, ScaleParams)
                return [transforms.scale(s, p) for s in series]
            case "derive":
                assert isinstance(p, DeriveParams)
                return [transforms.derive(s, p) for s in series]
            case "rate":
                assert isinstance(p, RateParams)
                return [transforms.rate(s, p, w.resolution) for s in series]
            case "window":
                assert isinstance(p, WindowParams)
                return [transforms.window(s, p) for s in series]
            case "fill":
                assert isinstance(p, FillParams)
                size = sum(transforms.fill_size(s, w.start, w.end, w.resolution) for s in series)
                self.budget.check_size("fill()", len(series), size)
                return [transforms.fill(s, p, w.start, w.end, w.resolution) for s in series]
            case "filter":
                assert isinstance(p, FilterParams)
                return ranking.keep(series, p)
            case "top" | "bottom":
                assert isinstance(p, RankParams)
                return ranking.rank(series, p, highest=expr.name == "top")
        raise AssertionError(expr.name)  # pragma: no cover - the analyser admits no other names

    async def _group_by(self, expr: GroupBy) -> list[Series]:
        keys: set[tuple[str, ...]] = set()
        for leaf in map(self._resolve, leaves(expr.inner)):
            if not leaf.group or leaf.has_placeholder:
                continue
            for s in await self.loader.load(leaf, self.window):
                values = tuple(s.tags.get(t) for t in expr.tags)
                if all(v is not None for v in values):
                    keys.add(values)  # type: ignore[arg-type]
        out: list[Series] = []
        for key in sorted(keys):
            child = self._child(loader=GroupLoader(self.loader, expr.tags, key))
            out.extend(_relabel(await child.run(expr.inner), dict(zip(expr.tags, key, strict=True))))
            self.budget.check_result("group_by()", out)
        return out

    async def _map(self, expr: MapExpr) -> list[Series]:
        found: set[str] = set()
        for leaf in leaves(expr.inner):
            if not leaf.has_placeholder:
                continue
            for s in await self.loader.load(leaf.substitute(expr.pattern), self.window):
                value = s.metric if expr.key == "metric" else s.tags.get(expr.key)
                if value is not None:
                    found.add(value)
        out: list[Series] = []
        for value in sorted(found):
            result = await self._child(placeholder=value).run(expr.inner)
            out.extend(result if expr.key == "metric" else _relabel(result, {expr.key: value}))
            self.budget.check_result("map()", out)
        return out

    async def _timeshift(self, expr: TimeShift) -> list[Series]:
        out: list[Series] = []
        for shift in expr.shifts:
            result = await self._child(window=self.window.shifted_back(shift)).run(expr.inner)
            out.extend(_move(s, shift, self.window.resolution) for s in result)
            self.budget.check_result("timeshift()", out)
        return out


__all__ = ["DEFAULT_LIMITS", "evaluate"]
