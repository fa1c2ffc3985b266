"""Composite queries: the composite language evaluated over the measurement store.

`Composer.compose` serves `GET /v1/measurements?compose=…` (and the legacy `/v1/metrics?compose=`),
persisted composite metrics and chart streams with a `composite`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from vigil.errors import param_error
from vigil.metrics import composite, tags_search
from vigil.metrics.catalog import Metric, MetricCatalog
from vigil.metrics.query import MeasurementQuery, MeasurementReader, TimeWindow, time_window
from vigil.metrics.tagfilter import EVERYTHING, And, Has, TagFilter, from_tags_param

FUNCTIONS = ("mean", "sum", "min", "max", "count")


@lru_cache(maxsize=512)
def parse(expression: str) -> composite.Expr:
    """Parse once per distinct expression; a bad one is a 400 naming `compose`."""
    try:
        return composite.parse(expression)
    except composite.CompositeError as exc:
        raise param_error("compose", str(exc)) from None


class StoreSource:
    """The composite evaluator's SeriesSource over the measurement store."""

    def __init__(self, reader: MeasurementReader, catalog: MetricCatalog, extra: TagFilter, max_series: int) -> None:
        self.reader = reader
        self.catalog = catalog
        self.extra = extra
        self.max_series = max_series
        self.metrics: dict[str, Metric] = {}

    async def _metrics(self, metric: str) -> list[Metric]:
        if "*" in metric:
            return [m for m in await self.catalog.select(pattern=metric) if m.type != "composite"]
        found = await self.catalog.get(metric)
        return [found] if found is not None and found.type != "composite" else []

    def _query(self, tags: dict[str, list[str]], function: str, start: int, end: int, resolution: int,
               how: str | None = None, by: tuple[str, ...] = ()) -> MeasurementQuery:
        if function not in FUNCTIONS:
            raise param_error("compose", f"series function must be one of {', '.join(FUNCTIONS)}")
        tag_filter = from_tags_param({k: v for k, v in tags.items()} if tags else None)
        if self.extra is not EVERYTHING:
            tag_filter = And((tag_filter, self.extra))
        if by:
            tag_filter = And((tag_filter, *(Has(k) for k in by)))
        window = TimeWindow(start - start % resolution, max(start, end - 1), resolution)
        return MeasurementQuery(window, tag_filter, function, by if how else None, how)

    async def fetch(self, metric: str, tags: dict[str, list[str]], function: str, start: int, end: int,
                    resolution: int) -> list[composite.Series]:
        query = self._query(tags, function, start, end, resolution)
        out: list[composite.Series] = []
        for m in sorted(await self._metrics(metric), key=lambda m: m.key):
            self.metrics[m.name] = m
            page = await self.reader.page(m, query, self.max_series)
            out += [composite.Series(m.name, s.tags, s.times, s.values, m.period) for s in page.streams]
        return out

    async def fetch_combined(self, metric: str, tags: dict[str, list[str]], function: str, how: str,
                             by: tuple[str, ...], start: int, end: int,
                             resolution: int) -> tuple[list[composite.Series], int]:
        query = self._query(tags, function, start, end, resolution, how, by)
        out: list[composite.Series] = []
        inputs = 0
        for m in await self._metrics(metric):
            self.metrics[m.name] = m
            page = await self.reader.page(m, query, self.max_series, shared_tags=True)
            out += [composite.Series(m.name, s.tags, s.times, s.values, m.period) for s in page.streams]
            inputs += page.inputs
        return out, inputs


class Composer:
    def __init__(self, reader: MeasurementReader, catalog: MetricCatalog, limits: composite.Limits) -> None:
        self.reader = reader
        self.catalog = catalog
        self.limits = limits

    async def compose(self, expression: str, *, start_time: int, end_time: int | None, resolution: int,
                      extra: TagFilter = EVERYTHING) -> dict[str, Any]:
        """The wrapped response: {"series": [...], "compose": expression, "resolution": resolution}."""
        window = time_window({"start_time": start_time, "end_time": end_time, "resolution": resolution},
                             require_start=True)
        source = StoreSource(self.reader, self.catalog, extra, self.limits.max_series)
        try:
            result = await composite.evaluate(parse(expression), source, start=window.start, end=window.end + 1,
                                              resolution=window.resolution, limits=self.limits)
        except composite.CompositeError as exc:
            raise param_error("compose", str(exc)) from None
        series = []
        for s in result:
            metric = source.metrics.get(s.metric)
            series.append({
                "tags": dict(sorted(s.tags.items())),
                "measurements": [{"time": t, "value": v}
                                 for t, v in zip(s.times.tolist(), s.values.tolist(), strict=True)],
                "metric": {"name": s.metric, "type": "gauge",
                           "attributes": metric.attributes if metric else None,
                           "period": metric.period if metric else None},
                "period": s.period,
                "query": {"metric": s.metric, "tags": dict(sorted(s.tags.items()))},
            })
        return {"series": series, "compose": expression, "resolution": window.resolution}

    async def read_persisted(self, metric: Metric, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/measurements/:name of a composite metric: its definition evaluated, its input
        streams narrowed by `tags_search` (the seed: composites are filtered with tags_search)."""
        window = time_window(params)
        search = params.get("tags_search")
        extra = tags_search.parse(search) if isinstance(search, str) and search.strip() else EVERYTHING
        body = await self.compose(metric.composite or "", start_time=window.start, end_time=window.end,
                                  resolution=window.resolution, extra=extra)
        return {"series": [{"tags": s["tags"], "measurements": s["measurements"]} for s in body["series"]],
                "resolution": body["resolution"], "name": metric.name}
