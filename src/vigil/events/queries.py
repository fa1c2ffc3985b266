"""Reads behind the stacky views: raw notifications (telemetry engine) and what was derived from them
(metadata database). Rows come back as plain dicts; `when` is microseconds since the epoch."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from vigil.storage.events_tables import event_reports as rpt
from vigil.storage.events_tables import event_requests as rqt
from vigil.storage.events_tables import event_timings as tmt
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryStore

_LIST_COLS = ("id, routing_key, toUnixTimestamp64Micro(`when`) AS us, deployment, event, host, state, old_state, "
              "old_task, status, instance, request_id, uuid")
_SHOW_COLS = _LIST_COLS + ", publisher, service, json"

# Fields `search/` may filter on, per kind (StackTach's model fields), and how a value is typed.
_COMMON = {"id": "UInt64", "deployment": "UInt32", "json": "String", "routing_key": "String", "when": "when",
           "publisher": "String", "event": "String", "service": "String", "host": "String", "instance": "String",
           "request_id": "String"}
SEARCHABLE: dict[str, dict[str, str]] = {
    "nova": {**_COMMON, "tenant": "String", "state": "String", "old_state": "String", "old_task": "String",
             "task": "String", "image_type": "UInt32"},
    "glance": {**_COMMON, "owner": "String", "uuid": "String", "status": "String", "image_type": "UInt32"},
    "generic": {**_COMMON, "tenant": "String", "message_id": "String"},
}


def _rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


class EventQueries:
    def __init__(self, store: TelemetryStore, db: MetadataDB) -> None:
        self.store = store
        self.db = db

    @property
    def _t(self) -> str:
        return f"{self.store.database}.events"

    # -- raw notifications --------------------------------------------------------------------------

    async def event_names(self, kind: str, limit: int) -> list[str]:
        table = await self.store.query_arrow(
            f"SELECT DISTINCT event FROM {self._t} WHERE kind = {{kind:String}} ORDER BY event LIMIT {{n:UInt64}}",
            {"kind": kind, "n": limit})
        return table.column("event").to_pylist()  # type: ignore[no-any-return]

    async def hosts(self, kind: str, limit: int) -> list[str]:
        table = await self.store.query_arrow(
            f"SELECT DISTINCT host FROM {self._t} WHERE kind = {{kind:String}} AND host IS NOT NULL "
            "ORDER BY host LIMIT {n:UInt64}", {"kind": kind, "n": limit})
        return table.column("host").to_pylist()  # type: ignore[no-any-return]

    @staticmethod
    def _when_filter(when_min: int | None, when_max: int | None, params: dict[str, Any]) -> str:
        sql = ""
        if when_min is not None:
            sql += " AND `when` >= fromUnixTimestamp64Micro({wmin:Int64}, 'UTC')"
            params["wmin"] = when_min
        if when_max is not None:
            sql += " AND `when` <= fromUnixTimestamp64Micro({wmax:Int64}, 'UTC')"
            params["wmax"] = when_max
        return sql

    async def by_instance(self, kind: str, uuid: str, *, when_min: int | None, when_max: int | None, offset: int,
                          limit: int) -> list[dict[str, Any]]:
        column = "uuid" if kind == "glance" else "instance"
        params: dict[str, Any] = {"kind": kind, "v": uuid, "o": offset, "n": limit}
        where = self._when_filter(when_min, when_max, params)
        return _rows(await self.store.query_arrow(
            f"SELECT {_LIST_COLS} FROM {self._t} WHERE kind = {{kind:String}} AND {column} = {{v:String}}{where} "
            "ORDER BY `when`, id LIMIT {n:UInt64} OFFSET {o:UInt64}", params))

    async def by_request(self, request_id: str, *, when_min: int | None, when_max: int | None, offset: int,
                         limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"v": request_id, "o": offset, "n": limit}
        where = self._when_filter(when_min, when_max, params)
        return _rows(await self.store.query_arrow(
            f"SELECT {_LIST_COLS} FROM {self._t} WHERE kind = 'nova' AND request_id = {{v:String}}{where} "
            "ORDER BY `when`, id LIMIT {n:UInt64} OFFSET {o:UInt64}", params))

    async def by_id(self, kind: str, event_id: int) -> dict[str, Any] | None:
        rows = _rows(await self.store.query_arrow(
            f"SELECT {_SHOW_COLS} FROM {self._t} WHERE kind = {{kind:String}} AND id = {{id:UInt64}} LIMIT 1",
            {"kind": kind, "id": event_id}))
        return rows[0] if rows else None

    async def watch(self, kind: str, *, deployment: int, event_name: str | None, since: int, until: int,
                    limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"kind": kind, "since": since, "until": until, "n": limit}
        where = ""
        if deployment > 0:
            where += " AND deployment = {dep:UInt32}"
            params["dep"] = deployment
        if event_name:
            where += " AND event = {ev:String}"
            params["ev"] = event_name
        return _rows(await self.store.query_arrow(
            f"SELECT {_LIST_COLS} FROM {self._t} WHERE kind = {{kind:String}} "
            "AND `when` > fromUnixTimestamp64Micro({since:Int64}, 'UTC') "
            f"AND `when` <= fromUnixTimestamp64Micro({{until:Int64}}, 'UTC'){where} "
            "ORDER BY `when`, id LIMIT {n:UInt64}", params))

    async def search(self, kind: str, field: str, value: Any, *, when_min: int | None, when_max: int | None,
                     offset: int, limit: int) -> list[dict[str, Any]]:
        kind_of = SEARCHABLE[kind][field]  # the caller checked the field against this whitelist
        params: dict[str, Any] = {"kind": kind, "v": value, "o": offset, "n": limit}
        if kind_of == "when":
            condition = "`when` = fromUnixTimestamp64Micro({v:Int64}, 'UTC')"
        else:
            condition = f"{field} = {{v:{kind_of}}}"
        where = self._when_filter(when_min, when_max, params)
        return _rows(await self.store.query_arrow(
            f"SELECT {_LIST_COLS} FROM {self._t} WHERE kind = {{kind:String}} AND {condition}{where} "
            "ORDER BY `when` DESC, id DESC LIMIT {n:UInt64} OFFSET {o:UInt64}", params))

    async def tenant_seen(self, tenant: str) -> bool:
        table = await self.store.query_arrow(
            f"SELECT 1 AS found FROM {self._t} WHERE kind = 'nova' AND tenant = {{t:String}} LIMIT 1", {"t": tenant})
        return table.num_rows > 0

    # -- derived: timings, requests, reports ---------------------------------------------------------

    async def timings_for_instance(self, uuid: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
        query = (sa.select(tmt.c.name, tmt.c.start_raw_id, tmt.c.end_raw_id, tmt.c.diff)
                 .where(tmt.c.instance == uuid)
                 .order_by(sa.func.coalesce(tmt.c.start_when, tmt.c.end_when), tmt.c.id)
                 .offset(offset).limit(limit))
        async with self.db.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def timings_named(self, name: str, *, end_min: int | None, end_max: int | None, offset: int,
                            limit: int) -> list[tuple[str, int]]:
        query = sa.select(tmt.c.instance, tmt.c.diff).where(
            tmt.c.name == name, tmt.c.start_raw_id.is_not(None), tmt.c.end_raw_id.is_not(None))
        if end_min is not None:
            query = query.where(tmt.c.end_when >= end_min)
        if end_max is not None:
            query = query.where(tmt.c.end_when <= end_max)
        query = query.order_by(tmt.c.diff, tmt.c.id).offset(offset).limit(limit)
        async with self.db.connect() as conn:
            return [(r[0], r[1]) for r in (await conn.execute(query)).all()]

    async def summary(self, *, instance: str | None, offset: int, limit: int,
                      max_names: int = 1000) -> list[tuple[str, int, int, int, int]]:
        """(name, n, min, max, sum) over the first `limit` complete, non-negative timings of each name
        (after `offset`, in the order they were recorded), as the original sliced each name's timings.
        One small query per name: each walks the (name, id) index for just its slice."""
        # `diff` is set exactly when both halves are known. Written as an expression, the condition
        # keeps SQLite off the (name, diff) index, so that it walks (name, id) and stops at the slice.
        complete = [sa.func.coalesce(tmt.c.diff, -1) >= 0]
        known = [tmt.c.diff.is_not(None)]
        if instance is not None:
            complete.append(tmt.c.instance == instance)
            known.append(tmt.c.instance == instance)
        names = sa.select(tmt.c.name).where(*known).distinct().order_by(tmt.c.name).limit(max_names)
        out = []
        async with self.db.connect() as conn:
            for (name,) in (await conn.execute(names)).all():
                part = (sa.select(tmt.c.diff).where(tmt.c.name == name, *complete).order_by(tmt.c.id)
                        .offset(offset).limit(limit).subquery())
                n, low, high, total = (await conn.execute(sa.select(
                    sa.func.count(), sa.func.min(part.c.diff), sa.func.max(part.c.diff),
                    sa.func.sum(part.c.diff)))).one()
                if n:
                    out.append((name, int(n), int(low), int(high), int(total)))
        return out

    async def kpi(self, *, since: int, tenant: str | None, offset: int, limit: int) -> list[dict[str, Any]]:
        query = sa.select(rqt.c.timing_name, rqt.c.duration, rqt.c.instance, rqt.c.end_deployment_id).where(
            rqt.c.end_raw_id.is_not(None), rqt.c.start_when >= since)
        if tenant is not None:
            query = query.where(rqt.c.end_tenant == tenant)
        query = query.order_by(rqt.c.duration, rqt.c.request_id).offset(offset).limit(limit)
        async with self.db.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def reports(self, *, created_from: float, created_to: float, offset: int,
                      limit: int) -> list[dict[str, Any]]:
        query = (sa.select(rpt.c.id, rpt.c.period_start, rpt.c.period_end, rpt.c.created, rpt.c.name, rpt.c.version)
                 .where(rpt.c.created >= created_from, rpt.c.created <= created_to)
                 .order_by(rpt.c.id).offset(offset).limit(limit))
        async with self.db.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def report(self, report_id: int) -> str | None:
        async with self.db.connect() as conn:
            return (await conn.execute(sa.select(rpt.c.json).where(rpt.c.id == report_id))).scalar()  # type: ignore[no-any-return]
