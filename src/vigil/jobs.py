"""Jobs: long operations answered with 202 and a Location the client polls (GET /v1/jobs/:id)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from vigil.errors import VigilError
from vigil.storage import tables
from vigil.storage.metadata import MetadataDB

log = logging.getLogger(__name__)

Progress = Callable[[float], Awaitable[None]]
Work = Callable[[Progress], Awaitable[Any]]


class Jobs:
    def __init__(self, db: MetadataDB) -> None:
        self._db = db
        self._tasks: set[asyncio.Task[None]] = set()

    async def recover(self) -> None:
        """Jobs that were running when the server stopped cannot resume: mark them failed."""
        t = tables.jobs
        async with self._db.begin() as conn:
            await conn.execute(t.update().where(t.c.state.in_(("queued", "working"))).values(
                state="failed", errors={"request": ["interrupted by a server restart; run it again"]},
                updated_at=time.time()))

    async def start(self, kind: str, work: Work) -> int:
        now = time.time()
        t = tables.jobs
        async with self._db.begin() as conn:
            job_id = (await conn.execute(t.insert().values(kind=kind, state="queued", progress=0.0,
                                                           created_at=now, updated_at=now))).inserted_primary_key[0]
        task = asyncio.create_task(self._run(int(job_id), work), name=f"job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return int(job_id)

    async def _set(self, job_id: int, **values: Any) -> None:
        t = tables.jobs
        async with self._db.begin() as conn:
            await conn.execute(t.update().where(t.c.id == job_id).values(updated_at=time.time(), **values))

    async def _run(self, job_id: int, work: Work) -> None:
        async def progress(pct: float) -> None:
            await self._set(job_id, state="working", progress=round(min(max(pct, 0.0), 100.0), 2))

        try:
            await self._set(job_id, state="working", progress=0.0)
            output = await work(progress)
        except VigilError as exc:
            await self._set(job_id, state="failed", errors={exc.kind: exc.errors()})
        except Exception as exc:
            log.exception("job %d failed", job_id)
            await self._set(job_id, state="failed", errors={"system": [str(exc)]})
        else:
            await self._set(job_id, state="complete", progress=100.0, output=output)

    async def get(self, job_id: int) -> dict[str, Any] | None:
        t = tables.jobs
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == job_id))).mappings().first()
        if row is None:
            return None
        job: dict[str, Any] = {"id": row["id"], "state": row["state"]}
        if row["state"] in ("working", "complete") and row["progress"] is not None:
            job["progress"] = row["progress"]
        if row["output"] is not None:
            job["output"] = row["output"]
        if row["errors"] is not None:
            job["errors"] = row["errors"]
        return job

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
