"""POST /v1/measurements, the domain half: decode, validate and normalise a payload into columns.

The hot path decodes with msgspec into typed structs and touches each measurement in Python once:
one loop that resolves its metric and series through caches keyed on the raw name and the raw
JSON text of its tag set, and appends one row tuple. Everything after that (time window, exponent
rules, Arrow columns) is numpy over whole columns.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa

from vigil.errors import ParamsError, RequestError
from vigil.metrics.catalog import DEFAULT_SSA_PERIOD, Metric, MetricCatalog, NewMetric
from vigil.metrics.names import check_metric_name, is_reserved, metric_key, normalise_tags
from vigil.metrics.properties import parse_changes

MAX_EXPONENT = 1e126
MIN_EXPONENT = 1e-130
MAX_REPORTED_ERRORS = 100
_ABSENT = (b"", b"null")


class MeasurementIn(msgspec.Struct, gc=False):
    name: str
    value: float | None = None
    time: float | None = None
    period: int | None = None
    tags: msgspec.Raw = msgspec.Raw(b"")
    attributes: dict[str, Any] | None = None
    count: float | None = None
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    last: float | None = None
    stddev: float | None = None


class PayloadIn(msgspec.Struct, gc=False):
    measurements: list[MeasurementIn]
    tags: msgspec.Raw = msgspec.Raw(b"")
    time: float | None = None
    period: int | None = None


_decoder = msgspec.json.Decoder(PayloadIn)

SAMPLE_COLUMNS = ("metric", "series_id", "time", "uniq", "count", "sum", "min", "max", "last", "stddev")


@dataclass
class SampleBatch:
    """Accepted measurements as columns, plus the series rows seen for the first time."""

    samples: pa.Table
    new_series: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.samples.num_rows


@dataclass
class IngestResult:
    total: int
    accepted: int
    failed: int
    filtered: int
    errors: list[dict[str, str]]
    batch: SampleBatch | None

    def body(self) -> dict[str, Any]:
        return {
            "measurements": {"summary": {"total": self.total, "accepted": self.accepted,
                                         "failed": self.failed, "filtered": self.filtered}},
            "errors": self.errors,
        }


# What a name resolves to in the hot loop.
_FILTERED = "filtered"


@dataclass(frozen=True, slots=True)
class _NameInfo:
    key: str
    aggregate_period: int
    error: str | None = None  # a reason, or _FILTERED
    param: str = "name"
    new: NewMetric | None = None  # an unknown metric, to create if a measurement of it is accepted


def series_id(key: str, tags: dict[str, str]) -> int:
    text = key + "\x00" + "\x01".join(f"{k}={tags[k]}" for k in sorted(tags))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _error(param: str, reason: str) -> dict[str, str]:
    return {"param": param, "reason": reason}


class Ingestor:
    """Turns request bodies into SampleBatches. Its caches are bounded and reset when metrics change."""

    def __init__(self, catalog: MetricCatalog, write: Callable[[SampleBatch], Awaitable[None]], *,
                 past_window: int, future_window: int, max_measurements: int,
                 series_cache_limit: int = 2_000_000) -> None:
        self.catalog = catalog
        self.write = write
        self.past_window = past_window
        self.future_window = future_window
        self.max_measurements = max_measurements
        self.series_cache_limit = series_cache_limit
        self._names: Mapping[str, _NameInfo] = {}
        # (metric key, raw tags JSON, environment) -> series id, or the reason the tags are invalid.
        self._series: dict[tuple[str, bytes, str | None], int | str] = {}
        catalog.on_change(self.forget_names)

    def forget_names(self) -> None:
        self._names.clear()

    def forget_series(self) -> None:
        """After a failed write or a delete: series rows may be missing, so announce them again."""
        self._series.clear()

    @property
    def cached_series(self) -> int:
        return len(self._series)

    # -- decoding --------------------------------------------------------------------------------

    def decode(self, body: bytes) -> tuple[PayloadIn, list[dict[str, str] | None]]:
        """Decode a payload. Returns the payload and, per measurement, an early error or None."""
        try:
            payload = _decoder.decode(body)
            return payload, [None] * len(payload.measurements)
        except msgspec.ValidationError:
            return self._decode_leniently(body)
        except msgspec.DecodeError as exc:
            raise RequestError(f"The request body is not valid JSON: {exc}") from None

    def _decode_leniently(self, body: bytes) -> tuple[PayloadIn, list[dict[str, str] | None]]:
        """Some measurement is malformed: validate one by one so the others can still be accepted."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("measurements"), list):
            raise RequestError("The request body must be an object with a list of measurements")
        top: dict[str, Any] = {k: doc[k] for k in ("time", "period") if k in doc}
        try:
            header = msgspec.convert(top, _TopIn)
        except msgspec.ValidationError as exc:
            param = str(exc).rsplit("`$.", 1)[-1].rstrip("`") if "`$." in str(exc) else "measurements"
            raise ParamsError({param: [str(exc).split(" - at ")[0]]}) from None
        tags_raw = msgspec.Raw(orjson.dumps(doc["tags"])) if "tags" in doc else msgspec.Raw(b"")
        measurements: list[MeasurementIn] = []
        early: list[dict[str, str] | None] = []
        for item in doc["measurements"]:
            if not isinstance(item, dict):
                measurements.append(MeasurementIn(name=""))
                early.append(_error("measurements", "each measurement must be an object"))
                continue
            fields = {k: v for k, v in item.items() if k != "tags"}
            try:
                m = msgspec.convert(fields, MeasurementIn)
                if "tags" in item:
                    m.tags = msgspec.Raw(orjson.dumps(item["tags"]))
                measurements.append(m)
                early.append(None)
            except msgspec.ValidationError as exc:
                text = str(exc)
                param = text.split("`$.", 1)[1].split("`", 1)[0] if "`$." in text else "name"
                measurements.append(MeasurementIn(name=""))
                early.append(_error(param.split(".")[0].split("[")[0], text.split(" - at ")[0]))
        payload = PayloadIn(measurements=measurements, tags=tags_raw, time=header.time, period=header.period)
        return payload, early

    # -- resolution --------------------------------------------------------------------------------

    def _resolve_name(self, name: str, metric: Metric | None, spec: NewMetric | str | None) -> _NameInfo:
        """What a name means for this request. An unknown metric resolves provisionally, from the
        request's own attributes and period; it is created only if some measurement of it is accepted."""
        reason = check_metric_name(name)
        if reason:
            return _NameInfo("", 0, reason)
        key = metric_key(name)
        if is_reserved(name):
            return _NameInfo(key, 0, _FILTERED)
        if metric is not None:
            if metric.type == "composite":
                return _NameInfo(key, 0, "is a composite metric and takes no measurements")
            return _NameInfo(key, metric.aggregate_period)
        if isinstance(spec, str):
            return _NameInfo(key, 0, spec, "attributes")
        if spec is None:
            return _NameInfo(key, 0, "has no valid measurement to create the metric from")
        aggregate = bool(spec.attributes and spec.attributes.get("aggregate") is True)
        return _NameInfo(key, (spec.period or DEFAULT_SSA_PERIOD) if aggregate else 0, None, "name", spec)

    def _new_metric(self, m: MeasurementIn, payload: PayloadIn) -> NewMetric | str:
        attributes = None
        if m.attributes:
            try:
                attributes = parse_changes({"attributes": m.attributes}).attributes or None
            except ParamsError as exc:
                return exc.message
        period = m.period if m.period is not None else payload.period
        if period is not None and not 0 < period <= 604_800:
            period = None
        return NewMetric(m.name, period, attributes)

    async def _names_for(self, payload: PayloadIn, early: list[dict[str, str] | None]) -> Mapping[str, _NameInfo]:
        """Resolve every distinct name: known metrics from the catalogue (cached), unknown ones from
        the first measurement that names them (their attributes and period)."""
        unknown = {m.name for m in payload.measurements} - self._names.keys()
        if not unknown:
            return self._names
        existing = await self.catalog.get_many([n for n in unknown if not check_metric_name(n)])
        specs: dict[str, NewMetric | str] = {}
        for m, err in zip(payload.measurements, early, strict=True):
            if err is not None or m.name not in unknown:
                continue
            key = metric_key(m.name)
            if key not in existing and key not in specs:
                specs[key] = self._new_metric(m, payload)
        if len(self._names) > 100_000:
            self._names.clear()
        provisional: dict[str, _NameInfo] = {}
        for name in unknown:
            key = metric_key(name)
            info = self._resolve_name(name, existing.get(key), specs.get(key))
            if info.new is None:
                self._names[name] = info
            else:
                provisional[name] = info  # not cached: the metric does not exist until it is created
        return ChainMap(provisional, self._names) if provisional else self._names

    async def _create_metrics(self, result: IngestResult, names: Mapping[str, _NameInfo],
                              user_agent: str | None) -> None:
        """Create the unknown metrics that have accepted measurements in this request."""
        assert result.batch is not None
        wanted = {info.key: info.new for info in names.values() if info.new is not None}
        if not wanted:
            return
        accepted = set(result.batch.samples.column("metric").unique().to_pylist())
        wanted = {k: v for k, v in wanted.items() if k in accepted and v is not None}
        if wanted:
            await self.catalog.ensure(wanted, user_agent)

    def _resolve_series(self, key: str, raw: bytes, environment: str | None,
                        new_series: list[tuple[str, int, dict[str, str]]],
                        new_keys: list[tuple[str, bytes, str | None]]) -> int | str:
        try:
            tags = orjson.loads(raw)
        except orjson.JSONDecodeError:
            result: int | str = "must be an object of tag names to values"
        else:
            normalised, reason = normalise_tags(tags)
            if normalised is None:
                result = reason or "are invalid"
            else:
                if environment and "environment" not in normalised:
                    normalised["environment"] = environment.lower()  # tag values are lower-cased
                result = series_id(key, normalised)
                new_series.append((key, result, normalised))
                new_keys.append((key, raw, environment))
        if len(self._series) >= self.series_cache_limit:
            # Drop the older half: dicts keep insertion order.
            for stale in list(self._series)[: self.series_cache_limit // 2]:
                del self._series[stale]
        self._series[(key, raw, environment)] = result
        return result

    # -- the request ------------------------------------------------------------------------------

    async def ingest(self, body: bytes, *, environment: str | None = None, user_agent: str | None = None,
                     now: float | None = None) -> IngestResult:
        """Validate a payload and store what is valid; returns once the accepted part is stored."""
        payload, early = self.decode(body)
        return await self.ingest_payload(payload, early, environment=environment, user_agent=user_agent, now=now)

    async def ingest_payload(self, payload: PayloadIn, early: list[dict[str, str] | None] | None = None, *,
                             environment: str | None = None, user_agent: str | None = None,
                             now: float | None = None) -> IngestResult:
        """The same for measurements built in-process (other protocols: Prometheus, Loggregator
        counters …). Build each `MeasurementIn` with `tags=msgspec.Raw(orjson.dumps(tags))`."""
        ms = payload.measurements
        if early is None:
            early = [None] * len(ms)
        if not ms:
            raise ParamsError({"measurements": ["must contain at least one measurement"]})
        if len(ms) > self.max_measurements:
            raise ParamsError({"measurements": [f"must contain at most {self.max_measurements} measurements"]})
        now = time.time() if now is None else now
        names = await self._names_for(payload, early)
        result = self._normalise(payload, early, names, environment, now)
        if result.batch is not None:
            try:
                await self._create_metrics(result, names, user_agent)
                await self.write(result.batch)
            except Exception:
                # The batch was not written, so neither were its series rows: forget every series,
                # so that this request's retry, and any request that trusted the cache meanwhile,
                # announce theirs again.
                self.forget_series()
                raise
        return result

    def _normalise(self, payload: PayloadIn, early: list[dict[str, str] | None], names: Mapping[str, _NameInfo],
                   environment: str | None, now: float) -> IngestResult:
        ms = payload.measurements
        top_raw = bytes(payload.tags)
        if top_raw in _ABSENT:
            top_raw = b""
        top_time = payload.time if payload.time is not None else now
        series = self._series
        new_series: list[tuple[str, int, dict[str, str]]] = []
        new_keys: list[tuple[str, bytes, str | None]] = []
        rows: list[tuple[Any, ...]] = []
        errors: list[tuple[int, dict[str, str]]] = []
        filtered = 0
        for i, m in enumerate(ms):
            if early[i] is not None:
                errors.append((i, early[i]))  # type: ignore[arg-type]
                continue
            info = names[m.name]
            if info.error is not None:
                if info.error is _FILTERED:
                    filtered += 1
                else:
                    errors.append((i, _error(info.param, info.error)))
                continue
            raw = bytes(m.tags)
            if raw in _ABSENT:
                raw = top_raw
            if not raw:
                errors.append((i, _error("tags", "Must have at least one tag")))
                continue
            sid = series.get((info.key, raw, environment))
            if sid is None:
                sid = self._resolve_series(info.key, raw, environment, new_series, new_keys)
            if sid.__class__ is str:
                errors.append((i, _error("tags", sid)))  # type: ignore[arg-type]
                continue
            t = m.time if m.time is not None else top_time
            if m.count is None:
                v = m.value
                if v is None:
                    reason = "requires count" if m.sum is not None else "is required (or count and sum)"
                    errors.append((i, _error("sum" if m.sum is not None else "value", reason)))
                    continue
                if m.sum is not None or m.min is not None or m.max is not None:
                    errors.append((i, _error("value", "cannot be combined with summary fields")))
                    continue
                last = v if m.last is None else m.last
                rows.append((i, info.key, sid, t, info.aggregate_period, 1.0, v, v, v, last, 0.0))
                continue
            row = self._summary_row(i, m, info, sid, t)
            if row.__class__ is dict:
                errors.append((i, row))  # type: ignore[arg-type]
            else:
                rows.append(row)  # type: ignore[arg-type]
        try:
            result = self._columns(rows, errors, filtered, len(ms), new_series, now)
        except ParamsError:
            self._forget(new_keys)
            raise
        if result.batch is None:
            self._forget(new_keys)  # nothing will be written, so neither will these series rows
        return result

    def _forget(self, keys: list[tuple[str, bytes, str | None]]) -> None:
        for key in keys:
            self._series.pop(key, None)

    @staticmethod
    def _summary_row(i: int, m: MeasurementIn, info: _NameInfo, sid: int, t: float) -> tuple[Any, ...] | dict:
        if m.value is not None:
            return _error("value", "cannot be combined with count")
        count = m.count
        if count is None or count < 1 or not float(count).is_integer():
            return _error("count", "must be a whole number of at least 1")
        if m.sum is None:
            return _error("sum", "is required when count is set")
        mean = m.sum / count
        return (i, info.key, sid, t, info.aggregate_period, count, m.sum,
                mean if m.min is None else m.min, mean if m.max is None else m.max,
                mean if m.last is None else m.last, 0.0 if m.stddev is None else m.stddev)

    def _columns(self, rows: list[tuple[Any, ...]], errors: list[tuple[int, dict[str, str]]], filtered: int,
                 total: int, new_series: list[tuple[str, int, dict[str, str]]], now: float) -> IngestResult:
        batch = None
        if rows:
            idx, keys, sids, times, periods, counts, sums, mins, maxs, lasts, sds = zip(*rows, strict=True)
            values = np.array([sums, mins, maxs, lasts, sds], dtype=np.float64)
            magnitude = np.abs(values)
            if bool((magnitude > MAX_EXPONENT).any()):
                raise ParamsError({"value": ["has a base-10 exponent larger than 126"]})
            tiny = (magnitude < MIN_EXPONENT) & (values != 0.0)
            if tiny.any():
                values[tiny] = 0.0
            t = np.array(times, dtype=np.float64)
            finite = np.isfinite(t)
            bad_time = (t < now - self.past_window) | (t > now + self.future_window) | ~finite
            if not finite.all():
                t = np.where(finite, t, 0.0)  # refused below; only keeps the integer cast defined
            t = np.floor(t).astype(np.int64)
            period = np.array(periods, dtype=np.int64)
            aggregated = period > 0
            uniq = np.zeros(len(rows), dtype=np.uint64)
            if aggregated.any():
                t = np.where(aggregated, t - t % np.maximum(period, 1), t)
                uniq[aggregated] = np.frombuffer(secrets.token_bytes(8 * int(aggregated.sum())),
                                                 dtype=np.uint64) | np.uint64(1)
            columns = {
                "series_id": np.array(sids, dtype=np.uint64), "time": t.astype(np.uint32), "uniq": uniq,
                "count": np.array(counts, dtype=np.float64).astype(np.uint64), "sum": values[0], "min": values[1],
                "max": values[2], "last": values[3], "stddev": values[4],
            }
            metric = pa.array(keys, pa.string())
            keep = ~bad_time
            if bad_time.any():
                for j in np.flatnonzero(bad_time):
                    errors.append((idx[j], _error(
                        "time", f"must be within the last {self.past_window} seconds and at most "
                                f"{self.future_window} seconds in the future")))
                # Copies only when some row is refused (the usual request keeps every row).
                columns = {name: column[keep] for name, column in columns.items()}
                metric = metric.filter(pa.array(keep))
            if keep.any():
                table = pa.table({"metric": metric, **{name: pa.array(column) for name, column in columns.items()}})
                batch = SampleBatch(table, new_series)
        accepted = batch.rows if batch else 0
        errors.sort(key=lambda e: e[0])
        return IngestResult(total=total, accepted=accepted, failed=len(errors), filtered=filtered,
                            errors=[e for _, e in errors[:MAX_REPORTED_ERRORS]], batch=batch)


class _TopIn(msgspec.Struct):
    time: float | None = None
    period: int | None = None
