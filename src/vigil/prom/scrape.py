"""Scraping: one asyncio task per target, each with its own interval and timeout, so that a slow or
dead target delays no other.

A scrape stores, like a Prometheus server: every exposed sample (at the scrape's start time unless
the exposition gives a timestamp) with the target's `job`, `instance` and extra labels (an exposed
label of the same name is kept as `exported_<name>`); then `up` (1 or 0), `scrape_duration_seconds`
and `scrape_samples_scraped`. Series that were in the previous scrape and are not in this one, or
every series of a failed scrape, get a staleness marker. Samples with explicit timestamps get none
(as in Prometheus).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass

import httpx

from vigil.errors import VigilError
from vigil.prom.exposition import ACCEPT, ExposedSample, ExpositionError, parse
from vigil.prom.mapping import Mapped, SeriesCache, stored_series_id
from vigil.prom.sink import Batch, PromCounters, PromSink, is_stale_nan, storable
from vigil.prom.targets import TargetSpec

log = logging.getLogger(__name__)
PATH = "scrape"
_ATTRIBUTES = {kind: {"prometheus_type": kind} for kind in
               ("counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "untyped")}


class ScrapeError(Exception):
    pass


@dataclass
class TargetHealth:
    """What the API shows of a target's last scrape."""

    health: str = "unknown"  # up | down | unknown (not scraped yet)
    last_scrape: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    samples: int = 0


def _offset(spec: TargetSpec) -> float:
    """A stable start offset within the interval, so that targets do not all scrape at once."""
    digest = hashlib.blake2b(f"{spec.job}\x00{spec.url}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64 * spec.interval


class Scraper:
    def __init__(self, spec: TargetSpec, client: httpx.AsyncClient, sink: PromSink, counters: PromCounters, *,
                 sample_limit: int, max_body: int, cache_limit: int) -> None:
        self.spec = spec
        self.client = client
        self.sink = sink
        self.counters = counters
        self.sample_limit = sample_limit
        self.max_body = max_body
        self.cache = SeriesCache(cache_limit)
        self.health = TargetHealth()
        self.target_labels = {"job": spec.job, "instance": spec.instance, **spec.labels}
        self._previous: dict[tuple[str, int], Mapped] = {}  # series of the last scrape, for staleness
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """job/instance: how logs name the target (its URL may carry credentials)."""
        return f"{self.spec.job}/{self.spec.instance}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"scrape {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.spec.interval
        await asyncio.sleep(_offset(self.spec))
        next_at = loop.time()
        while True:
            try:
                await self.scrape_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end the target's loop
                log.exception("scrape of %s failed unexpectedly", self.name)
            next_at += interval
            now = loop.time()
            if next_at < now:  # fell behind (slow storage): skip the missed ticks, keep the phase
                next_at += (now - next_at) // interval * interval + interval
            await asyncio.sleep(next_at - now)

    def end_markers(self) -> list[tuple[str, int, int]]:
        """Markers ending every series of the last scrape (the target is going away)."""
        now = int(time.time())
        markers = [(key, sid, now) for key, sid in self._previous]
        self._previous = {}
        return markers

    async def fetch(self) -> tuple[bytes, str]:
        headers = {"Accept": ACCEPT, "X-Prometheus-Scrape-Timeout-Seconds": f"{self.spec.timeout:g}"}
        async with self.client.stream("GET", self.spec.url, headers=headers,
                                      timeout=httpx.Timeout(self.spec.timeout)) as response:
            if response.status_code != 200:
                raise ScrapeError(f"server returned HTTP status {response.status_code}")
            chunks = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_body:
                    raise ScrapeError(f"the response is larger than {self.max_body} bytes (scrape_max_body_bytes)")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")

    async def scrape_once(self) -> TargetHealth:
        started = time.time()
        clock = time.perf_counter()
        error = None
        exposed: list[ExposedSample] = []
        try:
            async with asyncio.timeout(self.spec.timeout):
                body, content_type = await self.fetch()
            # Parsing is CPU work: off the event loop, so that other targets and requests go on.
            exposed = await asyncio.to_thread(parse, body, content_type, self.sample_limit)
        except TimeoutError:
            error = f"scrape timed out after {self.spec.timeout:g} s"
        except (httpx.HTTPError, ScrapeError, ExpositionError) as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # anything else the client may raise (TLS, a URL it rejects …)
            error = f"{type(exc).__name__}: {exc}"
        duration = time.perf_counter() - clock
        batch = self._batch(exposed, started, error is None, duration)
        self.counters.scrapes.labels("up" if error is None else "down").inc()
        try:
            await self.sink.store_batch(batch, PATH)
        except VigilError as exc:  # the store is full or failing: this scrape is lost, the next may do
            error = error or f"storing the samples failed: {exc.message}"
            log.warning("scrape of %s: %s", self.name, exc.message)
        self.health = TargetHealth("up" if error is None else "down", started, duration, error, len(exposed))
        return self.health

    def _labels(self, sample: ExposedSample) -> tuple[tuple[str, str], ...]:
        target = self.target_labels
        pairs = [("__name__", sample.name)]
        for k, v in sample.labels.items():
            pairs.append((f"exported_{k}" if k in target else k, v))
        pairs.extend(target.items())
        return tuple(pairs)

    def _batch(self, exposed: list[ExposedSample], started: float, up: bool, duration: float) -> Batch:
        batch = Batch()
        current: dict[tuple[str, int], Mapped] = {}
        for sample in exposed:
            mapped = self.cache.get(self._labels(sample))
            if isinstance(mapped, str):
                batch.drop(mapped)
                continue
            if sample.timestamp is None:  # present, even with a value that cannot be stored
                current[(mapped.key, stored_series_id(mapped, None))] = mapped
            value = sample.value
            if not storable(value):
                if not is_stale_nan(value):
                    batch.rejected += 1
                continue
            batch.add(mapped, value, started if sample.timestamp is None else sample.timestamp,
                      _ATTRIBUTES.get(sample.kind))
        for name, value in (("up", 1.0 if up else 0.0), ("scrape_duration_seconds", duration),
                            ("scrape_samples_scraped", float(len(exposed)))):
            mapped = self.cache.get((("__name__", name), *self.target_labels.items()))
            if not isinstance(mapped, str):
                batch.add(mapped, value, started, _ATTRIBUTES["gauge"])
        batch.stale = [(key, sid, int(started)) for (key, sid) in self._previous.keys() - current.keys()]
        self._previous = current
        return batch


class ScrapeClient:
    """The HTTP client every scraper shares (its pool is as large as the number of targets allowed)."""

    def __init__(self, max_targets: int) -> None:
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=max_targets, max_keepalive_connections=max_targets),
            headers={"User-Agent": "Vigil-scraper"}, follow_redirects=True, trust_env=False)

    async def close(self) -> None:
        await self.client.aclose()
