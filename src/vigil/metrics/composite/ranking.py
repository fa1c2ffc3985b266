"""Functions that choose series by a summary of all their points: filter, top, bottom."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .expr import FilterParams, RankParams
from .types import Series

_SUMMARY = {"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max}


def summary(s: Series, function: str) -> float:
    """One number for a whole series; NaN when it has no points (it then never qualifies)."""
    if s.values.size == 0:
        return math.nan
    return float(_SUMMARY[function](s.values))


def keep(series: Sequence[Series], p: FilterParams) -> list[Series]:
    kept = []
    for s in series:
        x = summary(s, p.function)
        if math.isnan(x):
            continue
        if p.gt is not None and not x > p.gt:
            continue
        if p.gte is not None and not x >= p.gte:
            continue
        if p.lt is not None and not x < p.lt:
            continue
        if p.lte is not None and not x <= p.lte:
            continue
        kept.append(s)
    return kept


def rank(series: Sequence[Series], p: RankParams, *, highest: bool) -> list[Series]:
    scored = [(summary(s, p.function), i) for i, s in enumerate(series)]
    ranked = [item for item in scored if not math.isnan(item[0])]
    # Ties keep input order; empty series cannot be ranked and are never chosen.
    ranked.sort(key=lambda item: (-item[0] if highest else item[0], item[1]))
    return [series[i] for _, i in ranked[: p.count]]
