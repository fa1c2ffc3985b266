"""Per metric: the conditions watching it, which series each watches, and the series seen so far.

A batch's rows are routed to conditions without a Python loop over rows: the (series, condition)
membership pairs are kept as sorted numpy arrays, so `route` is two binary searches and a repeat.
A series is resolved (its tags fetched and matched against every condition) once, the first time
it is seen; its tags stay cached so that a condition added later is matched at once.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from vigil.alerts.conditions import ConditionRuntime
from vigil.alerts.model import ABOVE, BELOW

# Rows of the value table `values()` builds, by summary function.
FN_ROWS = {"average": 0, "sum": 1, "min": 2, "max": 3, "count": 4}


class MetricWatch:
    def __init__(self, key: str) -> None:
        self.key = key
        self.conditions: list[ConditionRuntime] = []
        self.tags: dict[int, dict[str, str]] = {}  # resolved series (matching or not) → tags
        self._exact: dict[tuple[str, str], list[int]] = {}
        self._generic: list[int] = []
        self._known = np.empty(0, np.uint64)
        self._pair_sids = np.empty(0, np.uint64)
        self._pair_cond = np.empty(0, np.int64)
        self._stale = False
        # Per condition: can it be skipped when none of its rows is past its threshold and it has no
        # state (plain per-stream above/below)? Its direction, threshold and summary function row.
        self.quiet = np.empty(0, bool)
        self.above = np.empty(0, bool)
        self.threshold = np.empty(0, np.float64)
        self.fn_row = np.empty(0, np.int64)

    def _reindex(self) -> None:
        # Conditions with a literal-valued tag filter are only tried on series carrying one of those
        # values, so a thousand per-host alerts on one metric cost one dict lookup per tag, not 1,000 tests.
        exact: dict[tuple[str, str], list[int]] = defaultdict(list)
        generic: list[int] = []
        for i, c in enumerate(self.conditions):
            literal = c.matcher.exact
            if literal is None:
                generic.append(i)
            else:
                for value in literal[1]:
                    exact[(literal[0], value)].append(i)
        self._exact, self._generic = dict(exact), generic
        specs = [c.spec for c in self.conditions]
        # A grouped max-above (min-below) can only cross when one of its rows does: skipping the rows
        # that don't leaves stored values that are all on the right side, so the group's verdict is the same.
        self.quiet = np.array([s.type in (ABOVE, BELOW) and s.summary_function in FN_ROWS and (
            not c.grouped or (s.summary_function, s.type) in (("max", ABOVE), ("min", BELOW)))
            for s, c in zip(specs, self.conditions, strict=True)], bool)
        self.above = np.array([s.type == ABOVE for s in specs], bool)
        self.threshold = np.array([s.threshold if s.threshold is not None else np.nan for s in specs], np.float64)
        self.fn_row = np.array([FN_ROWS.get(s.summary_function or "", 0) for s in specs], np.int64)
        self._stale = True

    def add(self, condition: ConditionRuntime) -> None:
        self.conditions.append(condition)
        self._reindex()
        for sid, tags in self.tags.items():
            condition.admit(sid, tags)

    def remove(self, condition: ConditionRuntime) -> None:
        self.conditions = [c for c in self.conditions if c is not condition]
        self._reindex()

    def admit(self, sid: int, tags: dict[str, str]) -> None:
        candidates = list(self._generic)
        for item in tags.items():
            candidates.extend(self._exact.get(item, ()))
        for i in candidates:
            self.conditions[i].admit(sid, tags)
        self.tags[sid] = tags
        self._stale = True

    def forget_series(self) -> None:
        self.tags.clear()
        self._stale = True

    def _refresh(self) -> None:
        if not self._stale:
            return
        self._known = np.sort(np.fromiter(self.tags.keys(), np.uint64, len(self.tags)))
        sids = [np.fromiter(c.members.keys(), np.uint64, len(c.members)) for c in self.conditions]
        conds = [np.full(len(s), i, np.int64) for i, s in enumerate(sids)]
        all_sids = np.concatenate(sids) if sids else np.empty(0, np.uint64)
        all_conds = np.concatenate(conds) if conds else np.empty(0, np.int64)
        order = np.argsort(all_sids, kind="stable")
        self._pair_sids, self._pair_cond = all_sids[order], all_conds[order]
        self._stale = False

    def unknown(self, unique_sids: np.ndarray) -> np.ndarray:
        self._refresh()
        if not len(self._known):
            return unique_sids
        return unique_sids[~np.isin(unique_sids, self._known, assume_unique=True)]

    def route(self, sids: np.ndarray, values: np.ndarray) -> list[tuple[ConditionRuntime, np.ndarray]]:
        """For each condition whose state these rows may change, the indices of its rows (in their order).

        `values` is the 5 × rows table of average, sum, min, max and count. Every plain above/below
        condition of the metric is tested in one vectorised pass; one that has no row past its
        threshold and nothing violating or in a window is left out, since feeding it would change
        nothing. So a thousand quiet alerts cost a few numpy operations per batch, not a thousand calls.
        """
        self._refresh()
        if not len(self._pair_sids):
            return []
        lo = np.searchsorted(self._pair_sids, sids, "left")
        hi = np.searchsorted(self._pair_sids, sids, "right")
        counts = hi - lo
        total = int(counts.sum())
        if not total:
            return []
        rows = np.repeat(np.arange(len(sids)), counts)
        offsets = np.cumsum(counts) - counts
        positions = lo[rows] + (np.arange(total) - offsets[rows])
        conds = self._pair_cond[positions]
        order = np.argsort(conds, kind="stable")
        rows, conds = rows[order], conds[order]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(conds)) + 1))
        v = values[self.fn_row[conds], rows]
        with np.errstate(invalid="ignore"):
            past = np.where(self.above[conds], v > self.threshold[conds], v < self.threshold[conds])
        part_conds = conds[starts]
        maybe_idle = (self.quiet[part_conds] & ~np.logical_or.reduceat(past, starts)).tolist()
        ends = np.concatenate((starts[1:], [total])).tolist()
        conditions = self.conditions
        out = []
        for start, end, ci, idle in zip(starts.tolist(), ends, part_conds.tolist(), maybe_idle, strict=True):
            condition = conditions[ci]
            if idle and not condition.violating and not condition.runs:
                continue
            out.append((condition, rows[start:end]))
        return out
