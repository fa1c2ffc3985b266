"""The metadata database: SQLite in the data dir by default, PostgreSQL to scale out."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from vigil.storage import tables

log = logging.getLogger(__name__)

Migration = Callable[[AsyncConnection], Awaitable[None]]


async def _v1_initial(conn: AsyncConnection) -> None:
    for table in (tables.api_tokens, tables.metrics, tables.jobs):
        await conn.run_sync(table.create, checkfirst=True)


# Each concept owns an append-only list; a migration that has shipped is never edited.
CORE: list[Migration] = [_v1_initial]


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers run beside the one writer; NORMAL is durable across a process crash.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class MetadataDB:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(url)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    def begin(self):  # type: ignore[no-untyped-def]
        return self.engine.begin()

    def connect(self):  # type: ignore[no-untyped-def]
        return self.engine.connect()

    async def migrate(self, components: dict[str, list[Migration]]) -> None:
        """Run every component's migrations that have not run yet, each in its own transaction."""
        v = tables.schema_version
        async with self.engine.begin() as conn:
            await conn.run_sync(v.create, checkfirst=True)
        for component, migrations in components.items():
            async with self.engine.begin() as conn:
                current = (await conn.execute(sa.select(sa.func.max(v.c.version)).where(
                    v.c.component == component))).scalar() or 0
                for version, migration in enumerate(migrations, start=1):
                    if version <= current:
                        continue
                    await migration(conn)
                    await conn.execute(v.insert().values(component=component, version=version,
                                                         applied_at=time.time()))
                    log.info("metadata schema of %s migrated to version %d", component, version)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception:  # any driver error means "not reachable" for the health check
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
