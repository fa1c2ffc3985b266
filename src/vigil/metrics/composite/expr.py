"""Checked expression tree: what parse() returns and evaluate() runs.

Every node is immutable and hashable so callers may cache parsed composites and the
evaluator may use leaves as cache keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

PLACEHOLDER = "&"  # map() substitutes each mapped value for this token inside series()

TagPatterns = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class SeriesExpr:
    """series()/s(): streams of a metric whose tags match patterns."""

    metric: str
    tags: TagPatterns = ()
    function: str = "mean"
    period: int | None = None
    group: bool = True  # False: not narrowed by an enclosing group_by()
    dynamic: bool = False  # tags were "%": supplied at evaluation time
    column: int = field(default=1, compare=False)  # for messages only; not part of the meaning

    @property
    def has_placeholder(self) -> bool:
        return PLACEHOLDER in self.metric or any(PLACEHOLDER in p for _, pats in self.tags for p in pats)

    def substitute(self, value: str) -> SeriesExpr:
        tags = tuple((k, tuple(p.replace(PLACEHOLDER, value) for p in pats)) for k, pats in self.tags)
        return SeriesExpr(
            self.metric.replace(PLACEHOLDER, value),
            tags,
            self.function,
            self.period,
            self.group,
            self.dynamic,
            self.column,
        )


@dataclass(frozen=True)
class SetExpr:
    """[a, b, ...]: concatenation of the members' sets (nested sets flatten)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class ScaleParams:
    factor: float


@dataclass(frozen=True)
class DeriveParams:
    detect_reset: bool = False


@dataclass(frozen=True)
class RateParams:
    duration: float = 1.0


@dataclass(frozen=True)
class WindowParams:
    size: int = 1
    function: str = "mean"


@dataclass(frozen=True)
class FillParams:
    value: float | None  # None: repeat the last seen value
    # zero_fill()/fill() fill the whole window; last_fill() only after the first point.


@dataclass(frozen=True)
class FilterParams:
    function: str = "mean"
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class RankParams:
    count: int = 5
    function: str = "mean"


Params = ScaleParams | DeriveParams | RateParams | WindowParams | FillParams | FilterParams | RankParams | None


@dataclass(frozen=True)
class Transform:
    """A function applied to each series of its input on its own (abs, derive, fill...),
    or selecting among them (filter, top, bottom)."""

    name: str
    input: Expr
    params: Params = None


@dataclass(frozen=True)
class Aggregate:
    """sum/mean/min/max: one series from many, point by point over the union of times."""

    name: str
    input: Expr


@dataclass(frozen=True)
class Binary:
    """divide/subtract/multiply.

    With ``right`` set, the argument was a two-element set literal ``[left, right]`` and
    the two sides pair up (see LANGUAGE.md). With ``right`` None, ``left`` must evaluate
    to exactly two series.
    """

    op: str
    left: Expr
    right: Expr | None = None


@dataclass(frozen=True)
class GroupBy:
    tags: tuple[str, ...]
    inner: Expr


@dataclass(frozen=True)
class MapExpr:
    key: str  # "metric" or a tag name
    pattern: str
    inner: Expr


@dataclass(frozen=True)
class TimeShift:
    shifts: tuple[int, ...]  # seconds; positive = back in time
    inner: Expr


Expr = SeriesExpr | SetExpr | Transform | Aggregate | Binary | GroupBy | MapExpr | TimeShift


def children(expr: Expr) -> tuple[Expr, ...]:
    match expr:
        case SeriesExpr():
            return ()
        case SetExpr():
            return expr.items
        case Transform() | Aggregate():
            return (expr.input,)
        case Binary():
            return (expr.left,) if expr.right is None else (expr.left, expr.right)
        case GroupBy() | MapExpr() | TimeShift():
            return (expr.inner,)


def leaves(expr: Expr) -> Iterator[SeriesExpr]:
    """Every series() call under ``expr``, in text order."""
    if isinstance(expr, SeriesExpr):
        yield expr
        return
    for child in children(expr):
        yield from leaves(child)
