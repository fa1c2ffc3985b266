"""Bounds on how much one evaluation may fetch and produce."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import CompositeError
from .types import Series


@dataclass(frozen=True)
class Limits:
    max_series: int = 1000
    max_points: int = 1_000_000


class Budget:
    """Tracks one evaluation against its Limits.

    Fetches are charged cumulatively, because group_by, map and timeshift multiply
    the work behind a single series() call; intermediate results are checked one by
    one, because functions such as fill() can grow a set far beyond what was fetched.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.fetched_series = 0
        self.fetched_points = 0

    def charge_fetch(self, metric: str, series: Sequence[Series]) -> None:
        self.charge(metric, len(series), sum(len(s.times) for s in series))

    def charge(self, metric: str, n_series: int, n_points: int) -> None:
        self.fetched_series += n_series
        self.fetched_points += n_points
        if self.fetched_series > self.limits.max_series:
            raise CompositeError(
                f"composite reads too many series: {self.fetched_series} fetched so far "
                f"(last from metric '{metric}'), limit is {self.limits.max_series}"
            )
        if self.fetched_points > self.limits.max_points:
            raise CompositeError(
                f"composite reads too many points: {self.fetched_points} fetched so far "
                f"(last from metric '{metric}'), limit is {self.limits.max_points}"
            )

    def check_result(self, what: str, series: Sequence[Series]) -> None:
        self.check_size(what, len(series), sum(len(s.times) for s in series))

    def check_size(self, what: str, n_series: int, n_points: int) -> None:
        if n_series > self.limits.max_series:
            raise CompositeError(f"{what} produces {n_series} series, limit is {self.limits.max_series}")
        if n_points > self.limits.max_points:
            raise CompositeError(f"{what} produces {n_points} points, limit is {self.limits.max_points}")
