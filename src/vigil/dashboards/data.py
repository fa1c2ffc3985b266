"""A chart's streams evaluated into series over a time window, transform functions applied.

A metric stream becomes one measurement query (its tag filters, group_function and
summary_function translated into the query parameters of GET /v1/measurements/:name); a composite
stream is run by the composite evaluator. The result is what the UI and the snapshot renderer draw.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from vigil.dashboards import transform
from vigil.dashboards.charts import Chart, Stream
from vigil.dashboards.fields import MAX_TIMESTAMP, Fields
from vigil.dashboards.streams import TAG_NAME, TAG_PATTERN
from vigil.errors import NotFound, ParamsError, RequestError, Unavailable
from vigil.metrics.tagfilter import from_tags_param

MAX_RESOLUTION = 604_800
DEFAULT_DURATION = 3_600
# Without a resolution the window is cut into about this many points, never finer than a minute:
# the usual reporting period of agents.
TARGET_POINTS = 720
MIN_DEFAULT_RESOLUTION = 60
_GROUP_BY_FUNCTION = {"average": "mean", "sum": "sum", "min": "min", "max": "max"}
_SUMMARY = {"average": "mean", "sum": "sum", "min": "min", "max": "max", "count": "count"}
MAX_SPACE_FILTER_TAGS = 50
MAX_SPACE_FILTER_VALUES = 100


class Composer(Protocol):
    async def compose(self, expression: str, *, start_time: int, end_time: int, resolution: int,
                      **kwargs: Any) -> dict[str, Any]: ...


ReadMetric = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int
    resolution: int


def window(params: dict[str, Any], max_points: int, now: float | None = None) -> Window:
    """start_time / end_time / duration / resolution, with defaults: the last hour, about 720 points."""
    f = Fields(params)
    start = f.timestamp("start_time")
    end = f.timestamp("end_time")
    duration = f.integer("duration", minimum=1, maximum=MAX_TIMESTAMP)
    resolution = f.integer("resolution", minimum=1, maximum=MAX_RESOLUTION)
    f.check()
    end_i = end if isinstance(end, int) else int(time.time() if now is None else now)
    if isinstance(start, int):
        start_i = start
        if isinstance(duration, int) and not isinstance(end, int):
            end_i = start + duration
    else:
        start_i = end_i - (duration if isinstance(duration, int) else DEFAULT_DURATION)
    if start_i >= end_i:
        raise ParamsError({"start_time": ["must be before end_time"]})
    span = end_i - start_i
    if not isinstance(resolution, int):
        resolution = max(MIN_DEFAULT_RESOLUTION, math.ceil(span / TARGET_POINTS))
    if span / resolution > max_points:
        raise ParamsError({"resolution": [f"gives more than {max_points} points per series over this window; "
                                          f"use at least {math.ceil(span / max_points)}"]})
    return Window(start_i, end_i, resolution)


def space_filter(raw: Any) -> list[dict[str, Any]] | None:
    """`tags[host]=web1` (repeatable: OR) on GET …/data: the UI's space-level filter. The values
    replace the filters of the charts' tags of those names (a dynamic `@host` tag takes them), as a
    snapshot's `subject.chart.tags` do."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict) or len(raw) > MAX_SPACE_FILTER_TAGS:
        raise ParamsError({"tags": [f"must be at most {MAX_SPACE_FILTER_TAGS} tags[name]=pattern pairs"]})
    out = []
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not TAG_NAME.match(name) or not 0 < len(values) <= MAX_SPACE_FILTER_VALUES \
                or not all(isinstance(v, str) and TAG_PATTERN.match(v) for v in values):
            raise ParamsError({f"tags.{name[:64]}": ["must be a tag name with tag value patterns (* wildcards)"]})
        out.append({"name": name, "values": values})
    return out


def query_params(stream: Stream, win: Window, extra_tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The measurement query parameters of a metric stream."""
    spec = stream.spec
    params: dict[str, Any] = {"start_time": win.start, "end_time": win.end, "resolution": win.resolution}
    if "summary_function" in spec:
        params["summary_function"] = _SUMMARY[spec["summary_function"]]
    filters: dict[str, list[str]] = {}
    grouped: list[str] = []
    overrides = {t["name"].lstrip("@").lower(): t for t in extra_tags or [] if t.get("values")}
    for tag in spec.get("tags", []):
        name = tag["name"].lstrip("@").lower()
        if tag.get("grouped"):
            grouped.append(name)
        if name in overrides:
            continue
        # A dynamic tag without values waits for a space-level filter, which only a snapshot gives.
        if tag.get("values"):
            filters[name] = [v.lower() for v in tag["values"]]
    for name, tag in overrides.items():
        filters[name] = [v.lower() for v in tag["values"]]
    if filters:
        params["tags"] = filters
    function = spec.get("group_function", "average")
    if function != "breakout":
        params["group_by"] = ",".join(grouped) if grouped else "*"
        params["group_by_function"] = _GROUP_BY_FUNCTION[function]
    return params


def _label(spec: dict[str, Any]) -> str:
    return spec.get("name") or spec.get("metric") or spec.get("composite", "")


class ChartData:
    def __init__(self, read_metric: ReadMetric, composer: Callable[[], Composer | None], *,
                 max_series: int, max_points: int) -> None:
        self._read_metric = read_metric
        self._composer = composer  # looked up on use: the evaluator may be built after us
        self.max_series = max_series
        self.max_points = max_points

    async def evaluate(self, chart: Chart, params: dict[str, Any], *,
                       extra_tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        win = window(params, self.max_points)
        return await self.evaluate_window(chart, win, extra_tags=extra_tags)

    async def evaluate_window(self, chart: Chart, win: Window, *,
                              extra_tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        series: list[dict[str, Any]] = []
        for stream in chart.streams:
            for one in await self._stream_series(stream, win, extra_tags):
                series.append(one)
                if len(series) > self.max_series:
                    raise RequestError(f"The chart's streams give more than {self.max_series} series; narrow "
                                       "their tag filters or group them")
        return {"resolution": win.resolution, "series": series}

    async def _read_all(self, metric: str, params: dict[str, Any]) -> dict[str, Any]:
        """Every page of a measurement query, stopping once past the series limit."""
        series: list[dict[str, Any]] = []
        resolution = params["resolution"]
        cursor = None
        while True:
            result = await self._read_metric(metric, {**params, "cursor": cursor} if cursor else params)
            # The reader answers (body, cursor of the next page); a body alone is a single page.
            body, cursor = result if isinstance(result, tuple) else (result, None)
            series.extend(body.get("series", []))
            resolution = body.get("resolution", resolution)
            if cursor is None or len(series) > self.max_series:
                return {"series": series, "resolution": resolution}

    async def _stream_series(self, stream: Stream, win: Window,
                             extra_tags: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        spec = stream.spec
        if "composite" in spec:
            composer = self._composer()
            if composer is None:
                raise Unavailable("Composite streams cannot be evaluated yet: this server has no composite "
                                  "evaluator")
            kwargs: dict[str, Any] = {}
            if extra_tags:  # a snapshot's tag filters narrow every series the composite reads
                kwargs["extra"] = from_tags_param({t["name"].lstrip("@").lower(): [v.lower() for v in t["values"]]
                                                   for t in extra_tags if t.get("values")})
            result = await composer.compose(spec["composite"], start_time=win.start, end_time=win.end,
                                            resolution=win.resolution, **kwargs)
        else:
            try:
                result = await self._read_all(spec["metric"], query_params(stream, win, extra_tags))
            except NotFound:
                return []  # a chart may show a metric before its first measurement
        resolution = int(result.get("resolution") or win.resolution)
        period = max(spec.get("period") or 0, resolution)
        fn = transform.parse(spec["transform_function"]) if "transform_function" in spec else None
        out = []
        for s in result.get("series", []):
            points = s.get("measurements", [])
            if fn is not None and points:
                values = fn.apply(np.fromiter((p["value"] for p in points), np.float64, len(points)), period)
                points = [{"time": p["time"], "value": float(v)} for p, v in zip(points, values.tolist(), strict=True)
                          if math.isfinite(v)]
            out.append({"stream_id": stream.id, "name": _label(spec), "tags": s.get("tags") or {},
                        "measurements": points})
        return out
