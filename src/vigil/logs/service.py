"""Every long-lived part of application logs, built from Settings, started and closed in order."""

from __future__ import annotations

import asyncio
import contextlib
import time

from vigil.broker.base import Broker
from vigil.config import Settings
from vigil.errors import Unavailable
from vigil.logs.apps import KnownApps
from vigil.logs.builds import Builds
from vigil.logs.columns import SETTLE_EVERY, settle_columns
from vigil.logs.http_ingest import RecentIds
from vigil.logs.pipeline import LogPipeline
from vigil.logs.ring import RecentLines
from vigil.logs.sessions import LogSessions
from vigil.logs.sites import Sites
from vigil.logs.store import LogStore
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryStore


class ReaderSlots:
    """At most `limit` streaming readers (log sessions, /v2/read) at a time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def acquire(self) -> None:
        if self.active >= self.limit:
            raise Unavailable(f"This server already streams logs to {self.active} readers, its limit; try again later.")
        self.active += 1

    def release(self) -> None:
        self.active -= 1


class LogService:
    def __init__(self, settings: Settings, telemetry: TelemetryStore, metadata: MetadataDB, broker: Broker) -> None:
        s = settings
        self.settings = settings
        self.broker = broker
        self.ring = RecentLines(s.log_recent_lines, s.log_recent_bytes, s.log_recent_apps)
        self.store = LogStore(telemetry, retention=s.log_retention, future_window=s.future_window,
                              max_pending=s.log_pending_lines, max_pending_bytes=s.log_pending_bytes,
                              flush_lines=s.log_flush_lines,
                              flush_interval=s.log_flush_interval)
        self.apps = KnownApps(metadata, max_cached=s.log_name_cache)
        self.pipeline = LogPipeline(self.ring, self.store, broker, self.apps, name_cache=s.log_name_cache)
        self.sessions = LogSessions(metadata, ttl=s.log_session_ttl, max_pending=s.log_sessions_max)
        self.sites = Sites(metadata)
        self.builds = Builds(metadata, self.pipeline, max_lines=s.build_max_lines, per_app=s.builds_per_app,
                             max_line_bytes=s.log_max_line_bytes)
        self.frame_ids = RecentIds(s.logplex_frame_ids)
        self.readers = ReaderSlots(s.log_tails_max)
        self.malformed = 0  # logplex frames skipped by POST /v1/logs
        self.started = time.time()
        self._settler: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.started = time.time()
        self.store.start()
        self.apps.start()
        self._settler = asyncio.get_running_loop().create_task(self._settle(), name="log columns settler")

    async def _settle(self) -> None:
        """Worker report slices kept for a while (rings, slow sessions' queues) get columns of their
        own, a bounded amount per tick, so that they stop pinning whole reports (`columns.py`)."""
        while True:
            await asyncio.sleep(SETTLE_EVERY)
            now = time.monotonic()
            self.ring.compact_due(now)
            settle_columns(now)

    async def stop_readers(self) -> None:
        """End every live reader (server shutdown): their streams finish instead of holding the
        server open."""
        self.pipeline.feeds.close()
        await self.broker.close()

    async def close(self) -> None:
        if self._settler is not None:
            self._settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._settler
        await self.stop_readers()
        await self.apps.close()
        await self.store.close()
