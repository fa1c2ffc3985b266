"""The evaluator: one task that turns acknowledged measurements into alert state and notifications.

How evaluation is triggered and batched (cost grows with data, not with time × alerts):
- The writer calls `observe` with every acknowledged batch. It keeps only the rows of metrics
  that some active condition watches (one Arrow `is_in`), stamps the arrival time and queues
  them (bounded by `alert_queue_rows`; past that, rows are dropped and counted).
- The task drains everything queued at once: the busier ingest is, the larger and fewer the
  evaluation batches. Per metric, rows are routed to the conditions whose streams they belong
  to (see watch.py) and each condition updates its state with numpy over its rows.
- Only alerts whose conditions changed are judged (trigger / re-notify / clear).
- A heap of timers serves what time alone can change: `absent` conditions (one timer per
  stream, re-armed lazily at most once per `duration`), duration windows (one per run) and
  rearm (one per firing alert). Nothing is polled.

API changes (create, update, delete, clear) go through the same queue, so they apply in order
with the data and never race with an evaluation in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.alerts.conditions import ConditionRuntime, Rows, Timer
from vigil.alerts.delivery import Deliverer, Delivery
from vigil.alerts.model import Alert
from vigil.alerts.notify.message import CLEAR, TRIGGER, Notification, ViolationOut
from vigil.alerts.recent import last_seen
from vigil.alerts.state import MAX_VIOLATIONS, AlertState
from vigil.alerts.store import AlertStore
from vigil.alerts.watch import MetricWatch
from vigil.metrics.samples import series_tags
from vigil.metrics.writer import SampleWriter
from vigil.selfmetrics import SelfMetrics
from vigil.storage.telemetry import TelemetryError, TelemetryStore

log = logging.getLogger(__name__)

COLUMNS = ["metric", "series_id", "time", "count", "sum", "min", "max"]
HEARTBEAT_SECONDS = 30.0
MAX_PENDING_HISTORY = 10_000
MAX_RESTART_LOOKBACK = 86_400
TAG_QUERY_CHUNK = 5_000


@dataclass(slots=True)
class EngineLimits:
    queue_rows: int
    streams_per_condition: int
    series_cache: int
    history_per_alert: int


@dataclass(slots=True, eq=False)
class AlertRuntime:
    alert: Alert
    state: AlertState
    conditions: list[ConditionRuntime] = field(default_factory=list)
    rearm_at: float | None = None
    alive: bool = True


class AlertEngine:
    def __init__(self, store: AlertStore, telemetry: TelemetryStore, writer: SampleWriter, metrics: SelfMetrics,
                 deliverer: Deliverer, limits: EngineLimits, account: str) -> None:
        self.clock: Callable[[], float] = time.time
        self._store = store
        self._telemetry = telemetry
        self._writer = writer
        self._metrics = metrics
        self._deliverer = deliverer
        self._limits = limits
        self._account = account
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._queued_rows = 0
        self._wake = asyncio.Event()
        self._alerts: dict[int, AlertRuntime] = {}
        self._watches: dict[str, MetricWatch] = {}
        self._keys = pa.array([], pa.string())
        self._series_cached = 0
        self._timers: list[tuple[float, int, str, Any, int, int]] = []
        self._seq = itertools.count()
        self._dirty: dict[int, float | None] = {}
        self._unsaved: set[int] = set()
        self._unsaved_history: list[dict[str, Any]] = []
        self._save_wake = asyncio.Event()
        self._save_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.dropped_rows = 0

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        heartbeat = await self._store.heartbeat()
        states = await self._store.load_states()
        now = self.clock()
        absent: list[ConditionRuntime] = []
        for alert in await self._store.all_alerts():
            rt = self._install(alert, states.get(alert.id, AlertState()))
            absent += [c for c in rt.conditions if c.is_absent]
            if rt.state.firing:
                base = rt.state.last_notified_at or rt.state.triggered_at or now
                self._set_rearm(rt, base + alert.rearm_seconds)
        self._refresh_keys()
        # Streams that stopped while the server was down must still be missed: look back over the downtime.
        downtime = min(max(0.0, now - heartbeat), MAX_RESTART_LOOKBACK) if heartbeat else 0.0
        for condition in absent:
            await self._seed_absent(condition, downtime)
        self._metrics.alert_queue_rows.set_function(lambda: self._queued_rows)
        self._metrics.alerts_firing.set_function(lambda: sum(1 for rt in self._alerts.values() if rt.state.firing))
        self._tasks = [asyncio.create_task(self._run(), name="alert-evaluator"),
                       asyncio.create_task(self._saver(), name="alert-state-saver")]

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._tasks:
            await self._tasks[0]
            self._save_wake.set()
            await self._tasks[1]
        await self._flush_states()

    # -- the writer's observer --------------------------------------------------------------------

    def observe(self, samples: pa.Table) -> None:
        if self._closing or not len(self._keys):
            return
        mask = pc.is_in(samples.column("metric"), value_set=self._keys)
        hits = pc.sum(mask).as_py() or 0
        if not hits:
            return
        part = (samples if hits == samples.num_rows else samples.filter(mask)).select(COLUMNS)
        if self._queued_rows + part.num_rows > self._limits.queue_rows:
            self.dropped_rows += part.num_rows
            self._metrics.alert_samples.labels("dropped").inc(part.num_rows)
            return
        self._metrics.alert_samples.labels("queued").inc(part.num_rows)
        self._inbox.append(("data", part, self.clock()))
        self._queued_rows += part.num_rows
        self._wake.set()

    # -- requests from the API (applied in order with the data) -----------------------------------

    async def _request(self, *item: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inbox.append((*item, future))
        self._wake.set()
        return await future

    async def upsert(self, alert: Alert) -> None:
        await self._request("upsert", alert)

    async def remove(self, alert_id: int) -> None:
        await self._request("remove", alert_id)

    async def clear(self, alert_id: int) -> None:
        await self._request("clear", alert_id)

    async def barrier(self) -> None:
        """Return once everything observed or requested so far is evaluated and its notifications queued."""
        await self._request("barrier")

    def wake(self) -> None:
        """Look at the timers now (after `clock` was moved, in tests)."""
        self._wake.set()

    # -- state for the API ------------------------------------------------------------------------

    def state_of(self, alert_id: int) -> AlertState | None:
        rt = self._alerts.get(alert_id)
        return rt.state if rt else None

    def states(self) -> dict[int, AlertState]:
        return {i: rt.state for i, rt in self._alerts.items()}

    def ignored_streams(self, alert_id: int) -> int:
        rt = self._alerts.get(alert_id)
        return sum(c.ignored for c in rt.conditions) if rt else 0

    async def history(self, alert_id: int, limit: int) -> list[dict[str, Any]]:
        await self._flush_states()
        return await self._store.history(alert_id, limit)

    def record_delivery(self, alert_id: int, service_id: int, outcome: str, error: str | None, at: float,
                        notification: Notification) -> None:
        rt = self._alerts.get(alert_id)
        if rt is None:
            return
        rt.state.record_delivery(service_id, outcome, error, at)
        if outcome == "failed":
            self._history(alert_id, at, "delivery_failed", {"service": service_id, "notification": notification.kind,
                                                            "error": error})
        self._save(alert_id)

    # -- the loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._inbox:
                delay = max(0.0, self._timers[0][0] - self.clock()) if self._timers else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            if self._closing and not self._inbox:
                return
            waiting: list[asyncio.Future[Any]] = []
            try:
                await self._step(waiting)
            except Exception:  # a bug in one evaluation must not stop the evaluator
                log.exception("alert evaluation failed")
                self._metrics.alert_errors.inc()
            finally:
                for future in waiting:
                    if not future.done():
                        future.set_result(None)

    async def _step(self, waiting: list[asyncio.Future[Any]]) -> None:
        data: list[tuple[pa.Table, float]] = []
        while self._inbox:
            item = self._inbox.popleft()
            if item[0] == "data":
                data.append((item[1], item[2]))
                continue
            if data:
                await self._evaluate_data(data)
                data = []
            future = item[-1]
            if item[0] == "barrier":
                waiting.append(future)
                continue
            try:
                await self._apply(item[0], item[1])
            except Exception as exc:
                log.exception("applying an alert change failed")
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
        if data:
            await self._evaluate_data(data)
        now = self.clock()
        self._run_timers(now)
        if self._dirty:
            dirty, self._dirty = self._dirty, {}
            for alert_id, observed_at in dirty.items():
                rt = self._alerts.get(alert_id)
                if rt is not None and rt.alive:
                    await self._judge(rt, now, observed_at)

    # -- data -------------------------------------------------------------------------------------

    async def _evaluate_data(self, items: list[tuple[pa.Table, float]]) -> None:
        table = pa.concat_tables([t for t, _ in items]) if len(items) > 1 else items[0][0]
        self._queued_rows -= table.num_rows
        first_arrival, last_arrival = items[0][1], items[-1][1]
        started = time.perf_counter()
        try:
            encoded = pc.dictionary_encode(table.column("metric").combine_chunks())
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            names = encoded.dictionary.to_pylist()
            columns = {name: table.column(name).to_numpy() for name in COLUMNS[1:]}
            order = np.argsort(codes, kind="stable")
            counts = np.bincount(codes, minlength=len(names))
            offset = 0
            for code, key in enumerate(names):
                rows = order[offset:offset + counts[code]]
                offset += counts[code]
                watch = self._watches.get(key)
                if watch is None or not len(rows):
                    continue
                await self._evaluate_metric(watch, {k: v[rows] for k, v in columns.items()}, first_arrival,
                                            last_arrival)
        except Exception:
            log.exception("evaluating %d samples failed", table.num_rows)
            self._metrics.alert_errors.inc()
        self._metrics.alert_samples.labels("evaluated").inc(table.num_rows)
        self._metrics.alert_evaluation_seconds.observe(time.perf_counter() - started)

    async def _evaluate_metric(self, watch: MetricWatch, cols: dict[str, np.ndarray], first_arrival: float,
                               last_arrival: float) -> None:
        sids = cols["series_id"]
        times = cols["time"].astype(np.int64)
        order = np.lexsort((times, sids))
        rows = Rows(sids[order], times[order], cols["count"][order].astype(np.float64), cols["sum"][order],
                    cols["min"][order], cols["max"][order], first_arrival, last_arrival)
        unknown = watch.unknown(np.unique(rows.sids))
        if len(unknown):
            await self._resolve(watch, unknown)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.vstack((rows.sums / rows.counts, rows.sums, rows.mins, rows.maxs, rows.counts))
        for condition, idx in watch.route(rows.sids, values):
            changed, timers = condition.feed(rows.take(idx))
            self._push(condition, timers)
            if changed:
                self._mark(condition.alert_id, first_arrival)

    async def _resolve(self, watch: MetricWatch, sids: np.ndarray) -> None:
        """Fetch the tags of series seen for the first time and match them against the conditions."""
        if self._series_cached + len(sids) > self._limits.series_cache:
            for w in self._watches.values():
                w.forget_series()
            self._series_cached = 0
            sids = np.unique(sids)
        wanted = sids.tolist()
        found = await self._tags(watch.key, wanted)
        missing = [sid for sid in wanted if sid not in found]
        if missing:
            # New series may still be in the write-ahead log only: load it into the engine, then ask again.
            await self._writer.sync()
            found.update(await self._tags(watch.key, missing))
        for sid in wanted:
            watch.admit(sid, found.get(sid, {}))
        self._series_cached += len(wanted)

    async def _tags(self, metric: str, sids: list[int]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for start in range(0, len(sids), TAG_QUERY_CHUNK):
            found.update(await series_tags(self._telemetry, metric, sids[start:start + TAG_QUERY_CHUNK]))
        return found

    # -- timers -----------------------------------------------------------------------------------

    def _push(self, condition: ConditionRuntime, timers: list[Timer]) -> None:
        for deadline, signal, token in timers:
            heapq.heappush(self._timers, (deadline, next(self._seq), "c", condition, signal, token))

    def _set_rearm(self, rt: AlertRuntime, at: float) -> None:
        if rt.rearm_at == at:
            return
        rt.rearm_at = at
        heapq.heappush(self._timers, (at, next(self._seq), "r", rt, 0, 0))

    def _run_timers(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            deadline, _, kind, target, signal, token = heapq.heappop(self._timers)
            if kind == "c":
                if not target.alive:
                    continue
                changed, more = target.on_timer(signal, token, now)
                self._push(target, more)
                if changed:
                    self._mark(target.alert_id, None)
            elif target.alive and target.rearm_at == deadline:
                target.rearm_at = None
                self._mark(target.alert.id, None)

    def _mark(self, alert_id: int, observed_at: float | None) -> None:
        if alert_id not in self._dirty or self._dirty[alert_id] is None:
            self._dirty[alert_id] = observed_at

    # -- judging ----------------------------------------------------------------------------------

    def _violations(self, rt: AlertRuntime) -> tuple[list[ViolationOut], list[dict[str, Any]]]:
        out: list[ViolationOut] = []
        stored: list[dict[str, Any]] = []
        for c in rt.conditions:
            for v in {**c.violating, **c.fresh}.values():
                if len(out) >= MAX_VIOLATIONS:
                    break
                out.append(ViolationOut(c.id, c.spec.metric_name, v.key, v.value, v.recorded_at))
                stored.append(v.to_stored(c.id, c.spec.metric_name))
        return out, stored

    async def _judge(self, rt: AlertRuntime, now: float, observed_at: float | None) -> None:
        alert, st = rt.alert, rt.state
        met = alert.active and bool(rt.conditions) and all(c.violating or c.fresh for c in rt.conditions)
        if met:
            current, stored = self._violations(rt)
            if not st.firing:
                st.firing, st.triggered_at, st.notified, st.clear_kind = True, now, False, None
                self._history(alert.id, now, "triggered", {"violations": len(current)})
                self._metrics.alert_events.labels("triggered").inc()
            st.violations = stored
            rearm = alert.rearm_seconds
            if alert.rearm_per_signal:
                due = [v for v in current if now - st.signals.get(v.signal, -np.inf) >= rearm]
                if due:
                    for v in due:
                        st.remember_signal(v.signal, now)
                    st.last_notified_at, st.notified = now, True
                    await self._notify(rt, TRIGGER, now, due, observed_at)
                next_due = min(st.signals.get(v.signal, now) + rearm for v in current)
            else:
                if st.last_notified_at is None or now - st.last_notified_at >= rearm:
                    st.last_notified_at, st.notified = now, True
                    await self._notify(rt, TRIGGER, now, current, observed_at)
                next_due = st.last_notified_at + rearm
            self._set_rearm(rt, max(next_due, now + 1))
            self._save(alert.id)
        elif st.firing:
            await self._clear(rt, now, "auto")
        for c in rt.conditions:
            c.fresh.clear()

    async def _clear(self, rt: AlertRuntime, now: float, kind: str) -> None:
        st = rt.state
        st.firing, st.cleared_at, st.clear_kind, st.violations = False, now, kind, []
        rt.rearm_at = None
        self._history(rt.alert.id, now, "cleared", {"clear": kind})
        self._metrics.alert_events.labels("cleared").inc()
        if st.notified and kind != "inactive":
            await self._notify(rt, CLEAR, now, [], None, clear=kind)
        st.notified = False
        self._save(rt.alert.id)

    async def _notify(self, rt: AlertRuntime, kind: str, now: float, violations: list[ViolationOut],
                      observed_at: float | None, clear: str | None = None) -> None:
        alert = rt.alert
        if not alert.service_ids:
            return  # evaluated and tracked, but nobody to tell
        notification = Notification(kind, alert, int(now), self._account, tuple(violations), clear, observed_at)
        services = await self._store.get_services(alert.service_ids)
        for service_id in alert.service_ids:
            service = services.get(service_id)
            if service is not None:
                self._deliverer.submit(Delivery(service, notification))

    # -- applying API changes ---------------------------------------------------------------------

    def _install(self, alert: Alert, state: AlertState) -> AlertRuntime:
        rt = AlertRuntime(alert, state)
        if alert.active:
            rt.conditions = [ConditionRuntime(alert.id, c, self._limits.streams_per_condition)
                             for c in alert.conditions]
        by_id = {c.id: c for c in rt.conditions}
        for stored in state.violations:
            condition = by_id.get(stored.get("condition", -1))
            if condition is not None:
                condition.restore(stored)
        for condition in rt.conditions:
            self._watch(condition.spec.metric_key).add(condition)
        self._alerts[alert.id] = rt
        return rt

    def _watch(self, key: str) -> MetricWatch:
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = MetricWatch(key)
        return watch

    def _unwatch(self, condition: ConditionRuntime) -> None:
        condition.alive = False
        watch = self._watches.get(condition.spec.metric_key)
        if watch is not None:
            watch.remove(condition)
            if not watch.conditions:
                self._series_cached -= len(watch.tags)
                del self._watches[watch.key]

    def _refresh_keys(self) -> None:
        self._keys = pa.array(sorted(self._watches), pa.string())

    async def _apply(self, kind: str, arg: Any) -> None:
        now = self.clock()
        if kind == "upsert":
            await self._upsert(arg, now)
        elif kind == "remove":
            rt = self._alerts.pop(arg, None)
            if rt is not None:
                rt.alive = False
                for c in rt.conditions:
                    self._unwatch(c)
                self._unsaved.discard(arg)
                self._refresh_keys()
        elif kind == "clear":
            rt = self._alerts.get(arg)
            if rt is not None:
                if rt.state.firing:
                    await self._clear(rt, now, "manual")
                # Someone dealt with it: the next crossing is news, whatever the rearm time.
                rt.state.last_notified_at = None
                rt.state.signals.clear()
                self._save(rt.alert.id)
                for c in rt.conditions:
                    c.forget_violations()

    async def _upsert(self, alert: Alert, now: float) -> None:
        rt = self._alerts.get(alert.id)
        if rt is None:
            rt = self._install(alert, AlertState())
            added = list(rt.conditions)
        else:
            previous = {c.id: c for c in rt.conditions}
            rt.alert = alert
            kept: list[ConditionRuntime] = []
            added = []
            for cond in alert.conditions if alert.active else ():
                runtime = previous.pop(cond.id, None)
                if runtime is None or runtime.spec != cond.spec:
                    if runtime is not None:
                        previous[cond.id] = runtime
                    runtime = ConditionRuntime(alert.id, cond, self._limits.streams_per_condition)
                    self._watch(cond.spec.metric_key).add(runtime)
                    added.append(runtime)
                kept.append(runtime)
            for gone in previous.values():
                self._unwatch(gone)
            rt.conditions = kept
            if not alert.active and rt.state.firing:
                await self._clear(rt, now, "inactive")  # a disabled alert stops firing, without a notification
            self._mark(alert.id, None)  # changed conditions may no longer hold
        self._refresh_keys()
        for condition in added:
            if condition.is_absent:
                await self._seed_absent(condition, 0.0)

    async def _seed_absent(self, condition: ConditionRuntime, extra: float) -> None:
        """Streams that reported within the condition's duration (plus `extra`) count as seen, so an
        absent alert also notices a stream that stops right after the alert was created or restarted."""
        now = self.clock()
        since = int(now - (condition.spec.duration or 0) - extra)
        try:
            await self._writer.sync()
            seen = await last_seen(self._telemetry, condition.spec.metric_key, since,
                                   self._limits.streams_per_condition)
        except TelemetryError as exc:
            log.warning("cannot look up recent streams of %s for an absent condition: %s", condition.spec.metric_key,
                        exc)
            return
        if not seen:
            return
        watch = self._watch(condition.spec.metric_key)
        unknown = watch.unknown(np.unique(np.fromiter(seen, np.uint64, len(seen))))
        if len(unknown):
            await self._resolve(watch, unknown)
        timers: list[Timer] = []
        for sid, last in seen.items():
            if sid not in condition.members:
                continue
            signal = condition.group_signal(sid) if condition.grouped else sid
            timer = condition.seed_seen(signal, float(last))
            if timer is not None:
                timers.append(timer)
        self._push(condition, timers)

    # -- persistence ------------------------------------------------------------------------------

    def _save(self, alert_id: int) -> None:
        self._unsaved.add(alert_id)
        self._save_wake.set()

    def _history(self, alert_id: int, at: float, event: str, detail: dict[str, Any]) -> None:
        if len(self._unsaved_history) >= MAX_PENDING_HISTORY:
            self._unsaved_history.pop(0)
        self._unsaved_history.append({"alert_id": alert_id, "at": at, "event": event, "detail": detail})
        self._save_wake.set()

    async def _saver(self) -> None:
        last_beat = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._save_wake.wait(), HEARTBEAT_SECONDS)
            self._save_wake.clear()
            now = self.clock()
            beat = now if now - last_beat >= HEARTBEAT_SECONDS else None
            if await self._flush_states(beat) and beat is not None:
                last_beat = now
            if self._closing:
                return

    async def _flush_states(self, heartbeat: float | None = None) -> bool:
        async with self._save_lock:
            ids, self._unsaved = self._unsaved, set()
            history, self._unsaved_history = self._unsaved_history, []
            if not ids and not history and heartbeat is None:
                return True
            states = {i: self._alerts[i].state for i in ids if i in self._alerts}
            try:
                await self._store.save(states, history, self._limits.history_per_alert, heartbeat)
            except Exception as exc:  # the metadata DB is down: keep the changes for the next round
                log.error("saving alert state failed (will retry): %s", exc)
                self._metrics.storage_errors.labels("metadata").inc()
                self._unsaved |= ids
                self._unsaved_history = (history + self._unsaved_history)[-MAX_PENDING_HISTORY:]
                return False
            return True
