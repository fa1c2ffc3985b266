"""Stores notifications: ids, duplicate suppression, group commit into a write-ahead log, bulk loads.

`write(rows)` returns once the rows are in the log (a crash after that loses nothing: the log is
loaded again at start), so HTTP answers and AMQP acks wait for it; the group commit, the loads into
the engine and the replay are `storage/wal_writer.GroupCommitWriter`. Once a segment is in the
engine, the lifecycle processor is told how far the engine holds events.

Ids are assigned in the append task, so they strictly increase in the order rows were accepted.
A notification whose `message_id` was stored recently (a redelivery after a lost ack, a retried
POST) is not stored again: it gets the id of the first copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.storage.telemetry import TelemetryStore
from vigil.storage.wal import SegmentLog
from vigil.storage.wal_writer import GroupCommitWriter

log = logging.getLogger(__name__)

_S = pa.string()
EVENTS_SCHEMA = pa.schema([
    ("id", pa.uint64()), ("kind", _S), ("deployment", pa.uint32()), ("routing_key", _S),
    ("when", pa.timestamp("us", tz="UTC")), ("publisher", _S), ("event", _S), ("service", _S), ("host", _S),
    ("instance", _S), ("request_id", _S), ("tenant", _S), ("message_id", _S), ("state", _S),
    ("old_state", _S), ("old_task", _S), ("task", _S), ("image_type", pa.uint32()), ("owner", _S),
    ("status", _S), ("uuid", _S), ("json", _S),
])
SCHEMAS = {"events": EVENTS_SCHEMA}

Row = dict[str, Any]


class EventWriter(GroupCommitWriter[list[Row], list[int]]):
    noun = "notifications"
    observed = "events"
    dedup_token = "events-wal-{segment}"  # one table; the token names only the segment
    task_prefix = "events"
    append_errors = (OSError, pa.ArrowException, TypeError, ValueError)
    append_failed_message = "Could not store the notifications; retry"

    def __init__(self, store: TelemetryStore, wal: SegmentLog, *, flush_rows: int, flush_interval: float,
                 max_pending: int, dedup_window: int, wait_timeout: float = 30.0,
                 on_loaded: Callable[[int], None] | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        super().__init__(store, wal, flush_rows=flush_rows, flush_interval=flush_interval,
                         max_pending=max_pending, wait_timeout=wait_timeout, on_failure=on_failure)
        self.dedup_window = dedup_window
        self._on_loaded = on_loaded
        self._next_id = 1
        self._abandoned_id = 1  # where the ids of the batch being appended start
        self.loaded_id = 0  # every event with an id up to this one is in the engine
        self._recent: dict[str, int] = {}  # message_id -> id, oldest first (bounded LRU)

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    async def recover(self) -> int:
        """Load what a previous process left in the log, then continue its ids. Returns rows loaded."""
        rows = await super().recover()
        db = self.store.database
        top = await self.store.query_arrow(f"SELECT max(id) AS m FROM {db}.events")
        self.loaded_id = int(top.column("m")[0].as_py() or 0)
        self._next_id = self.loaded_id + 1
        if self.dedup_window and self.loaded_id:
            recent = await self.store.query_arrow(
                f"SELECT message_id, id FROM {db}.events WHERE id > {{low:UInt64}} AND message_id IS NOT NULL "
                "ORDER BY id", {"low": max(self.loaded_id - self.dedup_window, 0)})
            for message_id, event_id in zip(recent.column("message_id").to_pylist(),
                                            recent.column("id").to_pylist(), strict=True):
                self._remember(message_id, event_id)
        return rows

    async def write(self, rows: list[Row]) -> list[int]:
        """Store `rows` (every key of the schema but `id`); returns their ids once they are in the log.
        Unavailable when the engine is too far behind for too long, or the server is stopping."""
        if not rows and not self._closing:
            return []
        return await self._submit(rows, len(rows))

    def _remember(self, message_id: str, event_id: int) -> None:
        self._recent[message_id] = event_id
        if len(self._recent) > self.dedup_window:
            del self._recent[next(iter(self._recent))]

    def _prepare(self, items: list[list[Row]]) -> tuple[dict[str, pa.Table], list[list[int]]]:
        """Ids in arrival order; a message_id seen recently (or earlier in these items) gets the id of
        its first copy and is not stored again."""
        self._abandoned_id = self._next_id
        fresh: list[Row] = []
        ids: list[list[int]] = []
        batch_ids: dict[str, int] = {}
        for rows in items:
            mine = []
            for row in rows:
                message_id = row.get("message_id")
                known = None
                if message_id and self.dedup_window:
                    known = batch_ids.get(message_id) or self._recent.get(message_id)
                if known is not None:
                    mine.append(known)
                    continue
                row["id"] = event_id = self._next_id
                self._next_id += 1
                if message_id and self.dedup_window:
                    batch_ids[message_id] = event_id
                fresh.append(row)
                mine.append(event_id)
            ids.append(mine)
        return {"events": pa.Table.from_pylist(fresh, schema=EVENTS_SCHEMA)}, ids

    def _abandon(self) -> None:
        self._next_id = self._abandoned_id  # nothing of this batch was stored: its ids are free again

    def _committed(self, tables: dict[str, pa.Table]) -> None:
        if not self.dedup_window:
            return
        table = tables["events"]
        for message_id, event_id in zip(table.column("message_id").to_pylist(), table.column("id").to_pylist(),
                                        strict=True):
            if message_id:
                self._remember(message_id, event_id)

    def _segment_loaded(self, tables: dict[str, pa.Table], rows: int, seconds: float) -> None:
        ids = tables["events"].column("id")
        if len(ids):
            self.loaded_id = max(self.loaded_id, int(pc.max(ids).as_py()))
        log.debug("loaded %d notifications in %.3fs", rows, seconds)
        if self._on_loaded:
            self._on_loaded(self.loaded_id)
