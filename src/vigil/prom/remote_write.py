"""Prometheus remote write (protocol 1.0): a snappy-compressed protobuf WriteRequest → samples.

The whole request is decoded and checked before anything is stored, so a bad payload stores
nothing. Per sample: a stale NaN becomes a staleness marker; other NaN and ±Inf values cannot be
stored and are counted as rejected; timestamps are milliseconds and are stored to the second.
Native histograms are not stored yet: they are counted as rejected.
"""

from __future__ import annotations

import cramjam
import msgspec
from google.protobuf.message import DecodeError

from vigil.errors import PayloadTooLarge, RequestError
from vigil.metrics.ingest import MAX_EXPONENT, IngestResult, MeasurementIn
from vigil.prom.mapping import Mapped, map_series, stored_series_id
from vigil.prom.prompb.remote_pb2 import WriteRequest
from vigil.prom.prompb.types_pb2 import MetricMetadata
from vigil.prom.sink import Batch, PromSink, is_stale_nan

PATH = "remote_write"
_TYPES = {MetricMetadata.COUNTER: "counter", MetricMetadata.GAUGE: "gauge", MetricMetadata.HISTOGRAM: "histogram",
          MetricMetadata.GAUGEHISTOGRAM: "gaugehistogram", MetricMetadata.SUMMARY: "summary",
          MetricMetadata.INFO: "info", MetricMetadata.STATESET: "stateset"}
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _varint_length(data: bytes) -> int | None:
    """The uncompressed length a snappy block announces in its header."""
    result = shift = 0
    for i, byte in enumerate(data[:10]):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result if i < 5 else None
        shift += 7
    return None


def decompress(body: bytes, limit: int) -> bytes:
    """Snappy block format, as remote write sends it; never more than `limit` bytes out."""
    length = _varint_length(body)
    if length is None:
        raise RequestError("The request body is not snappy-compressed (remote write sends the snappy block format)")
    if length > limit:
        raise PayloadTooLarge(f"The decompressed request body is larger than {limit} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise RequestError(f"The request body is not valid snappy: {exc}") from None


def decode(data: bytes) -> WriteRequest:
    try:
        return WriteRequest.FromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise RequestError(f"The request body is not a Prometheus WriteRequest: {exc}") from None


class RemoteWrite:
    """Turns WriteRequests into stored samples. The label-set cache and the metric types learnt from
    the requests' metadata are bounded."""

    def __init__(self, sink: PromSink, *, cache_limit: int, max_body: int, max_samples: int) -> None:
        self.sink = sink
        # label set → (mapping or the reason it is dropped, attributes of a new metric); bounded
        self._cache: dict[tuple[tuple[str, str], ...], tuple[Mapped | str, dict[str, str] | None]] = {}
        self.max_body = max_body
        self.max_samples = max_samples
        self.cache_limit = cache_limit
        self._types: dict[str, dict[str, str]] = {}  # metric family → attributes, from metadata (bounded)

    def _resolve(self, labels: tuple[tuple[str, str], ...]) -> tuple[Mapped | str, dict[str, str] | None]:
        """A label set's mapping and the attributes a new metric of it records (its Prometheus type:
        from metadata when the server sent it, else guessed from the name's suffix — a histogram's
        or summary's parts are counters)."""
        mapped = map_series(labels)
        if isinstance(mapped, str):
            return mapped, None
        name = next((v for k, v in labels if k == "__name__"), "")
        found = self._types.get(name)
        if found is None:
            base = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), None)
            found = self._types.get(base) if base else None
            if found is None:
                found = {"prometheus_type": "counter" if base else "unknown"}
        return mapped, found

    def _learn(self, request: WriteRequest) -> None:
        for meta in request.metadata:
            if len(self._types) >= self.cache_limit:
                self._types.clear()
            self._types[meta.metric_family_name] = {"prometheus_type": _TYPES.get(meta.type, "unknown")}

    def to_batch(self, request: WriteRequest, environment: str | None) -> Batch:
        """The hot loop: one cache look-up per series, a few operations per sample."""
        batch = Batch()
        histograms = sum(len(ts.histograms) for ts in request.timeseries)
        total = histograms + sum(len(ts.samples) for ts in request.timeseries)
        if total > self.max_samples:
            raise RequestError(f"The request has {total} samples; at most {self.max_samples} are taken at once "
                               "(lower max_samples_per_send in Prometheus' queue_config)")
        cache = self._cache
        out = batch.measurements
        for ts in request.timeseries:
            labels = tuple([(label.name, label.value) for label in ts.labels])
            found = cache.get(labels)
            if found is None:
                found = self._resolve(labels)
                if len(cache) >= self.cache_limit:
                    for stale in list(cache)[: max(1, self.cache_limit // 2)]:
                        del cache[stale]
                cache[labels] = found
            mapped, attributes = found
            if isinstance(mapped, str):
                batch.drop(mapped, len(ts.samples))
                continue
            name, raw = mapped.name, msgspec.Raw(mapped.raw)
            for sample in ts.samples:
                value = sample.value
                if -MAX_EXPONENT <= value <= MAX_EXPONENT:  # false for NaN and ±Inf too
                    out.append(MeasurementIn(name=name, value=value, time=sample.timestamp / 1000.0, tags=raw,
                                             attributes=attributes))
                elif is_stale_nan(value):
                    batch.stale.append((mapped.key, stored_series_id(mapped, environment), sample.timestamp // 1000))
                else:
                    batch.rejected += 1
        batch.rejected += histograms  # native histograms are not stored yet
        return batch

    async def write(self, body: bytes, *, environment: str | None = None,
                    user_agent: str | None = None) -> IngestResult | None:
        request = decode(decompress(body, self.max_body))
        self._learn(request)
        batch = self.to_batch(request, environment)
        return await self.sink.store_batch(batch, PATH, environment=environment, user_agent=user_agent)
