"""GET /v1/measurements/:name, the domain half: parameters → streams of (time, value).

Steps: validate the parameters; find the metric's series whose tags pass the filter (series index);
keep those with points in the window; sort the output streams by their tag pairs and take one page;
read that page's buckets from the tier(s) the planner picks; apply the summary function, then the
group_by function across the series of each group.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from vigil.errors import NotFound, ParamsError, RequestError, param_error
from vigil.metrics import samples, tags_search, tiers
from vigil.metrics.catalog import Metric, MetricCatalog
from vigil.metrics.reads import SampleReads
from vigil.metrics.recent import RecentSamples
from vigil.metrics.series_index import Selection, SeriesIndex
from vigil.metrics.tagfilter import And, Has, TagFilter, from_tags_param
from vigil.storage.telemetry import TelemetryStore

MAX_RESOLUTION = 604_800
PAGE_SIZE = 100
SUMMARY_FUNCTIONS = ("mean", "sum", "min", "max", "count", "derivative", "stddev", "all")
GROUP_FUNCTIONS = ("sum", "min", "max", "mean")
ALL_FIELDS = ("count", "sum", "min", "max", "last", "stddev")
# A metric's summarize_function attribute names the same functions with the seed's other spelling.
_FROM_ATTRIBUTE = {"average": "mean", "sum": "sum", "count": "count", "min": "min", "max": "max"}


def _int_param(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, list | dict):
        raise param_error(name, "must be given once")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise param_error(name, "is not a number") from None
    if not np.isfinite(number) or not number.is_integer():
        raise param_error(name, "must be a whole number")
    return int(number)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: int
    end: int
    resolution: int


def time_window(params: dict[str, Any], now: float | None = None, *, require_start: bool = False) -> TimeWindow:
    """The seed's rules: start_time, or duration (back from end_time, default now); never all three.
    The start is floored to the resolution."""
    start = _int_param(params, "start_time")
    end = _int_param(params, "end_time")
    duration = _int_param(params, "duration")
    resolution = _int_param(params, "resolution")
    errors: dict[str, list[str]] = {}
    if start is not None and end is not None and duration is not None:
        errors["duration"] = ["cannot be combined with both start_time and end_time"]
    if resolution is None:
        errors["resolution"] = ["is required"]
    elif not 1 <= resolution <= MAX_RESOLUTION:
        errors["resolution"] = [f"must be between 1 and {MAX_RESOLUTION} seconds"]
    if start is None and (duration is None or require_start):
        errors["start_time"] = ["is required" + ("" if require_start else " (or duration)")]
    if duration is not None and duration <= 0:
        errors["duration"] = ["must be positive"]
    if errors:
        raise ParamsError(errors)
    assert resolution is not None
    now_i = int(time.time() if now is None else now)
    if end is None:
        end = start + duration if start is not None and duration is not None else now_i
    if start is None:
        start = end - duration  # type: ignore[operator]
    if start > end:
        raise param_error("start_time", "must be before end_time")
    return TimeWindow(start - start % resolution, end, resolution)


@dataclass(frozen=True)
class MeasurementQuery:
    window: TimeWindow
    tag_filter: TagFilter
    summary: str
    group_by: tuple[str, ...] | None = None  # () is group_by=*: everything in one stream
    group_function: str | None = None
    offset: int = 0


def _summary(params: dict[str, Any], metric: Metric) -> str:
    name = params.get("summary_function")
    if name is None or name == "":
        return _FROM_ATTRIBUTE.get(metric.summarize_function, "mean")
    if name not in SUMMARY_FUNCTIONS:
        raise param_error("summary_function", "must be one of " + ", ".join(SUMMARY_FUNCTIONS))
    return str(name)


def _cursor(params: dict[str, Any]) -> dict[str, int] | None:
    raw = params.get("cursor")
    if raw is None:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(str(raw).encode() + b"=="))
        return {k: int(data[k]) for k in ("o", "s", "e")}
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise param_error("cursor", "is not a cursor this server handed out") from None


def encode_cursor(offset: int, window: TimeWindow) -> str:
    raw = orjson.dumps({"o": offset, "s": window.start, "e": window.end})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_query(params: dict[str, Any], metric: Metric, now: float | None = None) -> MeasurementQuery:
    cursor = _cursor(params)
    if cursor:
        # A page after the first keeps the first page's window, even for a `duration` query.
        params = {**params, "start_time": cursor["s"], "end_time": cursor["e"], "duration": None}
    window = time_window(params, now)
    if params.get("tags_search") not in (None, "") and params.get("tags") not in (None, "", {}):
        raise param_error("tags_search", "may not be combined with tags")
    search = params.get("tags_search")
    if search not in (None, ""):
        if not isinstance(search, str):
            raise param_error("tags_search", "must be given once")
        tag_filter = tags_search.parse(search)
    else:
        tag_filter = from_tags_param(params.get("tags"))
    summary = _summary(params, metric)
    group_by = None
    group_function = None
    raw_group = params.get("group_by")
    if raw_group not in (None, ""):
        if not isinstance(raw_group, str):
            raise param_error("group_by", "must be one comma-separated list of tag names, or *")
        keys = tuple(k.strip().lower() for k in raw_group.split(",") if k.strip())
        if raw_group.strip() != "*" and (not keys or any(not k or "*" in k for k in keys)):
            raise param_error("group_by", "must be a comma-separated list of tag names, or *")
        group_by = () if raw_group.strip() == "*" else keys
        group_function = params.get("group_by_function")
        if group_function in (None, ""):
            raise param_error("group_by_function", "is required with group_by")
        if group_function not in GROUP_FUNCTIONS:
            raise param_error("group_by_function", "must be one of " + ", ".join(GROUP_FUNCTIONS))
        if summary == "all":
            raise param_error("summary_function", "all cannot be combined with group_by")
        if group_by:
            tag_filter = And((tag_filter, *(Has(k) for k in group_by)))
    return MeasurementQuery(window, tag_filter, summary, group_by, group_function, cursor["o"] if cursor else 0)


@dataclass
class Stream:
    tags: dict[str, str]
    times: np.ndarray
    values: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)  # summary_function=all
    position: int = 0  # of its group among those read together


@dataclass
class Page:
    streams: list[Stream]
    resolution: int
    next_offset: int | None
    window: TimeWindow
    inputs: int = 0  # series read for these streams


def _combine(function: str, members: list[Stream]) -> Stream:
    times = np.concatenate([m.times for m in members])
    values = np.concatenate([m.values for m in members])
    unique, inverse = np.unique(times, return_inverse=True)
    if function in ("sum", "mean"):
        out = np.zeros(len(unique))
        np.add.at(out, inverse, values)
        if function == "mean":
            out /= np.bincount(inverse, minlength=len(unique))
    elif function == "min":
        out = np.full(len(unique), np.inf)
        np.minimum.at(out, inverse, values)
    else:
        out = np.full(len(unique), -np.inf)
        np.maximum.at(out, inverse, values)
    return Stream({}, unique, out)


def _shared(members: list[dict[str, str]]) -> dict[str, str]:
    """The tag pairs every member has."""
    common = set(members[0].items()).intersection(*(m.items() for m in members[1:]))
    return dict(sorted(common))


def _sort_key(tags: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(tags.items())


# Past this many candidates, asking the engine which series have points does not name them.
_NAMED_LIMIT = 5_000


_Group = tuple[dict[str, str], np.ndarray]  # (tags shown, member series ids)


def _inputs(chosen: list[_Group]) -> int:
    return sum(len(members) for _, members in chosen)


def _kept(selection: Selection, keep: np.ndarray) -> Selection:
    return Selection(selection.ids[keep], [t for t, k in zip(selection.tags, keep.tolist(), strict=True) if k], False)


class MeasurementReader:
    def __init__(self, store: TelemetryStore, catalog: MetricCatalog, sync: Callable[[], Awaitable[None]], *,
                 tiers_: list[tiers.Tier], watermark: Callable[[str], int], max_series: int, max_points: int,
                 index: SeriesIndex | None = None, recent: RecentSamples | None = None) -> None:
        self.catalog = catalog
        self.reads = SampleReads(store, sync, recent)
        self.tiers = tiers_
        self.watermark = watermark
        self.max_series = max_series
        self.max_points = max_points
        self.index = index or SeriesIndex(store, sync=sync)
        # Reads a composite metric (set by whoever owns the composer, which is built on this reader).
        self.composites: Callable[[Metric, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None

    async def metric(self, name: str) -> Metric:
        metric = await self.catalog.get(name)
        if metric is None:
            raise NotFound(f"Metric {name} does not exist")
        return metric

    async def read(self, name: str, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The seed's response body, and the cursor of the next page (or None)."""
        metric = await self.metric(name)
        if metric.type == "composite" and self.composites is not None:
            return await self.composites(metric, params), None
        query = parse_query(params, metric)
        page = await self.page(metric, query)
        series = []
        for s in page.streams:
            if query.summary == "all":
                columns = [s.times.tolist(), s.values.tolist(), *(s.fields[f].tolist() for f in ALL_FIELDS)]
                measurements = [dict(zip(("time", "value", *ALL_FIELDS), row, strict=True))
                                for row in zip(*columns, strict=True)]
            else:
                measurements = [{"time": t, "value": v}
                                for t, v in zip(s.times.tolist(), s.values.tolist(), strict=True)]
            series.append({"tags": s.tags, "measurements": measurements})
        cursor = encode_cursor(page.next_offset, page.window) if page.next_offset is not None else None
        return {"series": series, "resolution": page.resolution, "name": metric.name}, cursor

    async def page(self, metric: Metric, query: MeasurementQuery, page_size: int = PAGE_SIZE, *,
                   shared_tags: bool = False) -> Page:
        """From candidate position `query.offset` on, the next `page_size` streams that have points.

        The candidates are the streams the filter selects, in output order. One statement reads the
        next `page_size` of them and one more, the probe: when every candidate has points (the usual
        case) the page is full and the probe tells whether a next page exists, in that one round trip.
        Otherwise the engine is asked which later candidates have points, and the page is completed
        from them. A group's stream shows its group_by tags, or with `shared_tags` every tag its
        member series with points share (what a composite aggregate keeps)."""
        window = query.window
        sources = tiers.plan(self.tiers, window.start, window.end, window.resolution, int(time.time()),
                             self.watermark(metric.key))
        selection, groups, checked = await self._candidates(metric, query, sources, shared_tags)
        first = query.offset
        chosen = groups[first:first + page_size]
        rest = groups[first + page_size:]
        shared = selection if shared_tags else None
        if checked or not rest:
            everything = selection.everything and len(chosen) == len(groups)
            streams = await self._read(metric, query, sources, chosen, everything, shared)
            return Page(streams, window.resolution, first + page_size if rest else None, window, _inputs(chosen))
        streams = await self._read(metric, query, sources, chosen + rest[:1], False, shared)
        probed = bool(streams) and streams[-1].position == len(chosen)
        if probed:
            streams.pop()
        if len(streams) == page_size:
            more = probed or await self._any_later(metric, sources, rest[1:])
            return Page(streams, window.resolution, first + page_size if more else None, window, _inputs(chosen))
        # Some candidates had no points: complete the page from the later candidates that have.
        later = await self._later_with_points(metric, sources, rest)
        missing = page_size - len(streams)
        next_offset = first + page_size if later else None
        if later:
            extra = [rest[i] for i in later[:missing]]
            streams += await self._read(metric, query, sources, extra, False, shared)
            chosen = chosen + extra
            next_offset = None if len(later) <= missing else first + page_size + later[missing - 1] + 1
        return Page(streams, window.resolution, next_offset, window, _inputs(chosen))

    async def _any_later(self, metric: Metric, sources: list[samples.Source], later: list[_Group]) -> bool:
        """Whether any of these candidates has a point in the sources."""
        if not later:
            return False
        ids = np.concatenate([members for _, members in later])
        if len(ids) > _NAMED_LIMIT:
            return bool(await self._later_with_points(metric, sources, later))
        return await self.reads.any_active(metric.key, sources, ids)

    async def _later_with_points(self, metric: Metric, sources: list[samples.Source],
                                 later: list[_Group]) -> list[int]:
        """Positions of the candidates that have a point in the sources."""
        ids = np.concatenate([members for _, members in later])
        found = await self.reads.active_series(metric.key, sources, ids if len(ids) <= _NAMED_LIMIT else None)
        with_points = set(found.tolist())
        return [i for i, (_, members) in enumerate(later) if not with_points.isdisjoint(members.tolist())]

    async def _candidates(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                          shared_tags: bool) -> tuple[Selection, list[_Group], bool]:
        """The candidate streams in output order, each (tags shown, member series ids), and whether
        they are known to have points."""
        selection = await self.index.select(metric.key, query.tag_filter)
        checked = False
        if selection is None:  # a metric too large to hold in memory: the engine filters
            found = await self.reads.matching_series(metric.key, query.tag_filter, sources, self.max_series)
            ordered = sorted((_sort_key(tags), sid) for sid, tags in found.items())
            selection = Selection(np.array([sid for _, sid in ordered], dtype=np.uint64),
                                  [dict(pairs) for pairs, _ in ordered], False)
            checked = True
        elif len(selection.ids) > self.max_series:  # the limit counts series with points only
            selection = await self._active(metric, sources, selection)
            checked = True
        if len(selection.ids) > self.max_series:
            raise RequestError(f"The query matches more than {self.max_series} streams; narrow it with tags")
        return selection, self._groups(query, selection, shared_tags), checked

    async def _read(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                    chosen: list[_Group], everything: bool, shared: Selection | None) -> list[Stream]:
        """The streams of `chosen` that have points, in order. With `shared` (the candidates), a group's
        tags are those its members with points share."""
        if query.group_by is None:
            return await self._series_streams(metric, query, sources, chosen)
        if query.summary == "derivative":
            return await self._combined_derivatives(metric, query, sources, chosen)
        return await self._group_streams(metric, query, sources, chosen, everything, shared)

    async def _active(self, metric: Metric, sources: list[samples.Source], selection: Selection) -> Selection:
        """The selected series that have a point in the sources."""
        named = not selection.everything and len(selection.ids) <= _NAMED_LIMIT
        active = await self.reads.active_series(metric.key, sources, selection.ids if named else None)
        return _kept(selection, np.isin(selection.ids, active))

    def _retag(self, query: MeasurementQuery, streams: list[Stream], active: Selection) -> None:
        keys = query.group_by or ()
        shared = {tuple(tags[k] for k in keys): tags for tags, _ in self._groups(query, active, True)}
        for stream in streams:
            stream.tags = shared[tuple(stream.tags[k] for k in keys)]

    @staticmethod
    def _groups(query: MeasurementQuery, selection: Selection, shared_tags: bool = False) -> list[_Group]:
        """Output streams in order: (tags shown, member series). The selection is in tag order already."""
        if query.group_by is None:
            ids = selection.ids
            return [(tags, ids[i:i + 1]) for i, tags in enumerate(selection.tags)]  # tags are in key order
        keys = query.group_by
        grouped: dict[tuple[str, ...], list[int]] = {}
        for row, tags in enumerate(selection.tags):
            grouped.setdefault(tuple(tags[k] for k in keys), []).append(row)
        if shared_tags:
            return [(_shared([selection.tags[r] for r in rows]), selection.ids[rows])
                    for _, rows in sorted(grouped.items())]
        return [(dict(sorted(zip(keys, key, strict=True))), selection.ids[rows])
                for key, rows in sorted(grouped.items())]

    async def _series_streams(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                              chosen: list[_Group]) -> list[Stream]:
        ids = np.concatenate([members for _, members in chosen]) if chosen else np.array([], dtype=np.uint64)
        per_series = await self._series_values(metric, query, sources, ids)
        streams = []
        for position, (tags, members) in enumerate(chosen):
            stream = per_series.get(int(members[0]))
            if stream is not None:
                stream.tags, stream.position = tags, position
                streams.append(stream)
        return streams

    async def _combined_derivatives(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                                    chosen: list[_Group]) -> list[Stream]:
        ids = np.concatenate([members for _, members in chosen]) if chosen else np.array([], dtype=np.uint64)
        per_series = await self._derivatives(metric, query, sources, ids)
        streams = []
        for position, (tags, members) in enumerate(chosen):
            present = [per_series[sid] for sid in members.tolist() if sid in per_series]
            if present:
                stream = _combine(query.group_function or "sum", present)
                stream.tags, stream.position = tags, position
                streams.append(stream)
        return streams

    async def _group_streams(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                             chosen: list[_Group], everything: bool, shared: Selection | None) -> list[Stream]:
        """Grouped streams, combined by the engine."""
        if not chosen:
            return []
        ids, groups = None, None  # one group of every series: nothing to name
        if len(chosen) > 1 or not everything:
            ids = np.concatenate([members for _, members in chosen])
            if len(chosen) > 1:
                groups = np.repeat(np.arange(len(chosen), dtype=np.uint32), [len(m) for _, m in chosen])
        table, with_points = await self.reads.read_grouped(
            metric.key, sources, ids, groups, query.window.resolution, query.summary,
            query.group_function or "sum", self.max_points, members=shared is not None)
        self._check_points(table.num_rows)
        g = table.column("g").to_numpy()
        times = table.column("t").to_numpy().astype(np.int64)
        values = table.column("value").to_numpy().astype(np.float64)
        streams = [Stream(chosen[index][0], times[lo:hi], values[lo:hi], position=index)
                   for index, lo, hi in _runs(g)]
        if shared is not None and with_points is not None and len(with_points) < len(shared.ids):
            # Some candidates had no points: the groups' shared tags are those of the members with points.
            self._retag(query, streams, _kept(shared, np.isin(shared.ids, with_points)))
        return streams

    def _check_points(self, rows: int) -> None:
        if rows > self.max_points:
            raise RequestError(f"The query returns more than {self.max_points} points; "
                               "use a coarser resolution, a shorter interval or a narrower tag filter")

    async def _series_values(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                             sids: np.ndarray) -> dict[int, Stream]:
        if query.summary == "derivative":
            return await self._derivatives(metric, query, sources, sids)
        table = await self.reads.read_buckets(metric.key, sources, sids, query.window.resolution,
                                              self.max_points, samples.needed_fields(query.summary))
        self._check_points(table.num_rows)
        ids = table.column("series_id").to_numpy()
        times = table.column("t").to_numpy().astype(np.int64)
        fields = samples.needed_fields(query.summary)
        columns = {c: table.column(c).to_numpy(zero_copy_only=False) for c in fields} if ids.size else {}
        function = _FROM_ATTRIBUTE.get(metric.summarize_function, "mean") if query.summary == "all" else query.summary
        values = samples.bucket_values(columns, function) if ids.size else ids
        out: dict[int, Stream] = {}
        for sid, lo, hi in _runs(ids):
            stream = Stream({}, times[lo:hi], values[lo:hi])
            if query.summary == "all":
                stream.fields = {f: columns[f][lo:hi].astype(np.float64) for f in ALL_FIELDS}
            out[sid] = stream
        return out

    async def _derivatives(self, metric: Metric, query: MeasurementQuery, sources: list[samples.Source],
                           sids: np.ndarray) -> dict[int, Stream]:
        """Per-step differences of consecutive points' `last` values (a drop is a counter reset: 0),
        summed into each resolution bucket. The first point of the window has no predecessor."""
        table = await self.reads.read_points(metric.key, sources, sids, self.max_points)
        if table.num_rows > self.max_points:
            raise RequestError(f"The query reads more than {self.max_points} points; "
                               "use a shorter interval or a narrower tag filter")
        ids = table.column("series_id").to_numpy()
        times = table.column("time").to_numpy().astype(np.int64)
        last = table.column("last").to_numpy()
        resolution = query.window.resolution
        out: dict[int, Stream] = {}
        for sid, lo, hi in _runs(ids):
            if hi - lo < 2:
                continue
            delta = np.diff(last[lo:hi])
            delta[delta < 0] = 0.0
            buckets = times[lo + 1:hi] - times[lo + 1:hi] % resolution
            unique, starts = np.unique(buckets, return_index=True)
            out[sid] = Stream({}, unique, np.add.reduceat(delta, starts))
        return out


def _runs(ids: np.ndarray) -> list[tuple[int, int, int]]:
    """(series id, start, stop) of each run of equal ids in a sorted array."""
    if ids.size == 0:
        return []
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    stops = np.r_[starts[1:], ids.size]
    return [(int(ids[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]
