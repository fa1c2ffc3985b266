"""Drains as a service: create, list, delete (stored in the metadata database) and one worker each.

At start every stored drain gets its worker, subscribed from then on: a drain delivers the lines
that arrive after it starts, so after a restart it picks up with new lines. A background task runs
every second: it lets stuck workers report dropped lines (the L10 notice) and, every
`drain_refresh` seconds, re-reads the drains (drains created or deleted through another node) and
the members of sites with drains (a PUT /sites/{site} changes whose lines a site drain delivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from vigil.config import Settings
from vigil.drains.http import HttpWorker
from vigil.drains.model import APP, SITE, Drain, parse_request
from vigil.drains.store import DrainStore
from vigil.drains.urls import HTTP, HTTPS, SYSLOG_UDP
from vigil.drains.worker import DrainWorker, SyslogWorker, UdpWorker
from vigil.errors import NotFound
from vigil.logs.pipeline import LogPipeline
from vigil.logs.sites import Sites
from vigil.storage.metadata import MetadataDB

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 2.0  # seconds a connected drain has at shutdown to deliver its buffer


def make_worker(drain: Drain, apps: list[str], pipeline: LogPipeline, settings: Settings) -> DrainWorker:
    scheme = drain.url.scheme
    if scheme in (HTTP, HTTPS):
        return HttpWorker(drain, apps, pipeline, settings)
    if scheme == SYSLOG_UDP:
        return UdpWorker(drain, apps, pipeline, settings)
    return SyslogWorker(drain, apps, pipeline, settings)


def not_found(kind: str, drain_id: str) -> NotFound:
    return NotFound(f"The specified log drain {drain_id[:64]} does not exist on this {kind}.")


class DrainManager:
    def __init__(self, settings: Settings, metadata: MetadataDB, pipeline: LogPipeline, sites: Sites) -> None:
        self.settings = settings
        self.store = DrainStore(metadata)
        self.pipeline = pipeline
        self.sites = sites
        self.workers: dict[str, DrainWorker] = {}
        self._lock = asyncio.Lock()  # one change at a time: limits are counted, then the row inserted
        self._ticker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self.resync()
        self._ticker = asyncio.create_task(self._tick(), name="drain ticker")

    async def close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        workers, self.workers = list(self.workers.values()), {}
        # Connected drains get a moment to deliver what they hold; dead ones are not waited for.
        await asyncio.gather(*(w.finish(SHUTDOWN_GRACE) for w in workers))
        await asyncio.gather(*(w.stop() for w in workers))

    async def _tick(self) -> None:
        refreshed = time.monotonic()
        while True:
            await asyncio.sleep(min(1.0, self.settings.drain_notice_interval))
            for worker in list(self.workers.values()):
                worker.check_dropped()
            if time.monotonic() - refreshed >= self.settings.drain_refresh:
                refreshed = time.monotonic()
                try:
                    await self.resync()
                except Exception:  # the database may be away for a moment; the drains keep running
                    log.exception("re-reading the log drains failed")

    async def _members(self, drains: list[Drain]) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for name in {d.name for d in drains if d.kind == SITE}:
            site = await self.sites.get(name)
            members[name] = list(site.apps) if site is not None else []
        return members

    def _apps(self, drain: Drain, members: dict[str, list[str]]) -> list[str]:
        return [drain.name] if drain.kind == APP else members.get(drain.name, [])

    def _start(self, drain: Drain, apps: list[str]) -> None:
        worker = make_worker(drain, apps, self.pipeline, self.settings)
        self.workers[drain.id] = worker
        worker.start()

    async def resync(self) -> None:
        """Make the running workers exactly the stored drains, with current site members."""
        async with self._lock:  # read under the lock too: a drain created meanwhile must not look deleted
            drains = await self.store.all()
            members = await self._members(drains)
            stored = {d.id: d for d in drains}
            for drain_id in [i for i in self.workers if i not in stored]:
                await self.workers.pop(drain_id).stop()
            for drain in drains:
                worker = self.workers.get(drain.id)
                if worker is None:
                    self._start(drain, self._apps(drain, members))
                elif drain.kind == SITE:
                    worker.retarget(self._apps(drain, members))

    # ------------------------------------------------------------------------------------------- API

    async def create(self, kind: str, name: str, body: dict[str, Any]) -> Drain:
        url, options = parse_request(body, max_ca_bytes=self.settings.drain_ca_max_bytes)
        s = self.settings
        async with self._lock:
            drain = await self.store.insert(kind, name, url, options, per_owner=s.drains_per_app,
                                            total=s.drains_max)
            members = await self._members([drain])
            self._start(drain, self._apps(drain, members))
        log.info("%s created", drain.label)
        return drain

    async def list(self, kind: str, name: str) -> list[Drain]:
        return await self.store.of(kind, name)

    async def get(self, kind: str, name: str, drain_id: str) -> Drain:
        drain = await self.store.get(kind, name, drain_id)
        if drain is None:
            raise not_found(kind, drain_id)
        return drain

    async def delete(self, kind: str, name: str, drain_id: str) -> None:
        async with self._lock:
            if not await self.store.delete(kind, name, drain_id):
                raise not_found(kind, drain_id)
            worker = self.workers.pop(drain_id, None)
            if worker is not None:
                await worker.stop()
        log.info("drain %s of %s %s deleted", drain_id, kind, name)
