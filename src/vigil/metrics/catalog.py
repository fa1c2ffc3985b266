"""The metric catalogue: every metric's properties, in the metadata DB, with an in-memory cache."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from vigil.errors import ParamsError, param_error
from vigil.metrics.names import metric_key
from vigil.metrics.properties import UNSET, MetricChanges
from vigil.storage import tables
from vigil.storage.metadata import MetadataDB

ORDERABLE = ("name", "created_at", "updated_at")
DEFAULT_SSA_PERIOD = 60


@dataclass(frozen=True, slots=True)
class Metric:
    id: int
    key: str
    name: str
    type: str
    display_name: str | None
    description: str | None
    period: int | None
    source_lag: int | None
    composite: str | None
    attributes: dict[str, Any] | None
    created_at: float
    updated_at: float

    @property
    def aggregate_period(self) -> int:
        """The service-side aggregation period, or 0 when the metric is not aggregated."""
        if self.attributes and self.attributes.get("aggregate") is True:
            return self.period or DEFAULT_SSA_PERIOD
        return 0

    @property
    def summarize_function(self) -> str:
        return (self.attributes or {}).get("summarize_function") or "average"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "display_name": self.display_name,
            "description": self.description,
            "period": self.period,
            "type": self.type,
            "attributes": self.attributes,
            "source_lag": self.source_lag,
        }
        if self.type == "composite":
            out["composite"] = self.composite
        return out


def _row_to_metric(row: Any) -> Metric:
    return Metric(row["id"], row["key"], row["name"], row["type"], row["display_name"], row["description"],
                  row["period"], row["source_lag"], row["composite"], row["attributes"], row["created_at"],
                  row["updated_at"])


def name_pattern(pattern: str) -> Callable[[str], bool]:
    """`*` wildcards over lower-cased names (the namespace is case-insensitive)."""
    lowered = pattern.lower()
    return lambda name: fnmatch.fnmatchcase(name.lower(), lowered)


@dataclass(frozen=True, slots=True)
class NewMetric:
    name: str
    period: int | None
    attributes: dict[str, Any] | None


class MetricCatalog:
    """All reads of a single metric go through the cache; lists and writes go to the database.

    Bounded: at most `cache_limit` metrics are cached; past that the cache starts over.
    """

    def __init__(self, db: MetadataDB, cache_limit: int = 200_000) -> None:
        self._db = db
        self._cache: dict[str, Metric | None] = {}
        self._cache_limit = cache_limit
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        self._cache.clear()
        for listener in self._listeners:
            listener()

    def _remember(self, key: str, metric: Metric | None) -> None:
        if len(self._cache) >= self._cache_limit:
            self._cache.clear()
        self._cache[key] = metric

    async def get(self, name: str) -> Metric | None:
        key = metric_key(name)
        if key in self._cache:
            return self._cache[key]
        t = tables.metrics
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.key == key))).mappings().first()
        metric = _row_to_metric(row) if row else None
        self._remember(key, metric)
        return metric

    async def get_many(self, names: Iterable[str]) -> dict[str, Metric]:
        """Metrics by key for the names that exist."""
        keys = {metric_key(n) for n in names}
        found = {k: m for k in keys if (m := self._cache.get(k)) is not None}
        missing = [k for k in keys if k not in self._cache]
        if missing:
            t = tables.metrics
            async with self._db.connect() as conn:
                for start in range(0, len(missing), 500):
                    chunk = missing[start:start + 500]
                    rows = (await conn.execute(sa.select(t).where(t.c.key.in_(chunk)))).mappings().all()
                    for row in rows:
                        found[row["key"]] = _row_to_metric(row)
            for k in missing:
                self._remember(k, found.get(k))
        return found

    def _insert_ignoring_duplicates(self, conn: Any, values: list[dict[str, Any]]) -> Any:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return conn.execute(insert(tables.metrics).values(values).on_conflict_do_nothing(index_elements=["key"]))

    async def ensure(self, new: dict[str, NewMetric], user_agent: str | None) -> dict[str, Metric]:
        """Create the metrics that do not exist yet (as gauges); returns every requested metric by key."""
        existing = await self.get_many(new)
        missing = [key for key in new if key not in existing]
        if missing:
            now = time.time()
            values = []
            for key in missing:
                spec = new[key]
                attributes = dict(spec.attributes or {})
                if user_agent and "created_by_ua" not in attributes:
                    attributes["created_by_ua"] = user_agent[:255]
                values.append({"key": key, "name": spec.name, "type": "gauge", "display_name": None,
                               "description": None, "period": spec.period, "source_lag": None,
                               "composite": None, "attributes": attributes or None,
                               "created_at": now, "updated_at": now})
            async with self._db.begin() as conn:
                for start in range(0, len(values), 500):
                    await self._insert_ignoring_duplicates(conn, values[start:start + 500])
            for key in missing:
                self._cache.pop(key, None)
            existing.update(await self.get_many(missing))
        return existing

    async def put(self, name: str, changes: MetricChanges, user_agent: str | None) -> tuple[Metric, bool]:
        """Create or update one metric. Returns (metric, created)."""
        current = await self.get(name)
        now = time.time()
        t = tables.metrics
        if current is None:
            kind = changes.type if changes.type is not UNSET else "gauge"
            composite = changes.composite if changes.composite is not UNSET else None
            if kind == "composite" and not composite:
                raise param_error("composite", "is required for a composite metric")
            attributes = {k: v for k, v in changes.attributes.items()}
            if user_agent and "created_by_ua" not in attributes:
                attributes["created_by_ua"] = user_agent[:255]
            values = {"key": metric_key(name), "name": name, "type": kind,
                      "display_name": _given(changes.display_name), "description": _given(changes.description),
                      "period": _given(changes.period), "source_lag": _given(changes.source_lag),
                      "composite": composite if kind == "composite" else None,
                      "attributes": attributes or None, "created_at": now, "updated_at": now}
            async with self._db.begin() as conn:
                await self._insert_ignoring_duplicates(conn, [values])
            self._changed()
            created = await self.get(name)
            assert created is not None
            return created, True
        updated = self.apply(current, changes)
        async with self._db.begin() as conn:
            await conn.execute(t.update().where(t.c.id == current.id).values(**_row_values(updated, now)))
        self._changed()
        return replace(updated, updated_at=now), False

    @staticmethod
    def apply(metric: Metric, changes: MetricChanges) -> Metric:
        errors: dict[str, list[str]] = {}
        if changes.type is not UNSET and changes.type != metric.type:
            errors["type"] = [f"cannot change a {metric.type} metric into a {changes.type} metric"]
        composite = metric.composite
        if changes.composite is not UNSET:
            if metric.type != "composite":
                errors["composite"] = ["is only used when type is composite"]
            elif not changes.composite:
                errors["composite"] = ["is required for a composite metric"]
            composite = changes.composite
        if errors:
            raise ParamsError(errors)
        attributes = dict(metric.attributes or {})
        attributes.update(changes.attributes)
        return replace(
            metric,
            display_name=metric.display_name if changes.display_name is UNSET else changes.display_name,
            description=metric.description if changes.description is UNSET else changes.description,
            period=metric.period if changes.period is UNSET else changes.period,
            source_lag=metric.source_lag if changes.source_lag is UNSET else changes.source_lag,
            composite=composite,
            attributes=attributes or None,
        )

    async def select(self, names: list[str] | None = None, pattern: str | None = None) -> list[Metric]:
        """The metrics named in `names`, or matching one `*` pattern."""
        t = tables.metrics
        async with self._db.connect() as conn:
            if names is not None:
                keys = sorted({metric_key(n) for n in names})
                rows = []
                for start in range(0, len(keys), 500):
                    rows += (await conn.execute(sa.select(t).where(t.c.key.in_(keys[start:start + 500]))
                                                )).mappings().all()
            else:
                like = (pattern or "").lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                rows = (await conn.execute(sa.select(t).where(
                    t.c.key.like(like.replace("*", "%"), escape="\\")))).mappings().all()
        return [_row_to_metric(r) for r in rows]

    async def update_many(self, metrics: list[Metric], changes: MetricChanges) -> None:
        now = time.time()
        updated = [self.apply(m, changes) for m in metrics]  # validate every one before writing any
        t = tables.metrics
        async with self._db.begin() as conn:
            for metric in updated:
                await conn.execute(t.update().where(t.c.id == metric.id).values(**_row_values(metric, now)))
        self._changed()

    async def delete(self, metrics: list[Metric]) -> None:
        t = tables.metrics
        async with self._db.begin() as conn:
            ids = [m.id for m in metrics]
            for start in range(0, len(ids), 500):
                await conn.execute(t.delete().where(t.c.id.in_(ids[start:start + 500])))
        self._changed()

    async def list(self, *, name: str | None, offset: int, length: int, orderby: str, descending: bool
                   ) -> tuple[list[Metric], int, int]:
        """A page of metrics whose name contains `name` (case-insensitive); returns (page, found, total)."""
        t = tables.metrics
        where = []
        if name:
            needle = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            # A `*` in the search is a wildcard (the client's list_metrics(name="*.time") relies on it).
            where.append(t.c.key.like(f"%{needle.replace('*', '%')}%", escape="\\"))
        column = getattr(t.c, "key" if orderby == "name" else orderby)
        order = column.desc() if descending else column.asc()
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            found = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar() or 0
            rows = (await conn.execute(sa.select(t).where(*where).order_by(order, t.c.id)
                                       .offset(offset).limit(length))).mappings().all()
        return [_row_to_metric(r) for r in rows], found, total


def _given(value: Any) -> Any:
    return None if value is UNSET else value


def _row_values(metric: Metric, now: float) -> dict[str, Any]:
    return {"display_name": metric.display_name, "description": metric.description, "period": metric.period,
            "source_lag": metric.source_lag, "composite": metric.composite, "attributes": metric.attributes,
            "updated_at": now}
