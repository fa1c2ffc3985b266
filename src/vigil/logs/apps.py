"""Apps exist implicitly: the first line that names an app creates it.

Sources name the app in many ways (a syslog HOSTNAME, a Loggregator source_id, a JSON field), not
all of them valid app names. `app_name` maps such a name onto the app name rule (one DNS label:
lower case, `[a-z0-9-]`, at most 63 characters), e.g. `My_Host.example.com` -> `my-host-example-com`;
a name with nothing usable in it gives None and the line is dropped (counted by the caller).

`KnownApps` remembers which apps exist: in memory for the hot path, and in the metadata database
(`log_apps`) so that every node and a restarted server agree. New apps are written by a background
task a moment after their first line; ingest never waits for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import sqlalchemy as sa

from vigil.logs.model import app_name as app_name  # where it lived first; callers import it from here too
from vigil.storage import logs_tables as t
from vigil.storage.metadata import MetadataDB

log = logging.getLogger(__name__)


class KnownApps:
    def __init__(self, db: MetadataDB, *, flush_interval: float = 1.0, max_cached: int = 100_000) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self.max_cached = max_cached
        self._known: set[str] = set()
        self._new: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def note(self, app: str) -> None:
        """Called for every batch's apps; cheap when the app is known."""
        if app not in self._known:
            if len(self._known) >= self.max_cached:
                self._known.clear()  # re-noting an app is harmless: the insert ignores duplicates
            self._known.add(app)
            if len(self._new) < self.max_cached:
                self._new.add(app)

    async def exists(self, app: str) -> bool:
        if app in self._known:
            return True
        async with self.db.connect() as conn:
            found = (await conn.execute(sa.select(t.log_apps.c.name).where(t.log_apps.c.name == app))).first()
        return found is not None

    async def flush(self) -> None:
        if not self._new:
            return
        new, self._new = self._new, set()
        now = time.time()
        try:
            async with self.db.begin() as conn:
                await conn.execute(t.insert_ignore(conn, t.log_apps, ["name"]),
                                   [{"name": name, "first_seen": now} for name in sorted(new)])
        except Exception:  # the database is down: try again with the next flush
            log.exception("could not record %d new apps", len(new))
            self._new |= new

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-apps")

    async def _run(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.flush_interval)
            await self.flush()

    async def close(self) -> None:
        self._closing = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
