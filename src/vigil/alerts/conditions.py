"""One condition's evaluation: state machines fed with batches of samples, vectorised per batch.

`feed` takes the rows of one batch that belong to the condition's streams, sorted by (series,
time), and updates which signals violate. Per-row work is numpy over the whole batch; Python
runs once per *violating* signal (and, for derivatives and windows, once per stream in the
batch), never once per alert per tick.

- `above`/`below` without `duration`: a signal violates while its latest point is past the
  threshold; a point past the threshold also counts as a violation of its batch even if a later
  point in the same batch recovered (`fresh`), so a single spike triggers the alert.
- with `duration`: a *run* is a sequence of points all past the threshold; the signal violates
  once its run spans `duration` seconds of data time, or when a timer set for run start +
  `duration` finds the run still unbroken with a point inside the window.
- `absent`: a signal that has reported (arrival time) and then not for `duration` seconds
  violates, found by a timer; reporting again ends the violation.
- derivative: current − previous value of the same stream (a stream's first point has none);
  `detect_reset` turns negative deltas (counter resets) into 0.
- grouped: each stream's latest point (for `STALE_SECONDS`) is combined into its group —
  sum/count/min/max of the summary columns, average = Σsum / Σcount, derivative = Σ of the
  streams' latest derivatives — and the group is evaluated like one stream, one point per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.alerts.matching import TagMatcher, signal_id
from vigil.alerts.model import ABOVE, ABSENT, Condition

STALE_SECONDS = 300  # grouped: how long a stream's latest point keeps counting toward its group
_NO_PREV = (-1, float("nan"))

Timer = tuple[float, int, int]  # (deadline, signal, token)


@dataclass(slots=True)
class Violation:
    signal: int
    key: str
    value: float | None
    recorded_at: int

    def to_stored(self, condition_id: int, metric: str) -> dict[str, Any]:
        return {"condition": condition_id, "metric": metric, "signal": str(self.signal), "key": self.key,
                "value": self.value, "recorded_at": self.recorded_at}


@dataclass(slots=True)
class Rows:
    """A condition's share of one batch, sorted by (series id, time)."""

    sids: np.ndarray  # uint64
    times: np.ndarray  # int64 (data time)
    counts: np.ndarray  # float64
    sums: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    first_arrival: float
    last_arrival: float

    def take(self, idx: np.ndarray) -> Rows:
        return Rows(self.sids[idx], self.times[idx], self.counts[idx], self.sums[idx], self.mins[idx],
                    self.maxs[idx], self.first_arrival, self.last_arrival)


def bounds(sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of each run of equal values in a sorted array."""
    change = np.flatnonzero(sig[1:] != sig[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(sig)])) - 1
    return starts, ends


class ConditionRuntime:
    def __init__(self, alert_id: int, condition: Condition, max_streams: int) -> None:
        self.alert_id = alert_id
        self.condition = condition
        self.spec = condition.spec
        self.id = condition.id
        self.matcher = TagMatcher(self.spec.tags)
        self.grouped = self.matcher.grouped
        self.max_streams = max_streams
        self.alive = True
        self.members: dict[int, str] = {}  # series id → signal key
        self.ignored = 0  # matching streams not watched because of max_streams
        self.violating: dict[int, Violation] = {}
        self.fresh: dict[int, Violation] = {}  # violations seen since the alert was last judged
        self.prev: dict[int, tuple[int, float]] = {}  # derivative: stream → (time, mean)
        self.runs: dict[int, tuple[int, int, float]] = {}  # duration: signal → (run start, last time, last value)
        self.seen: dict[int, float] = {}  # absent: signal → last arrival
        self.scheduled: dict[int, int] = {}  # signal → token of its pending timer
        # grouped: every member stream's latest point, in dense slots
        self._slot: dict[int, int] = {}
        self._slot_index: tuple[np.ndarray, np.ndarray] | None = None  # sorted sids, their slots
        self._slot_group = np.empty(0, np.int64)
        self._latest = np.empty((6, 0))  # time, count, sum, min, max, derivative
        self._group_index: dict[str, int] = {}
        self._group_sig = np.empty(0, np.uint64)
        self._sig_key: dict[int, str] = {}

    @property
    def is_absent(self) -> bool:
        return self.spec.type == ABSENT

    def key_of(self, signal: int) -> str:
        if self.grouped:
            return self._sig_key.get(signal, str(signal))
        return self.members.get(signal, str(signal))

    # -- membership -------------------------------------------------------------------------------

    def admit(self, sid: int, tags: dict[str, str]) -> bool:
        if sid in self.members:
            return True
        key = self.matcher.signal_key(tags)
        if key is None:
            return False
        if len(self.members) >= self.max_streams:
            self.ignored += 1
            return False
        self.members[sid] = key
        if self.grouped:
            self._add_slot(sid, key)
        return True

    def _add_slot(self, sid: int, key: str) -> None:
        group = self._group_index.get(key)
        if group is None:
            group = len(self._group_index)
            self._group_index[key] = group
            sig = signal_id(key)
            self._group_sig = np.append(self._group_sig, np.uint64(sig))
            self._sig_key[sig] = key
        slot = len(self._slot)
        if slot >= self._latest.shape[1]:
            grow = max(16, slot)
            self._latest = np.concatenate((self._latest, np.full((6, grow), np.nan)), axis=1)
            self._slot_group = np.concatenate((self._slot_group, np.zeros(grow, np.int64)))
        self._slot[sid] = slot
        self._slot_index = None
        self._slot_group[slot] = group
        self._latest[:, slot] = np.nan
        self._latest[0, slot] = -np.inf

    def _slots(self, sids: np.ndarray) -> np.ndarray:
        """The slots of member streams, by binary search (a batch may hold thousands of streams)."""
        if self._slot_index is None:
            keys = np.fromiter(self._slot.keys(), np.uint64, len(self._slot))
            slots = np.fromiter(self._slot.values(), np.int64, len(self._slot))
            order = np.argsort(keys)
            self._slot_index = (keys[order], slots[order])
        keys, slots = self._slot_index
        return slots[np.searchsorted(keys, sids)]

    # -- data -------------------------------------------------------------------------------------

    def feed(self, rows: Rows) -> tuple[bool, list[Timer]]:
        """Returns whether the violations changed, and timers to set."""
        if self.is_absent:
            if self.grouped:
                starts, _ = bounds(rows.sids)
                slots = self._slots(rows.sids[starts])
                sigs = np.unique(self._group_sig[self._slot_group[slots]])
            else:
                sigs = np.unique(rows.sids)
            return self._reported(sigs.tolist(), rows.last_arrival)
        values = self._values(rows)
        if self.grouped:
            sig, t, v = self._group_points(rows, values)
        else:
            sig, t, v = rows.sids, rows.times, values
        valid = ~np.isnan(v)
        if not valid.all():
            sig, t, v = sig[valid], t[valid], v[valid]
        if not len(sig):
            return False, []
        threshold = self.spec.threshold
        viol = v > threshold if self.spec.type == ABOVE else v < threshold
        starts, ends = bounds(sig)
        if self.spec.duration is None:
            return self._immediate(sig, t, v, viol, starts, ends), []
        return self._windowed(sig, t, v, viol, starts, ends)

    def _values(self, rows: Rows) -> np.ndarray:
        fn = self.spec.summary_function
        if fn == "sum":
            return rows.sums
        if fn == "min":
            return rows.mins
        if fn == "max":
            return rows.maxs
        if fn == "count":
            return rows.counts
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = rows.sums / rows.counts
        if fn != "derivative":
            return mean
        starts, ends = bounds(rows.sids)
        prevs = [self.prev.get(s, _NO_PREV) for s in rows.sids[starts].tolist()]
        before_v = np.empty_like(mean)
        before_t = np.empty(len(mean), np.int64)
        before_v[1:] = mean[:-1]
        before_t[1:] = rows.times[:-1]
        before_v[starts] = [p[1] for p in prevs]
        before_t[starts] = [p[0] for p in prevs]
        delta = mean - before_v
        late = rows.times <= before_t
        delta[late] = np.nan  # late or repeated points have no derivative, and are not the previous value
        if self.spec.detect_reset:
            delta = np.where(delta < 0, 0.0, delta)
        ends = ends[~late[ends]]
        self.prev.update(zip(rows.sids[ends].tolist(), zip(rows.times[ends].tolist(), mean[ends].tolist(),
                                                              strict=True), strict=True))
        return delta

    def _group_points(self, rows: Rows, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, ends = bounds(rows.sids)
        slots = self._slots(rows.sids[ends])
        latest = self._latest
        latest[0, slots] = rows.times[ends]
        latest[1, slots] = rows.counts[ends]
        latest[2, slots] = rows.sums[ends]
        latest[3, slots] = rows.mins[ends]
        latest[4, slots] = rows.maxs[ends]
        latest[5, slots] = values[ends]
        n = len(self._slot)
        groups = len(self._group_index)
        g = self._slot_group[:n]
        times = latest[0, :n]
        newest = np.full(groups, -np.inf)
        np.maximum.at(newest, g, times)
        live = times >= newest[g] - STALE_SECONDS
        gl = g[live]
        fn = self.spec.summary_function
        if fn in ("average", "sum", "count"):
            sums = np.bincount(gl, latest[2, :n][live], minlength=groups)
            counts = np.bincount(gl, latest[1, :n][live], minlength=groups)
            with np.errstate(divide="ignore", invalid="ignore"):
                agg = sums / counts if fn == "average" else sums if fn == "sum" else counts
        elif fn == "min":
            agg = np.full(groups, np.inf)
            np.minimum.at(agg, gl, latest[3, :n][live])
        elif fn == "max":
            agg = np.full(groups, -np.inf)
            np.maximum.at(agg, gl, latest[4, :n][live])
        else:
            deltas = latest[5, :n][live]
            has = ~np.isnan(deltas)
            agg = np.bincount(gl[has], deltas[has], minlength=groups)
            agg[np.bincount(gl[has], minlength=groups) == 0] = np.nan
        touched = np.unique(self._slot_group[slots])
        sig = self._group_sig[touched]
        order = np.argsort(sig)
        return sig[order], newest[touched][order].astype(np.int64), agg[touched][order]

    def _immediate(self, sig: np.ndarray, t: np.ndarray, v: np.ndarray, viol: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> bool:
        changed = False
        heads = sig[starts]
        any_viol = np.logical_or.reduceat(viol, starts)
        if any_viol.any():
            latest_viol = np.maximum.reduceat(np.where(viol, np.arange(len(viol)), -1), starts)
            last_viol = viol[ends]
            for gi in np.flatnonzero(any_viol).tolist():
                row = int(latest_viol[gi])
                s = int(heads[gi])
                violation = Violation(s, self.key_of(s), float(v[row]), int(t[row]))
                self.fresh[s] = violation
                if last_viol[gi]:
                    self.violating[s] = violation
                else:
                    self.violating.pop(s, None)
            changed = True
        if self.violating:
            recovered = set(heads[~any_viol].tolist()) & self.violating.keys()
            for s in recovered:
                del self.violating[s]
            changed = changed or bool(recovered)
        return changed

    def _windowed(self, sig: np.ndarray, t: np.ndarray, v: np.ndarray, viol: np.ndarray, starts: np.ndarray,
                  ends: np.ndarray) -> tuple[bool, list[Timer]]:
        duration = self.spec.duration or 0
        heads = sig[starts]
        last_ok = np.maximum.reduceat(np.where(viol, -1, np.arange(len(viol))), starts)
        broken = last_ok == ends  # the latest point is not past the threshold: no run
        changed = False
        if (self.runs or self.violating) and broken.any():
            gone = set(heads[broken].tolist())
            for s in gone & self.runs.keys():
                del self.runs[s]
            ended = gone & self.violating.keys()
            for s in ended:
                del self.violating[s]
            changed = bool(ended)
        timers: list[Timer] = []
        for gi in np.flatnonzero(~broken).tolist():
            s = int(heads[gi])
            end = int(ends[gi])
            if last_ok[gi] >= starts[gi]:  # a run began inside this batch; any earlier one was broken
                start = int(t[last_ok[gi] + 1])
                if self.violating.pop(s, None) is not None:
                    changed = True
            else:
                run = self.runs.get(s)
                start = run[0] if run else int(t[starts[gi]])
            last_t, last_v = int(t[end]), float(v[end])
            self.runs[s] = (start, last_t, last_v)
            if last_t - start >= duration:
                violation = Violation(s, self.key_of(s), last_v, last_t)
                self.violating[s] = violation
                self.fresh[s] = violation
                changed = True
            elif self.scheduled.get(s) != start:
                self.scheduled[s] = start
                timers.append((float(start + duration), s, start))
        return changed, timers

    def _reported(self, sigs: list[int], arrival: float) -> tuple[bool, list[Timer]]:
        self.seen.update(dict.fromkeys(sigs, arrival))
        changed = False
        if self.violating:
            back = self.violating.keys() & set(sigs)
            for s in back:
                del self.violating[s]
            changed = bool(back)
        new = set(sigs).difference(self.scheduled)
        duration = self.spec.duration or 0
        for s in new:
            self.scheduled[s] = 0
        return changed, [(arrival + duration, s, 0) for s in new]

    # -- time -------------------------------------------------------------------------------------

    def on_timer(self, signal: int, token: int, now: float) -> tuple[bool, list[Timer]]:
        duration = self.spec.duration or 0
        if self.is_absent:
            if signal not in self.scheduled:
                return False, []
            last = self.seen.get(signal)
            if last is None:
                del self.scheduled[signal]
                return False, []
            if now - last < duration:
                return False, [(last + duration, signal, 0)]
            del self.scheduled[signal]
            violation = Violation(signal, self.key_of(signal), None, int(last))
            self.violating[signal] = violation
            self.fresh[signal] = violation
            return True, []
        if self.scheduled.get(signal) == token:
            del self.scheduled[signal]
        run = self.runs.get(signal)
        if run is None or run[0] != token:
            return False, []
        start, last_t, last_v = run
        if now - start >= duration and last_t >= now - duration and signal not in self.violating:
            violation = Violation(signal, self.key_of(signal), last_v, last_t)
            self.violating[signal] = violation
            self.fresh[signal] = violation
            return True, []
        return False, []

    # -- restart and manual clear -------------------------------------------------------------------

    def seed_seen(self, signal: int, last: float) -> Timer | None:
        """An absent condition learns of a stream that reported before it started watching."""
        if signal in self.seen or signal in self.violating:
            return None
        self.seen[signal] = last
        self.scheduled[signal] = 0
        return (last + (self.spec.duration or 0), signal, 0)

    def group_signal(self, sid: int) -> int:
        return int(self._group_sig[self._slot_group[self._slot[sid]]])

    def restore(self, stored: dict[str, Any]) -> None:
        """A violation that was current when the server stopped."""
        signal = int(stored["signal"])
        key = str(stored["key"])
        value = stored.get("value")
        at = int(stored.get("recorded_at") or 0)
        if self.grouped:
            self._sig_key.setdefault(signal, key)
        self.violating[signal] = Violation(signal, key, value, at)
        if self.is_absent:
            self.seen[signal] = float(at)
        elif self.spec.duration:
            self.runs[signal] = (at - self.spec.duration, at, value if value is not None else float("nan"))

    def forget_violations(self) -> None:
        """After a manual clear: tracking of the violating signals starts over."""
        for s in self.violating:
            self.seen.pop(s, None)
            self.runs.pop(s, None)
        self.violating.clear()
        self.fresh.clear()
