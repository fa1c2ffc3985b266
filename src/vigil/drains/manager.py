"""Drains as a service: create, list, delete (stored in the metadata database); delivery in a
process of its own (`process.py`, `child.py`).

At start every stored drain is handed to the delivery process, which runs it from then on: a drain
delivers the lines that arrive after it starts, so after a restart it picks up with new lines. Here,
each drain has a `DrainHandle`: its app list and the counters the process reports (every
`drain_stats_interval`, or on `refresh()`), carried across restarts of the process. A background task
re-reads the drains every `drain_refresh` seconds (drains created or deleted through another node)
and the members of sites with drains (a PUT /sites/{site} changes whose lines a site drain delivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from vigil.config import Settings
from vigil.drains.channel import STAT_FIELDS, DrainSpec
from vigil.drains.model import APP, SITE, Drain, parse_request
from vigil.drains.process import DeliveryProcess
from vigil.drains.store import DrainStore
from vigil.drains.worker import DrainStats
from vigil.errors import NotFound
from vigil.logs.model import LogLine
from vigil.logs.pipeline import LogPipeline
from vigil.logs.sites import Sites
from vigil.storage.metadata import MetadataDB

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 2.0  # seconds a connected drain has at shutdown to deliver its buffer
_COUNTERS = ("delivered", "dropped", "failed", "rejected", "retries", "connect_failures", "notices")


def not_found(kind: str, drain_id: str) -> NotFound:
    return NotFound(f"The specified log drain {drain_id[:64]} does not exist on this {kind}.")


@dataclass
class DrainHandle:
    """A drain as the server sees it: what it delivers and its counters, as last reported."""

    drain: Drain
    apps: list[str]
    stats: DrainStats = field(default_factory=DrainStats)
    dropped: int = 0  # buffer overflow (and lines lost before they reached the drain)
    pending: int = 0  # lines in its buffer
    running: bool = True  # its task is alive in the delivery process
    write_buffered: int = 0  # bytes written to its connection and not yet taken by the socket
    backoff_attempts: int = 0  # failed attempts since the last success
    taken: int = 0  # lines the drain read from its buffer (in this process's life)
    connection_open: bool = False  # syslog TCP/TLS: its connection is up (a receiver's close is seen at once)
    _base: dict[str, int] = field(default_factory=dict)  # counters of earlier delivery processes

    def update(self, values: list[int]) -> None:
        v = dict(zip(STAT_FIELDS, values, strict=True))
        b = self._base
        st = self.stats
        st.delivered = v["delivered"] + b.get("delivered", 0)
        st.failed = v["failed"] + b.get("failed", 0)
        st.rejected = v["rejected"] + b.get("rejected", 0)
        st.retries = v["retries"] + b.get("retries", 0)
        st.connect_failures = v["connect_failures"] + b.get("connect_failures", 0)
        st.notices = v["notices"] + b.get("notices", 0)
        st.connected = bool(v["connected"])
        self.dropped = v["dropped"] + b.get("dropped", 0)
        self.pending, self.running = v["pending"], bool(v["running"])
        self.write_buffered, self.backoff_attempts, self.taken = v["write_buffered"], v["backoff_attempts"], v["taken"]
        self.connection_open = bool(v["connection_open"])

    def process_ended(self) -> None:
        """The delivery process is gone: its counts become the base of the next one's."""
        st = self.stats
        self._base = {"delivered": st.delivered, "dropped": self.dropped, "failed": st.failed,
                      "rejected": st.rejected, "retries": st.retries, "connect_failures": st.connect_failures,
                      "notices": st.notices}
        st.connected = self.connection_open = self.running = False
        self.pending = self.write_buffered = self.taken = 0


def spec(drain: Drain, apps: list[str]) -> DrainSpec:
    return DrainSpec(drain.id, drain.kind, drain.name, drain.url.raw, drain.token, drain.options.skip_verify,
                     drain.options.ca, drain.created_at, drain.updated_at, list(apps))


class DrainManager:
    def __init__(self, settings: Settings, metadata: MetadataDB, pipeline: LogPipeline, sites: Sites) -> None:
        self.settings = settings
        self.store = DrainStore(metadata)
        self.pipeline = pipeline
        self.sites = sites
        self.workers: dict[str, DrainHandle] = {}
        self.reported: set[str] = set()  # the drains the delivery process ran at its last report
        self.process = DeliveryProcess(settings, self._notice, self._stats, self._process_ended)
        self._lock = asyncio.Lock()  # one change at a time: limits are counted, then the row inserted
        self._ticker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.pipeline.taps.append(self.process.tap)
        await self.resync()
        self._ticker = asyncio.create_task(self._tick(), name="drain ticker")

    async def close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        with contextlib.suppress(ValueError):
            self.pipeline.taps.remove(self.process.tap)
        # Connected drains get a moment to deliver what they hold; dead ones are not waited for.
        await self.process.close(SHUTDOWN_GRACE)
        for handle in self.workers.values():
            handle.running = False
        self.workers = {}

    async def refresh(self) -> bool:
        """Every drain's counters as of now (tests and exact reads; /metrics uses the last report)."""
        return await self.process.refresh()

    def _notice(self, lines: list[LogLine]) -> None:
        self.pipeline.accept(lines)

    def _stats(self, drains: dict[str, list[int]]) -> None:
        self.reported = set(drains)
        for drain_id, values in drains.items():
            handle = self.workers.get(drain_id)
            if handle is not None:
                handle.update(values)

    def _process_ended(self) -> None:
        self.reported = set()
        for handle in self.workers.values():
            handle.process_ended()

    def _configure(self) -> None:
        self.process.configure([spec(h.drain, h.apps) for h in self.workers.values()])

    async def _tick(self) -> None:
        refreshed = time.monotonic()
        while True:
            await asyncio.sleep(min(1.0, self.settings.drain_refresh))
            self.process.pump()  # what could not be sent while the channel was full
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

    async def resync(self) -> None:
        """Make the delivered drains exactly the stored drains, with current site members."""
        async with self._lock:  # read under the lock too: a drain created meanwhile must not look deleted
            drains = await self.store.all()
            members = await self._members(drains)
            stored = {d.id: d for d in drains}
            changed = False
            for drain_id in [i for i in self.workers if i not in stored]:
                self.workers.pop(drain_id).running = False
                changed = True
            for drain in drains:
                handle = self.workers.get(drain.id)
                apps = self._apps(drain, members)
                if handle is None:
                    self.workers[drain.id] = DrainHandle(drain, apps)
                    changed = True
                elif set(apps) != set(handle.apps):
                    handle.apps = apps
                    changed = True
            if changed:
                if self.workers:
                    await self.process.start()  # with the first drain (a no-op after)
                self._configure()

    # ------------------------------------------------------------------------------------------- API

    async def create(self, kind: str, name: str, body: dict[str, Any]) -> Drain:
        url, options = parse_request(body, max_ca_bytes=self.settings.drain_ca_max_bytes)
        s = self.settings
        async with self._lock:
            drain = await self.store.insert(kind, name, url, options, per_owner=s.drains_per_app,
                                            total=s.drains_max)
            members = await self._members([drain])
            await self.process.start()  # with the first drain (a no-op after)
            self.workers[drain.id] = DrainHandle(drain, self._apps(drain, members))
            self._configure()
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
            handle = self.workers.pop(drain_id, None)
            if handle is not None:
                handle.running = False
                self._configure()
        log.info("drain %s of %s %s deleted", drain_id, kind, name)
