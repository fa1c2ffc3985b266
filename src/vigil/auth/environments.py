"""Environments: named groups of API tokens; a token's environment becomes the `environment` tag of
every measurement it submits (ingest adds it from `Principal.environment`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.auth.tokens import TokenStore
from vigil.errors import Conflict, NotFound, ParamsError, param_error
from vigil.metrics.names import TAG_VALUE
from vigil.storage import tables
from vigil.storage.environments_tables import environments
from vigil.storage.metadata import MetadataDB

ORDERABLE = ("name", "id")


@dataclass(frozen=True, slots=True)
class Environment:
    id: int
    name: str
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": int(self.created_at),
                "updated_at": int(self.updated_at)}


def _row(row: Any) -> Environment:
    return Environment(row["id"], row["name"], row["created_at"], row["updated_at"])


def check_name(name: Any) -> str:
    """An environment's name is a tag value on every measurement of its tokens, so it obeys the tag rules."""
    if not isinstance(name, str) or not name.strip():
        raise param_error("name", "is required")
    if not TAG_VALUE.match(name):
        raise param_error("name", "may only contain letters, digits, space and -.:_?\\/ (1 to 255 characters)")
    return name


class Environments:
    def __init__(self, db: MetadataDB, tokens: TokenStore) -> None:
        self._db = db
        self._tokens = tokens

    async def create(self, name: Any) -> Environment:
        name = check_name(name)
        now = time.time()
        async with self._db.begin() as conn:
            if await self._by_key(conn, name.lower()) is not None:
                raise ParamsError({"name": ["has already been taken"]}, status=422)
            new_id = (await conn.execute(environments.insert().values(
                name=name, name_key=name.lower(), created_at=now, updated_at=now))).inserted_primary_key[0]
        return Environment(int(new_id), name, now, now)

    @staticmethod
    async def _by_key(conn: Any, key: str) -> Environment | None:
        row = (await conn.execute(sa.select(environments).where(environments.c.name_key == key))).mappings().first()
        return _row(row) if row else None

    async def by_name(self, name: str) -> Environment | None:
        async with self._db.connect() as conn:
            return await self._by_key(conn, name.lower())

    async def resolve(self, ident: str) -> Environment:
        """By id (digits) or, failing that, by name: the seed's examples use both in the URL."""
        async with self._db.connect() as conn:
            found = None
            if ident.isdigit() and len(ident) < 18:
                row = (await conn.execute(sa.select(environments).where(
                    environments.c.id == int(ident)))).mappings().first()
                found = _row(row) if row else None
            if found is None:
                found = await self._by_key(conn, ident.lower())
        if found is None:
            raise NotFound(f"Environment {ident} does not exist")
        return found

    async def list(self, *, name: str | None, offset: int, length: int, orderby: str,
                   descending: bool) -> tuple[list[Environment], int, int]:
        t = environments
        where = []
        if name:
            needle = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            where.append(t.c.name_key.like(f"%{needle}%", escape="\\"))
        column = t.c.name_key if orderby == "name" else t.c.id
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            found = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar() or 0
            rows = (await conn.execute(sa.select(t).where(*where).order_by(
                column.desc() if descending else column.asc(), t.c.id).offset(offset).limit(length))).mappings().all()
        return [_row(r) for r in rows], found, total

    async def rename(self, ident: str, name: Any) -> None:
        """Rename, and move the tokens along: their measurements carry the new name from now on."""
        name = check_name(name)
        current = await self.resolve(ident)
        now = time.time()
        async with self._db.begin() as conn:
            other = await self._by_key(conn, name.lower())
            if other is not None and other.id != current.id:
                raise ParamsError({"name": ["has already been taken"]}, status=422)
            await conn.execute(environments.update().where(environments.c.id == current.id).values(
                name=name, name_key=name.lower(), updated_at=now))
            tok = tables.api_tokens
            await conn.execute(tok.update().where(tok.c.environment == current.name).values(
                environment=name, updated_at=now))
        self._tokens.invalidate()

    async def delete(self, ident: str) -> None:
        current = await self.resolve(ident)
        tok = tables.api_tokens
        async with self._db.begin() as conn:
            used = (await conn.execute(sa.select(sa.func.count()).select_from(tok).where(
                tok.c.environment == current.name))).scalar() or 0
            if used:
                raise Conflict(f"Environment {current.name} is used by {used} API token(s); move them to another "
                               "environment or delete them first")
            await conn.execute(environments.delete().where(environments.c.id == current.id))
