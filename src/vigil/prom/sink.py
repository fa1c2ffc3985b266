"""Where Prometheus samples go: the metrics store (through the ingestor, as any measurement) and, for
series that ended, the staleness markers."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import msgspec
import pyarrow as pa
from prometheus_client import CollectorRegistry, Counter

from vigil.metrics.ingest import (
    MAX_EXPONENT,
    MAX_REPORTED_ERRORS,
    Ingestor,
    IngestResult,
    MeasurementIn,
    PayloadIn,
)
from vigil.prom.mapping import Mapped
from vigil.storage.telemetry import TelemetryStore

# Prometheus marks the end of a series with this NaN (one particular bit pattern).
STALE_NAN_BITS = 0x7FF0000000000002
_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)


def is_stale_nan(value: float) -> bool:
    return value != value and struct.pack("<d", value) == _STALE_BYTES


def storable(value: float) -> bool:
    """The metrics store takes finite values up to 1e126 in magnitude (the AppOptics rule); NaN and
    ±Inf samples (a gauge may be either) cannot be stored and are counted as rejected."""
    return math.isfinite(value) and abs(value) <= MAX_EXPONENT


class PromCounters:
    """Self-metrics of the Prometheus paths (served at /metrics)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.samples = Counter("vigil_prom_samples", "Prometheus samples by path and outcome",
                               ["path", "outcome"], registry=registry)
        self.dropped_series = Counter("vigil_prom_dropped_series", "Prometheus series dropped by the name and "
                                      "label rules, by reason", ["path", "reason"], registry=registry)
        self.scrapes = Counter("vigil_prom_scrapes", "Scrapes by outcome", ["outcome"], registry=registry)


@dataclass
class Batch:
    """Samples and end-of-series markers to store together."""

    measurements: list[MeasurementIn] = field(default_factory=list)
    stale: list[tuple[str, int, int]] = field(default_factory=list)  # (metric key, series id, time)
    rejected: int = 0  # samples whose value cannot be stored
    dropped: dict[str, int] = field(default_factory=dict)  # series dropped, by reason

    def add(self, mapped: Mapped, value: float, time: float, attributes: dict | None = None) -> None:
        self.measurements.append(MeasurementIn(name=mapped.name, value=value, time=time,
                                               tags=msgspec.Raw(mapped.raw), attributes=attributes))

    def drop(self, reason: str, samples: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        self.rejected += samples


class PromSink:
    def __init__(self, ingestor: Ingestor, store: TelemetryStore, counters: PromCounters) -> None:
        self.ingestor = ingestor
        self.store = store
        self.counters = counters

    async def store_batch(self, batch: Batch, path: str, *, environment: str | None = None,
                          user_agent: str | None = None) -> IngestResult | None:
        """Store the batch's samples (returns once they are durable) and then its markers."""
        result = None
        ms = batch.measurements
        # The ingestor takes at most max_measurements per call: a larger batch (a configured sample
        # limit above it) goes in parts, each stored before the next is handed over.
        step = self.ingestor.max_measurements
        for i in range(0, len(ms), step):
            part = await self.ingestor.ingest_payload(PayloadIn(measurements=ms[i:i + step]),
                                                      environment=environment, user_agent=user_agent)
            self.counters.samples.labels(path, "accepted").inc(part.accepted)
            self.counters.samples.labels(path, "rejected").inc(part.failed + part.filtered)
            result = part if result is None else IngestResult(
                total=result.total + part.total, accepted=result.accepted + part.accepted,
                failed=result.failed + part.failed, filtered=result.filtered + part.filtered,
                errors=(result.errors + part.errors)[:MAX_REPORTED_ERRORS], batch=None)
        if batch.stale:
            await self.mark_stale(batch.stale)
            self.counters.samples.labels(path, "stale").inc(len(batch.stale))
        if batch.rejected:
            self.counters.samples.labels(path, "rejected").inc(batch.rejected)
        for reason, n in batch.dropped.items():
            self.counters.dropped_series.labels(path, reason).inc(n)
        return result

    async def mark_stale(self, markers: list[tuple[str, int, int]]) -> None:
        keys, sids, times = zip(*markers, strict=True)
        table = pa.table({"metric": pa.array(keys, pa.string()), "series_id": pa.array(sids, pa.uint64()),
                          "time": pa.array([max(0, int(t)) for t in times], pa.uint32())})
        await self.store.insert_arrow("prom_stale", table)
