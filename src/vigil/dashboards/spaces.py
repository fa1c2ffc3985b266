"""Spaces: named collections of charts. Names are unique regardless of case."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.dashboards.fields import Fields
from vigil.errors import NotFound, ParamsError
from vigil.storage.dashboards_tables import charts, spaces
from vigil.storage.metadata import MetadataDB

ORDERABLE = ("name",)


@dataclass(frozen=True, slots=True)
class Space:
    id: int
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


def _taken() -> ParamsError:
    return ParamsError({"name": ["has already been taken"]}, status=422)


def _name(body: dict[str, Any]) -> str:
    f = Fields(body)
    name = f.text("name", required=True)
    # The official client sends `tags: false` with a new space; it has no meaning here.
    f.boolean("tags")
    f.check()
    return name


class Spaces:
    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    async def create(self, body: dict[str, Any]) -> Space:
        name = _name(body)
        now = time.time()
        try:
            async with self._db.begin() as conn:
                exists = (await conn.execute(sa.select(spaces.c.id).where(
                    spaces.c.name_key == name.lower()))).first()
                if exists:
                    raise _taken()
                new_id = (await conn.execute(spaces.insert().values(
                    name=name, name_key=name.lower(), created_at=now, updated_at=now))).inserted_primary_key[0]
        except sa.exc.IntegrityError:  # a concurrent create won the race for the name
            raise _taken() from None
        return Space(int(new_id), name)

    async def get(self, space_id: int) -> Space:
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(spaces).where(spaces.c.id == space_id))).mappings().first()
        if row is None:
            raise NotFound(f"Space {space_id} does not exist")
        return Space(row["id"], row["name"])

    async def exists(self, space_id: int) -> bool:
        async with self._db.connect() as conn:
            return (await conn.execute(sa.select(spaces.c.id).where(spaces.c.id == space_id))).first() is not None

    async def chart_ids(self, space_id: int) -> list[int]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(charts.c.id).where(charts.c.space_id == space_id)
                                       .order_by(charts.c.id))).all()
        return [r[0] for r in rows]

    async def list(self, *, name: str | None, offset: int, length: int, descending: bool
                   ) -> tuple[list[Space], int, int]:
        """Spaces whose name contains `name` (case-insensitive; `*` is a wildcard)."""
        where = []
        if name:
            needle = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            where.append(spaces.c.name_key.like(f"%{needle}%", escape="\\"))
        order = spaces.c.name_key.desc() if descending else spaces.c.name_key.asc()
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(spaces))).scalar() or 0
            found = (await conn.execute(sa.select(sa.func.count()).select_from(spaces).where(*where))).scalar() or 0
            rows = (await conn.execute(sa.select(spaces).where(*where).order_by(order, spaces.c.id)
                                       .offset(offset).limit(length))).mappings().all()
        return [Space(r["id"], r["name"]) for r in rows], found, total

    async def rename(self, space_id: int, body: dict[str, Any]) -> None:
        await self.get(space_id)
        name = _name(body)
        try:
            async with self._db.begin() as conn:
                other = (await conn.execute(sa.select(spaces.c.id).where(spaces.c.name_key == name.lower()))).first()
                if other and other[0] != space_id:
                    raise _taken()
                await conn.execute(spaces.update().where(spaces.c.id == space_id).values(
                    name=name, name_key=name.lower(), updated_at=time.time()))
        except sa.exc.IntegrityError:
            raise _taken() from None

    async def delete(self, space_id: int) -> None:
        """The space and, by cascade, its charts and their streams."""
        async with self._db.begin() as conn:
            result = await conn.execute(spaces.delete().where(spaces.c.id == space_id))
        if not result.rowcount:
            raise NotFound(f"Space {space_id} does not exist")
