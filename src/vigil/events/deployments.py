"""Deployments (StackTach's regions or cells): a name and the small integer id the views show."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa

from vigil.errors import ParamsError
from vigil.events.extract import valid_deployment_name
from vigil.storage.events_tables import event_deployments as t
from vigil.storage.metadata import MetadataDB


class Deployments:
    """Every deployment is kept in memory: there are few, and every view row names one."""

    def __init__(self, db: MetadataDB, *, limit: int) -> None:
        self._db = db
        self.limit = limit
        self._by_name: dict[str, int] = {}
        self._by_id: dict[int, str] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(t.c.id, t.c.name))).all()
        self._by_name = {name: int(i) for i, name in rows}
        self._by_id = {int(i): name for i, name in rows}

    def name(self, deployment_id: int) -> str:
        return self._by_id.get(deployment_id, f"#{deployment_id}")

    def get(self, name: str) -> int | None:
        return self._by_name.get(name)

    def all(self) -> list[tuple[int, str]]:
        """(id, name) ordered by name."""
        return sorted(self._by_id.items(), key=lambda item: (item[1], item[0]))

    async def ensure(self, name: str) -> int:
        """The id of `name`, created on first use. ParamsError for a bad name or too many deployments."""
        found = self._by_name.get(name)
        if found is not None:
            return found
        if not valid_deployment_name(name):
            raise ParamsError({"deployment": ["must be 1-100 letters, digits or . _ - : @ / +"]})
        async with self._lock:
            found = self._by_name.get(name)
            if found is not None:
                return found
            if len(self._by_name) >= self.limit:
                raise ParamsError({"deployment": [f"at most {self.limit} deployments can exist"]})
            async with self._db.begin() as conn:
                existing = (await conn.execute(sa.select(t.c.id).where(t.c.name == name))).scalar()
                if existing is None:
                    existing = (await conn.execute(t.insert().values(name=name, created_at=time.time()))
                                ).inserted_primary_key[0]
            new_id = int(existing)
            self._by_name[name] = new_id
            self._by_id[new_id] = name
            return new_id
