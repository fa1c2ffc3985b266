"""Prometheus metrics in: the scrape targets (configured and API) with one scraper task each, and the
remote-write receiver."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry

from vigil.config import Settings
from vigil.errors import AlreadyExists, NotFound, ParamsError, RequestError
from vigil.metrics.ingest import Ingestor
from vigil.prom.remote_write import RemoteWrite
from vigil.prom.scrape import ScrapeClient, Scraper, TargetHealth
from vigil.prom.sink import PromCounters, PromSink
from vigil.prom.target_store import API, CONFIG, Target, TargetStore
from vigil.prom.targets import TargetError, configured_targets, parse_spec
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryStore

log = logging.getLogger(__name__)


class PromService:
    def __init__(self, settings: Settings, ingestor: Ingestor, telemetry: TelemetryStore, metadata: MetadataDB,
                 registry: CollectorRegistry) -> None:
        self.settings = settings
        self.counters = PromCounters(registry)
        self.sink = PromSink(ingestor, telemetry, self.counters)
        self.remote_write = RemoteWrite(self.sink, cache_limit=settings.prom_series_cache,
                                        max_body=settings.remote_write_max_body_bytes,
                                        max_samples=settings.remote_write_max_samples)
        self.targets = TargetStore(metadata)
        self._client: ScrapeClient | None = None
        self._scrapers: dict[int, Scraper] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self.targets.sync_config(configured_targets(self.settings))
        self._client = ScrapeClient(self.settings.scrape_max_targets)
        for target in await self.targets.all():
            self._start_scraper(target)

    async def close(self) -> None:
        scrapers, self._scrapers = list(self._scrapers.values()), {}
        await asyncio.gather(*(s.stop() for s in scrapers))
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _start_scraper(self, target: Target) -> None:
        assert self._client is not None
        s = self.settings
        scraper = Scraper(target.spec, self._client.client, self.sink, self.counters,
                          sample_limit=s.scrape_sample_limit, max_body=s.scrape_max_body_bytes,
                          cache_limit=min(s.prom_series_cache, s.scrape_sample_limit + 16))
        self._scrapers[target.id] = scraper
        scraper.start()

    def health(self, target_id: int) -> TargetHealth:
        scraper = self._scrapers.get(target_id)
        return scraper.health if scraper else TargetHealth()

    async def add(self, data: object) -> Target:
        try:
            spec = parse_spec(data, default_interval=self.settings.scrape_interval,
                              default_timeout=self.settings.scrape_timeout)
        except TargetError as exc:
            raise ParamsError(exc.errors) from None  # type: ignore[arg-type]
        async with self._lock:
            if await self.targets.find(spec.url, spec.job) is not None:
                raise AlreadyExists(f"A scrape target with url {spec.url} and job {spec.job} already exists")
            if await self.targets.count() >= self.settings.scrape_max_targets:
                raise RequestError(f"There are already {self.settings.scrape_max_targets} scrape targets "
                                   "(scrape_max_targets)")
            target = await self.targets.insert(spec, API)
            if self._client is not None:
                self._start_scraper(target)
        return target

    async def get(self, target_id: int) -> Target:
        target = await self.targets.get(target_id)
        if target is None:
            raise NotFound(f"Scrape target {target_id} does not exist")
        return target

    async def remove(self, target_id: int) -> None:
        async with self._lock:
            target = await self.get(target_id)
            if target.source == CONFIG:
                raise RequestError(f"Scrape target {target_id} is in the configuration; remove it there")
            await self.targets.delete(target_id)
            scraper = self._scrapers.pop(target_id, None)
        if scraper is not None:
            await scraper.stop()
            markers = scraper.end_markers()
            if markers:
                await self.sink.mark_stale(markers)

    async def list(self) -> list[Target]:
        return await self.targets.all()
