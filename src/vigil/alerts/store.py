"""Alerts, services, state and history in the metadata DB (SQLite or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from vigil.alerts.model import Alert, AlertSpec, Condition, ConditionSpec, Service, ServiceSpec
from vigil.alerts.state import AlertState
from vigil.errors import ParamsError, RequestError
from vigil.storage.alerts_tables import (
    alert_conditions,
    alert_engine,
    alert_history,
    alert_service_links,
    alert_states,
    alerts,
    notification_services,
)
from vigil.storage.metadata import MetadataDB

ALERT_ORDER = ("updated_at",)
SERVICE_ORDER = ("title", "updated_at")


def _taken() -> ParamsError:
    return ParamsError({"name": ["has already been taken"]}, status=422)


def _service(row: Any) -> Service:
    return Service(row["id"], row["type"], row["title"], dict(row["settings"] or {}), row["created_at"],
                   row["updated_at"])


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _upsert(conn: Any, table: sa.Table, values: dict[str, Any], key: str) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(values)
    return conn.execute(stmt.on_conflict_do_update(index_elements=[key],
                                                   set_={k: v for k, v in values.items() if k != key}))


class AlertStore:
    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    # -- services ---------------------------------------------------------------------------------

    async def create_service(self, spec: ServiceSpec, limit: int) -> Service:
        now = time.time()
        t = notification_services
        async with self._db.begin() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            if count >= limit:
                raise RequestError(f"At most {limit} services may exist (max_services)")
            new_id = (await conn.execute(t.insert().values(type=spec.type, title=spec.title, settings=spec.settings,
                                                           created_at=now, updated_at=now))).inserted_primary_key[0]
        return Service(int(new_id), spec.type, spec.title, spec.settings, now, now)

    async def get_service(self, service_id: int) -> Service | None:
        found = await self.get_services([service_id])
        return found.get(service_id)

    async def get_services(self, ids: Iterable[int]) -> dict[int, Service]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        t = notification_services
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(t).where(t.c.id.in_(wanted)))).mappings().all()
        return {row["id"]: _service(row) for row in rows}

    async def list_services(self, offset: int, length: int, orderby: str, descending: bool
                            ) -> tuple[list[Service], int, int]:
        t = notification_services
        column = t.c[orderby]
        order = [column.desc() if descending else column.asc(), t.c.id.desc() if descending else t.c.id.asc()]
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            rows = (await conn.execute(sa.select(t).order_by(*order).offset(offset).limit(length))).mappings().all()
        return [_service(r) for r in rows], total, total

    async def update_service(self, service_id: int, spec: ServiceSpec) -> None:
        t = notification_services
        async with self._db.begin() as conn:
            await conn.execute(t.update().where(t.c.id == service_id).values(
                type=spec.type, title=spec.title, settings=spec.settings, updated_at=time.time()))

    async def delete_service(self, service_id: int) -> list[int]:
        """Delete the service and unlink it from its alerts; returns those alerts' ids."""
        links = alert_service_links
        async with self._db.begin() as conn:
            alert_ids = list((await conn.execute(sa.select(links.c.alert_id).where(
                links.c.service_id == service_id))).scalars())
            await conn.execute(links.delete().where(links.c.service_id == service_id))
            await conn.execute(notification_services.delete().where(notification_services.c.id == service_id))
            if alert_ids:
                await conn.execute(alerts.update().where(alerts.c.id.in_(alert_ids)).values(updated_at=time.time()))
        return alert_ids

    # -- alerts -----------------------------------------------------------------------------------

    async def _assemble(self, conn: Any, rows: list[Any]) -> list[Alert]:
        ids = [r["id"] for r in rows]
        conditions: dict[int, list[Condition]] = {i: [] for i in ids}
        services: dict[int, list[int]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            c = alert_conditions
            for row in (await conn.execute(sa.select(c).where(c.c.alert_id.in_(chunk)).order_by(
                    c.c.alert_id, c.c.position))).mappings():
                conditions[row["alert_id"]].append(Condition(row["id"], ConditionSpec.from_stored(row["spec"]),
                                                             row["created_at"]))
            lk = alert_service_links
            for row in (await conn.execute(sa.select(lk).where(lk.c.alert_id.in_(chunk)).order_by(
                    lk.c.alert_id, lk.c.position))).mappings():
                services[row["alert_id"]].append(row["service_id"])
        return [Alert(id=r["id"], name=r["name"], description=r["description"],
                      conditions=tuple(conditions[r["id"]]), service_ids=tuple(services[r["id"]]),
                      attributes=dict(r["attributes"] or {}), active=bool(r["active"]),
                      rearm_seconds=r["rearm_seconds"], rearm_per_signal=bool(r["rearm_per_signal"]),
                      md=bool(r["md"]), version=r["version"], created_at=r["created_at"], updated_at=r["updated_at"])
                for r in rows]

    async def _missing_services(self, conn: Any, ids: list[int]) -> list[int]:
        if not ids:
            return []
        t = notification_services
        found = set((await conn.execute(sa.select(t.c.id).where(t.c.id.in_(ids)))).scalars())
        return [i for i in ids if i not in found]

    async def _write_children(self, conn: Any, alert_id: int, conditions: list[ConditionSpec],
                              previous: tuple[Condition, ...], service_ids: list[int], now: float) -> None:
        # An unchanged condition keeps its id and its start of tracking; the rest are new.
        reusable = list(previous)
        kept: list[tuple[int, Condition]] = []
        new: list[tuple[int, ConditionSpec]] = []
        for position, spec in enumerate(conditions):
            match = next((c for c in reusable if c.spec == spec), None)
            if match is not None:
                reusable.remove(match)
                kept.append((position, match))
            else:
                new.append((position, spec))
        c = alert_conditions
        if reusable:
            await conn.execute(c.delete().where(c.c.id.in_([x.id for x in reusable])))
        for position, cond in kept:
            await conn.execute(c.update().where(c.c.id == cond.id).values(position=position))
        for position, spec in new:
            await conn.execute(c.insert().values(alert_id=alert_id, position=position, spec=spec.to_stored(),
                                                 created_at=now))
        lk = alert_service_links
        await conn.execute(lk.delete().where(lk.c.alert_id == alert_id))
        if service_ids:
            await conn.execute(lk.insert(), [{"alert_id": alert_id, "service_id": s, "position": i}
                                             for i, s in enumerate(service_ids)])

    def _values(self, spec: AlertSpec) -> dict[str, Any]:
        return {"name": spec.name, "name_key": spec.name.lower(), "description": spec.description,
                "attributes": spec.attributes, "active": spec.active, "rearm_seconds": spec.rearm_seconds,
                "rearm_per_signal": spec.rearm_per_signal, "md": spec.md, "version": spec.version}

    async def _check(self, conn: Any, spec: AlertSpec, alert_id: int | None) -> None:
        t = alerts
        query = sa.select(t.c.id).where(t.c.name_key == spec.name.lower())
        if alert_id is not None:
            query = query.where(t.c.id != alert_id)
        if (await conn.execute(query)).first() is not None:
            raise _taken()
        missing = await self._missing_services(conn, spec.service_ids)
        if missing:
            raise ParamsError({"services": [f"service {m} does not exist" for m in missing]})

    async def create_alert(self, spec: AlertSpec, limit: int) -> Alert:
        now = time.time()
        try:
            async with self._db.begin() as conn:
                count = (await conn.execute(sa.select(sa.func.count()).select_from(alerts))).scalar() or 0
                if count >= limit:
                    raise RequestError(f"At most {limit} alerts may exist (max_alerts)")
                await self._check(conn, spec, None)
                new_id = (await conn.execute(alerts.insert().values(
                    **self._values(spec), created_at=now, updated_at=now))).inserted_primary_key[0]
                await self._write_children(conn, int(new_id), spec.conditions, (), spec.service_ids, now)
        except IntegrityError:  # a concurrent create took the name
            raise _taken() from None
        found = await self.get_alert(int(new_id))
        assert found is not None
        return found

    async def update_alert(self, current: Alert, spec: AlertSpec) -> Alert:
        now = time.time()
        try:
            async with self._db.begin() as conn:
                await self._check(conn, spec, current.id)
                result = await conn.execute(alerts.update().where(alerts.c.id == current.id).values(
                    **self._values(spec), updated_at=now))
                if result.rowcount == 0:
                    raise RequestError("The alert was deleted meanwhile")
                await self._write_children(conn, current.id, spec.conditions, current.conditions, spec.service_ids,
                                           now)
        except IntegrityError:
            raise _taken() from None
        found = await self.get_alert(current.id)
        assert found is not None
        return found

    async def get_alert(self, alert_id: int) -> Alert | None:
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(alerts).where(alerts.c.id == alert_id))).mappings().all()
            found = await self._assemble(conn, list(rows))
        return found[0] if found else None

    async def find_alert(self, ref: str) -> Alert | None:
        """By id when `ref` is a number naming an existing alert, else by name (case-insensitive)."""
        if ref.isdigit() and len(ref) < 16:
            found = await self.get_alert(int(ref))
            if found is not None:
                return found
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(alerts).where(alerts.c.name_key == ref.lower()))).mappings().all()
            found_all = await self._assemble(conn, list(rows))
        return found_all[0] if found_all else None

    async def list_alerts(self, name: str | None, offset: int, length: int, orderby: str, descending: bool
                          ) -> tuple[list[Alert], int, int]:
        t = alerts
        where = t.c.name_key.like(_like(name), escape="\\") if name else sa.true()
        column = t.c[orderby]
        order = [column.desc() if descending else column.asc(), t.c.id.desc() if descending else t.c.id.asc()]
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            found = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(where))).scalar() or 0
            rows = (await conn.execute(sa.select(t).where(where).order_by(*order).offset(offset).limit(
                length))).mappings().all()
            page = await self._assemble(conn, list(rows))
        return page, found, total

    async def all_alerts(self) -> list[Alert]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(alerts).order_by(alerts.c.id))).mappings().all()
            return await self._assemble(conn, list(rows))

    async def delete_alert(self, alert_id: int) -> None:
        async with self._db.begin() as conn:
            # Children explicitly too: SQLite enforces ON DELETE CASCADE only with foreign_keys on.
            for table in (alert_history, alert_states, alert_service_links, alert_conditions):
                await conn.execute(table.delete().where(table.c.alert_id == alert_id))
            await conn.execute(alerts.delete().where(alerts.c.id == alert_id))

    async def link_service(self, alert_id: int, service_id: int) -> bool:
        """Add the service to the alert's list; False when it already was there."""
        lk = alert_service_links
        async with self._db.begin() as conn:
            present = list((await conn.execute(sa.select(lk.c.service_id).where(lk.c.alert_id == alert_id)
                                               )).scalars())
            if service_id in present:
                return False
            await conn.execute(lk.insert().values(alert_id=alert_id, service_id=service_id, position=len(present)))
            await conn.execute(alerts.update().where(alerts.c.id == alert_id).values(updated_at=time.time()))
        return True

    async def unlink_service(self, alert_id: int, service_id: int) -> bool:
        lk = alert_service_links
        async with self._db.begin() as conn:
            result = await conn.execute(lk.delete().where(lk.c.alert_id == alert_id, lk.c.service_id == service_id))
            if result.rowcount:
                await conn.execute(alerts.update().where(alerts.c.id == alert_id).values(updated_at=time.time()))
        return bool(result.rowcount)

    # -- state and history --------------------------------------------------------------------------

    async def load_states(self) -> dict[int, AlertState]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(alert_states))).mappings().all()
        return {row["alert_id"]: AlertState.from_row(row) for row in rows}

    async def save(self, states: dict[int, AlertState], history: list[dict[str, Any]], keep_history: int,
                   heartbeat: float | None) -> None:
        now = time.time()
        async with self._db.begin() as conn:
            existing = set((await conn.execute(sa.select(alerts.c.id).where(alerts.c.id.in_(
                list(states) + [h["alert_id"] for h in history])))).scalars()) if states or history else set()
            for alert_id, state in states.items():
                if alert_id in existing:
                    await _upsert(conn, alert_states, {"alert_id": alert_id, **state.to_row(), "updated_at": now},
                                  "alert_id")
            rows = [h for h in history if h["alert_id"] in existing]
            if rows:
                await conn.execute(alert_history.insert(), rows)
                h = alert_history
                for alert_id in {r["alert_id"] for r in rows}:
                    cutoff = (await conn.execute(sa.select(h.c.id).where(h.c.alert_id == alert_id).order_by(
                        h.c.id.desc()).offset(keep_history).limit(1))).scalar()
                    if cutoff is not None:
                        await conn.execute(h.delete().where(h.c.alert_id == alert_id, h.c.id <= cutoff))
            if heartbeat is not None:
                await _upsert(conn, alert_engine, {"name": "heartbeat", "at": heartbeat}, "name")

    async def history(self, alert_id: int, limit: int) -> list[dict[str, Any]]:
        h = alert_history
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(h).where(h.c.alert_id == alert_id).order_by(h.c.id.desc()).limit(
                limit))).mappings().all()
        return [{"event": r["event"], "at": int(r["at"]), **(r["detail"] or {})} for r in rows]

    async def heartbeat(self) -> float | None:
        async with self._db.connect() as conn:
            return (await conn.execute(sa.select(alert_engine.c.at).where(alert_engine.c.name == "heartbeat"))
                    ).scalar()
