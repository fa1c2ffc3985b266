"""Functions that make one series out of several: aggregates and two-input arithmetic."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .align import inner_join, union_reduce
from .types import Series


def common_tags(series: Sequence[Series]) -> dict[str, str]:
    """Tags every input agrees on; an aggregate no longer stands for any one stream."""
    if not series:
        return {}
    shared = dict(series[0].tags)
    for s in series[1:]:
        shared = {k: v for k, v in shared.items() if s.tags.get(k) == v}
    return shared


def _period(series: Sequence[Series]) -> int | None:
    periods = [s.period for s in series if s.period is not None]
    return max(periods) if periods else None


def aggregate(how: str, series: Sequence[Series]) -> list[Series]:
    if not series:
        return []
    times, values = union_reduce(series, how)
    first = series[0]
    return [Series(first.metric, common_tags(series), times, values, _period(series), first.timeshift)]


def aggregate_groups(how: str, series: Sequence[Series], by: tuple[str, ...]) -> list[Series]:
    """`aggregate` per group of the `by` tags' values (streams lacking one are left out), groups in order."""
    groups: dict[tuple[str, ...], list[Series]] = {}
    for s in series:
        key = tuple(s.tags.get(t) for t in by)
        if None not in key:
            groups.setdefault(key, []).append(s)  # type: ignore[arg-type]
    return [out for key in sorted(groups) for out in aggregate(how, groups[key])]


def _apply(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "divide":
            return a / b
        if op == "subtract":
            return a - b
        return a * b


def combine_pair(op: str, a: Series, b: Series, tags: dict[str, str]) -> Series:
    times, va, vb = inner_join(a, b)
    values = _apply(op, va, vb)
    if op == "divide":
        # x/0 has no meaningful value on a chart; leave the point out, like a missing one.
        keep = np.isfinite(values)
        times, values = times[keep], values[keep]
    return Series(a.metric, dict(tags), times, values, _period((a, b)), a.timeshift)


def _key(s: Series) -> frozenset[tuple[str, str]]:
    return frozenset(s.tags.items())


def pair_up(op: str, left: Sequence[Series], right: Sequence[Series]) -> list[Series]:
    """Pair the two sides of divide([A, B]) and friends.

    One series on either side is applied to every series on the other; otherwise series
    pair when their tag sets are identical, and unpaired series are left out.
    """
    if not left or not right:
        return []
    if len(left) == 1 and len(right) == 1:
        return [combine_pair(op, left[0], right[0], common_tags((left[0], right[0])))]
    if len(right) == 1:
        return [combine_pair(op, a, right[0], a.tags) for a in left]
    if len(left) == 1:
        return [combine_pair(op, left[0], b, b.tags) for b in right]
    by_tags: dict[frozenset[tuple[str, str]], Series] = {}
    for b in right:
        by_tags.setdefault(_key(b), b)
    return [combine_pair(op, a, by_tags[_key(a)], a.tags) for a in left if _key(a) in by_tags]


def flat_pair(op: str, series: Sequence[Series]) -> list[Series]:
    """divide(set) where the set is not a two-element literal: it must hold two series."""
    if len(series) != 2:
        return []
    a, b = series
    return [combine_pair(op, a, b, common_tags(series))]
