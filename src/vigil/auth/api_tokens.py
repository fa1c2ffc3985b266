"""The API token resource: list, find by name pattern, create, update, delete.

Secrets are made by `TokenStore` (any `token` sent is ignored); every change drops its
authentication cache so that a deactivated or deleted token stops working at once. The last
active admin token can be neither deactivated, demoted nor deleted: that would lock everyone out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from vigil.auth.environments import Environments
from vigil.auth.roles import Role
from vigil.auth.tokens import TokenStore
from vigil.dashboards.fields import Fields, given
from vigil.errors import Conflict, NotFound
from vigil.metrics.properties import UNSET
from vigil.storage import tables
from vigil.storage.metadata import MetadataDB

ORDERABLE = ("id", "name", "created_at")
ROLES = tuple(r.value for r in Role)


def seed_time(epoch: float) -> str:
    """The seed's token timestamps: `2013-02-01 18:53:38 UTC`."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str | None
    token: str | None  # None for a token configured by the operator: only its digest is kept
    active: bool
    role: str
    environment: str | None
    created_at: float
    updated_at: float

    def to_json(self, href: str) -> dict[str, Any]:
        return {"name": self.name, "token": self.token, "active": self.active, "role": self.role,
                "environment": self.environment, "href": href, "created_at": seed_time(self.created_at),
                "updated_at": seed_time(self.updated_at)}


def _row(row: Any) -> ApiToken:
    return ApiToken(row["id"], row["name"], row["token"], bool(row["active"]), row["role"], row["environment"],
                    row["created_at"], row["updated_at"])


def _like(pattern: str) -> str:
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


class ApiTokens:
    def __init__(self, db: MetadataDB, tokens: TokenStore, environments: Environments) -> None:
        self._db = db
        self._tokens = tokens
        self._environments = environments
        # Serialises the changes that could remove the last admin on this node; the count and the
        # change share one transaction as well.
        self._admin_guard = asyncio.Lock()

    async def _fields(self, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        f = Fields(body)
        name = f.text("name", required=creating, nullable=not creating)
        role = f.choice("role", ROLES, required=creating, nullable=False)
        active = f.boolean("active", nullable=False)
        environment = f.text("environment")
        f.check()
        if isinstance(environment, str):
            found = await self._environments.by_name(environment)
            if found is None:
                f.fail("environment", f"no environment is named {environment}; create it first")
                f.check()
            assert found is not None
            environment = found.name
        values = {"name": name, "role": role, "active": active, "environment": environment}
        return {k: v for k, v in values.items() if v is not UNSET}

    async def create(self, body: dict[str, Any]) -> ApiToken:
        values = await self._fields(body, creating=True)
        token_id, _ = await self._tokens.create(
            name=values["name"], role=Role(values["role"]), active=given(values.get("active", UNSET), True),
            environment=values.get("environment"))
        return await self.get(token_id)

    async def get(self, token_id: int) -> ApiToken:
        t = tables.api_tokens
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == token_id))).mappings().first()
        if row is None:
            raise NotFound(f"API token {token_id} does not exist")
        return _row(row)

    async def list(self, *, name: str | None, offset: int, length: int, orderby: str,
                   descending: bool) -> tuple[list[ApiToken], int, int]:
        """`name` is a case-insensitive pattern over the whole name; `*` matches anything."""
        t = tables.api_tokens
        where = [sa.func.lower(t.c.name).like(_like(name), escape="\\")] if name else []
        column = sa.func.lower(t.c.name) if orderby == "name" else getattr(t.c, orderby)
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            found = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar() or 0
            rows = (await conn.execute(sa.select(t).where(*where).order_by(
                column.desc() if descending else column.asc(), t.c.id).offset(offset).limit(length))).mappings().all()
        return [_row(r) for r in rows], found, total

    @staticmethod
    async def _other_active_admins(conn: Any, token_id: int) -> int:
        t = tables.api_tokens
        return (await conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.role == Role.ADMIN.value, t.c.active.is_(True), t.c.id != token_id))).scalar() or 0

    async def update(self, token_id: int, body: dict[str, Any]) -> ApiToken:
        values = await self._fields(body, creating=False)
        t = tables.api_tokens
        async with self._admin_guard, self._db.begin() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == token_id).with_for_update())).mappings().first()
            if row is None:
                raise NotFound(f"API token {token_id} does not exist")
            current = _row(row)
            stays_admin = values.get("role", current.role) == Role.ADMIN.value and values.get("active", current.active)
            if current.role == Role.ADMIN.value and current.active and not stays_admin \
                    and not await self._other_active_admins(conn, token_id):
                raise Conflict("This is the last active admin token: create or activate another admin token "
                               "before deactivating or demoting it")
            if values:
                await conn.execute(t.update().where(t.c.id == token_id).values(updated_at=time.time(), **values))
        self._tokens.invalidate()
        return await self.get(token_id)

    async def delete(self, token_id: int) -> None:
        t = tables.api_tokens
        async with self._admin_guard, self._db.begin() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == token_id).with_for_update())).mappings().first()
            if row is None:
                raise NotFound(f"API token {token_id} does not exist")
            current = _row(row)
            if current.role == Role.ADMIN.value and current.active \
                    and not await self._other_active_admins(conn, token_id):
                raise Conflict("This is the last active admin token: create or activate another admin token "
                               "before deleting it")
            await conn.execute(t.delete().where(t.c.id == token_id))
        self._tokens.invalidate()
