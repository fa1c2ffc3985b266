"""Scrape targets in the metadata database."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from vigil.prom.targets import TargetSpec
from vigil.storage.metadata import MetadataDB
from vigil.storage.prom_tables import scrape_targets as t

API = "api"
CONFIG = "config"


@dataclass(frozen=True)
class Target:
    id: int
    spec: TargetSpec
    source: str
    created_at: float


def _target(row: sa.Row) -> Target:
    spec = TargetSpec(url=row.url, job=row.job, interval=row.interval, timeout=row.timeout,
                      labels=dict(row.labels or {}))
    return Target(row.id, spec, row.source, row.created_at)


class TargetStore:
    def __init__(self, db: MetadataDB) -> None:
        self.db = db

    async def all(self) -> list[Target]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(sa.select(t).order_by(t.c.id))).all()
        return [_target(r) for r in rows]

    async def get(self, target_id: int) -> Target | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == target_id))).first()
        return _target(row) if row else None

    async def find(self, url: str, job: str) -> Target | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.url == url, t.c.job == job))).first()
        return _target(row) if row else None

    async def count(self) -> int:
        async with self.db.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0)

    async def insert(self, spec: TargetSpec, source: str) -> Target:
        now = time.time()
        async with self.db.begin() as conn:
            result = await conn.execute(t.insert().values(url=spec.url, job=spec.job, interval=spec.interval,
                                                          timeout=spec.timeout, labels=spec.labels, source=source,
                                                          created_at=now))
            new_id = int(result.inserted_primary_key[0])
        return Target(new_id, spec, source, now)

    async def delete(self, target_id: int) -> bool:
        async with self.db.begin() as conn:
            result = await conn.execute(t.delete().where(t.c.id == target_id))
        return bool(result.rowcount)

    async def sync_config(self, specs: list[TargetSpec]) -> None:
        """Make the configured targets in the table exactly `specs`: a target whose settings are
        unchanged keeps its id; one that is no longer configured goes. A configured target with the
        url and job of an API target replaces it."""
        wanted = {(s.url, s.job): s for s in specs}
        async with self.db.begin() as conn:
            rows = (await conn.execute(sa.select(t))).all()
            for row in rows:
                spec = wanted.get((row.url, row.job))
                if row.source == CONFIG and spec is None:
                    await conn.execute(t.delete().where(t.c.id == row.id))
                elif spec is not None:
                    if row.source == CONFIG and _target(row).spec == spec:
                        del wanted[(row.url, row.job)]
                    else:
                        await conn.execute(t.delete().where(t.c.id == row.id))
            now = time.time()
            for spec in wanted.values():
                await conn.execute(t.insert().values(url=spec.url, job=spec.job, interval=spec.interval,
                                                     timeout=spec.timeout, labels=spec.labels, source=CONFIG,
                                                     created_at=now))
