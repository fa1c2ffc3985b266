"""Drains in the metadata database."""

from __future__ import annotations

import logging
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from vigil.drains.model import Drain, DrainOptions, new_token
from vigil.drains.urls import DrainURL, DrainURLError, parse_drain_url
from vigil.errors import ParamsError
from vigil.storage.drains_tables import log_drains as t
from vigil.storage.metadata import MetadataDB


class _NoStatementParameters(logging.Filter):
    """aiosqlite logs every operation with its SQL parameters at DEBUG, and a drain URL (credentials
    included) is one: those records are dropped, so that `--log-level debug` shows no password."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


logging.getLogger("aiosqlite").addFilter(_NoStatementParameters())


def duplicate(kind: str) -> ParamsError:
    return ParamsError({"url": [f"This {kind} already has a log drain with this URL."]}, status=400)


def _drain(row: sa.Row) -> Drain | None:
    try:
        url = parse_drain_url(row.url)
    except DrainURLError:
        return None  # stored by a version with other rules: skipped rather than failing every start
    return Drain(row.id, row.kind, row.name, url, row.token, DrainOptions(bool(row.tls_skip_verify), row.tls_ca),
                 row.created_at, row.updated_at)


class DrainStore:
    def __init__(self, db: MetadataDB) -> None:
        self.db = db

    async def all(self) -> list[Drain]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(sa.select(t).order_by(t.c.created_at, t.c.id))).all()
        return [d for d in map(_drain, rows) if d is not None]

    async def of(self, kind: str, name: str) -> list[Drain]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(sa.select(t).where(t.c.kind == kind, t.c.name == name)
                                       .order_by(t.c.created_at, t.c.id))).all()
        return [d for d in map(_drain, rows) if d is not None]

    async def get(self, kind: str, name: str, drain_id: str) -> Drain | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.kind == kind, t.c.name == name,
                                                         t.c.id == drain_id))).first()
        return _drain(row) if row is not None else None

    async def insert(self, kind: str, name: str, url: DrainURL, options: DrainOptions, *, per_owner: int,
                     total: int) -> Drain:
        """Store a new drain unless the owner has one with the same URL (400) or a limit is reached (422)."""
        now = time.time()
        drain = Drain(str(uuid.uuid4()), kind, name, url, new_token(), options, now, now)
        async with self.db.begin() as conn:
            if (await conn.execute(sa.select(t.c.id).where(t.c.kind == kind, t.c.name == name,
                                                           t.c.url_key == url.key))).first() is not None:
                raise duplicate(kind)
            owned = (await conn.execute(sa.select(sa.func.count()).select_from(t)
                                        .where(t.c.kind == kind, t.c.name == name))).scalar_one()
            if owned >= per_owner:
                raise ParamsError({"url": [f"This {kind} already has {owned} log drains, the limit."]}, status=422)
            if (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one() >= total:
                raise ParamsError({"url": [f"This server already has {total} log drains, its limit."]}, status=422)
            try:
                await conn.execute(t.insert().values(
                    id=drain.id, kind=kind, name=name, url=url.raw, url_key=url.key, token=drain.token,
                    tls_skip_verify=options.skip_verify, tls_ca=options.ca, created_at=now, updated_at=now))
            except IntegrityError:
                raise duplicate(kind) from None
        return drain

    async def delete(self, kind: str, name: str, drain_id: str) -> bool:
        async with self.db.begin() as conn:
            result = await conn.execute(t.delete().where(t.c.kind == kind, t.c.name == name, t.c.id == drain_id))
        return bool(result.rowcount)
