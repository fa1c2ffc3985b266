"""Folds stored nova notifications into lifecycles, timings and request trackers (metadata database).

It runs behind the writer: once a segment is in the engine the writer says how far ids go; the
processor reads the new notifications back in id windows and applies each window in one
transaction that also moves the `processed_id` watermark. A crash between the two leaves the
watermark behind, so the window is read and applied again at the next start: nothing is lost and
nothing counted twice. Like the original worker, the raw notification is acknowledged as soon as
it is stored; what is derived from it follows within moments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.events.pairing import (
    MAX_KEY,
    End,
    Lifecycle,
    Raw,
    State,
    Timing,
    Tracker,
    apply,
    is_api_update,
    split_event,
)
from vigil.storage.events_tables import event_lifecycles as lct
from vigil.storage.events_tables import event_progress as pgt
from vigil.storage.events_tables import event_requests as rqt
from vigil.storage.events_tables import event_timings as tmt
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryError, TelemetryStore

log = logging.getLogger(__name__)

WATERMARK = "processed_id"
CHUNK = 500  # values per IN list (PostgreSQL and SQLite cap bound parameters)
RETRY_BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)
_TIMING_COLS = ("instance", "name", "start_raw_id", "start_when", "end_raw_id", "end_when", "diff",
                "end_request_id", "end_deployment_id", "end_tenant")
_TRACKER_COLS = ("instance", "start_when", "start_raw_id", "timing_name", "end_raw_id", "end_when",
                 "end_deployment_id", "end_tenant", "duration")


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


class LifecycleProcessor:
    def __init__(self, store: TelemetryStore, db: MetadataDB, *, window: int = 20_000,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.store = store
        self.db = db
        self.window = window
        self._on_failure = on_failure
        self.processed_id = 0
        self.target_id = 0
        self._wake = asyncio.Event()
        self._state = asyncio.Condition()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, loaded_id: int) -> None:
        async with self.db.connect() as conn:
            value = (await conn.execute(sa.select(pgt.c.value).where(pgt.c.key == WATERMARK))).scalar()
        self.processed_id = int(value or 0)
        self.target_id = max(loaded_id, self.processed_id)
        if self.target_id > self.processed_id:
            log.info("folding events %d..%d into lifecycles", self.processed_id + 1, self.target_id)
        self._task = asyncio.create_task(self._loop(), name="events-lifecycles")
        self._wake.set()

    def notify(self, loaded_id: int) -> None:
        if loaded_id > self.target_id:
            self.target_id = loaded_id
            self._wake.set()

    async def sync(self, target: int | None = None) -> None:
        """Wait until every event loaded so far (or up to `target`) has been folded in."""
        goal = self.target_id if target is None else target
        if self.processed_id >= goal or self._task is None:
            return
        async with self._state:
            await self._state.wait_for(lambda: self.processed_id >= goal or self._closing)

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        async with self._state:
            self._state.notify_all()

    async def _loop(self) -> None:
        attempt = 0
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self.processed_id < self.target_id and not self._closing:
                upto = min(self.target_id, self.processed_id + self.window)
                try:
                    raws = await self._fetch(self.processed_id, upto)
                    async with self.db.begin() as conn:
                        await fold(conn, raws)
                        await _set_watermark(conn, upto)
                except Exception as exc:  # storage failures, and bugs: never let the task die
                    if not isinstance(exc, TelemetryError | SQLAlchemyError | OSError):
                        log.exception("folding events %d..%d failed", self.processed_id + 1, upto)
                    if self._on_failure:
                        self._on_failure()
                    delay = RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF) - 1)]
                    log.error("folding events %d..%d failed (retrying in %.1fs): %s", self.processed_id + 1, upto,
                              delay, exc)
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                attempt = 0
                async with self._state:
                    self.processed_id = upto
                    self._state.notify_all()

    async def _fetch(self, after: int, upto: int) -> list[Raw]:
        table = await self.store.query_arrow(
            "SELECT id, toUnixTimestamp64Micro(`when`) AS us, event, service, instance, request_id, state, "
            f"old_task, deployment, tenant FROM {self.store.database}.events "
            "WHERE id > {lo:UInt64} AND id <= {hi:UInt64} AND kind = 'nova' AND instance IS NOT NULL",
            {"lo": after, "hi": upto})
        cols = [table.column(name).to_pylist() for name in
                ("id", "us", "event", "service", "instance", "request_id", "state", "old_task", "deployment",
                 "tenant")]
        return [Raw(*values) for values in zip(*cols, strict=True)]


async def _set_watermark(conn: AsyncConnection, value: int) -> None:
    done = await conn.execute(pgt.update().where(pgt.c.key == WATERMARK).values(value=value))
    if done.rowcount == 0:
        await conn.execute(pgt.insert().values(key=WATERMARK, value=value))


async def fold(conn: AsyncConnection, raws: list[Raw]) -> State:
    """Load the state `raws` touch, apply them, write the changes back (inside the caller's transaction)."""
    raws = [r for r in raws if r.instance and len(r.instance) <= MAX_KEY]
    state = State()
    if not raws:
        return state
    instances = {r.instance for r in raws}
    for chunk in _chunks(instances):
        for row in (await conn.execute(sa.select(lct).where(lct.c.instance.in_(chunk)))).mappings():
            state.lifecycles[row["instance"]] = Lifecycle(row["instance"], row["last_state"], row["last_task_state"],
                                                          row["last_raw_id"], row["last_when"], stored=True)
    paired = {r.instance for r in raws if split_event(r.event)[1] in ("start", "end")}
    request_ids = {r.request_id for r in raws if r.request_id and len(r.request_id) <= MAX_KEY
                   and (is_api_update(r) or split_event(r.event)[1] == "end")}
    for chunk in _chunks(paired):
        query = sa.select(tmt).where(tmt.c.instance.in_(chunk), sa.or_(tmt.c.start_raw_id.is_(None),
                                                                        tmt.c.end_raw_id.is_(None)))
        for row in (await conn.execute(query.order_by(tmt.c.id))).mappings():
            timing = Timing(**{k: row[k] for k in ("id", *_TIMING_COLS)})
            state.open_timings.setdefault((timing.instance, timing.name), []).append(timing)
            state.loaded_timings.append(timing)
            if timing.end_request_id:
                request_ids.add(timing.end_request_id)
    for chunk in _chunks(request_ids):
        for row in (await conn.execute(sa.select(rqt).where(rqt.c.request_id.in_(chunk)))).mappings():
            state.trackers[row["request_id"]] = Tracker(row["request_id"], **{k: row[k] for k in _TRACKER_COLS},
                                                        stored=True)
    announced = {r.request_id for r in raws if is_api_update(r) and r.request_id
                 and len(r.request_id) <= MAX_KEY and r.request_id not in state.trackers}
    for chunk in _chunks(announced):
        query = sa.select(tmt.c.end_request_id, tmt.c.end_when, tmt.c.end_raw_id, tmt.c.name, tmt.c.end_deployment_id,
                          tmt.c.end_tenant).where(tmt.c.end_request_id.in_(chunk), tmt.c.diff.is_not(None))
        for rid, when, raw_id, name, dep, tenant in (await conn.execute(query)).all():
            best = state.ends.get(rid)
            if best is None or when >= best.when:
                state.ends[rid] = End(when, raw_id, name, dep, tenant)
    apply(state, raws)
    await _write(conn, state)
    return state


async def _write(conn: AsyncConnection, state: State) -> None:
    lifecycles = [lc for lc in state.lifecycles.values() if lc.dirty]
    values = [{"instance": lc.instance, "last_state": lc.last_state, "last_task_state": lc.last_task_state,
               "last_raw_id": lc.last_raw_id, "last_when": lc.last_when} for lc in lifecycles if not lc.stored]
    if values:
        await conn.execute(lct.insert(), values)
    values = [{"k": lc.instance, "last_state": lc.last_state, "last_task_state": lc.last_task_state,
               "last_raw_id": lc.last_raw_id, "last_when": lc.last_when} for lc in lifecycles if lc.stored]
    if values:
        await conn.execute(lct.update().where(lct.c.instance == sa.bindparam("k")), values)

    if state.new_timings:
        await conn.execute(tmt.insert(), [{k: getattr(t, k) for k in _TIMING_COLS} for t in state.new_timings])
    changed = [t for t in state.loaded_timings if t.dirty]
    if changed:
        await conn.execute(tmt.update().where(tmt.c.id == sa.bindparam("k")),
                           [{"k": t.id, **{c: getattr(t, c) for c in _TIMING_COLS}} for t in changed])

    trackers = [t for t in state.trackers.values() if t.dirty]
    values = [{"request_id": t.request_id, **{c: getattr(t, c) for c in _TRACKER_COLS}} for t in trackers
              if not t.stored]
    if values:
        await conn.execute(rqt.insert(), values)
    values = [{"k": t.request_id, **{c: getattr(t, c) for c in _TRACKER_COLS}} for t in trackers if t.stored]
    if values:
        await conn.execute(rqt.update().where(rqt.c.request_id == sa.bindparam("k")), values)
