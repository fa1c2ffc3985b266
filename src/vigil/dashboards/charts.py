"""Charts of a space and their streams."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from vigil.dashboards.fields import Fields, as_list
from vigil.dashboards.streams import parse_streams, stream_json
from vigil.errors import NotFound, ParamsError, RequestError
from vigil.metrics.catalog import MetricCatalog
from vigil.metrics.properties import UNSET
from vigil.storage.dashboards_tables import chart_streams, charts, spaces
from vigil.storage.metadata import MetadataDB

CHART_TYPES = ("line", "stacked", "bignumber")
OPERATORS = (">", "<", "=")
THRESHOLD_TYPES = ("red", "yellow")
MAX_THRESHOLDS = 10
OPTION_NAMES = ("min", "max", "label", "related_space", "use_log_yaxis", "use_last_value")


@dataclass(frozen=True, slots=True)
class Stream:
    id: int
    spec: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Chart:
    id: int
    space_id: int
    name: str
    type: str
    options: dict[str, Any]
    thresholds: list[dict[str, Any]] | None
    streams: list[Stream] = field(default_factory=list)


def _thresholds(f: Fields, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    items = as_list(raw)
    if items is None:
        f.fail("thresholds", "must be a list of {operator, value, type} objects")
        return UNSET
    if len(items) > MAX_THRESHOLDS:
        f.fail("thresholds", f"may hold at most {MAX_THRESHOLDS} thresholds")
        return UNSET
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            f.fail(f"thresholds.{i}", "must be an object with operator, value and type")
            continue
        t = f.nested(item, f"thresholds.{i}.")
        operator = t.choice("operator", OPERATORS, required=True)
        value = t.number("value", nullable=False)
        if value is UNSET and "value" not in item:
            t.fail("value", "is required")
        kind = t.choice("type", THRESHOLD_TYPES, required=True)
        out.append({"operator": operator, "value": value, "type": kind})
    return out


class Charts:
    def __init__(self, db: MetadataDB, catalog: MetricCatalog, *, max_charts: int, max_streams: int) -> None:
        self._db = db
        self._catalog = catalog
        self.max_charts = max_charts
        self.max_streams = max_streams

    async def _parse(self, body: dict[str, Any], *, creating: bool,
                     previous: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        f = Fields(body)
        values: dict[str, Any] = {}
        name = f.text("name", required=creating, nullable=False)
        if name is not UNSET:
            values["name"] = name
        kind = f.choice("type", CHART_TYPES, nullable=False)
        if kind is not UNSET:
            values["type"] = kind
        options: dict[str, Any] = {}
        for key in ("min", "max"):
            options[key] = f.number(key)
        options["label"] = f.text("label")
        options["related_space"] = f.integer("related_space", minimum=1)
        options["use_log_yaxis"] = f.boolean("use_log_yaxis")
        options["use_last_value"] = f.boolean("use_last_value")
        values["options"] = {k: v for k, v in options.items() if v is not UNSET}
        if isinstance(options["min"], int | float) and isinstance(options["max"], int | float) \
                and options["min"] > options["max"]:
            f.fail("min", "must not be greater than max")
        if "thresholds" in body:
            thresholds = _thresholds(f, body["thresholds"])
            if thresholds is not UNSET:
                values["thresholds"] = thresholds
        if "streams" in body:
            streams = parse_streams(body["streams"], self.max_streams, f.errors, previous)
            if streams is not None:
                values["streams"] = streams
        f.check()
        related = values["options"].get("related_space")
        if isinstance(related, int):
            async with self._db.connect() as conn:
                if (await conn.execute(sa.select(spaces.c.id).where(spaces.c.id == related))).first() is None:
                    raise ParamsError({"related_space": [f"space {related} does not exist"]})
        return values

    async def _space_exists(self, conn: Any, space_id: int) -> None:
        if (await conn.execute(sa.select(spaces.c.id).where(spaces.c.id == space_id))).first() is None:
            raise NotFound(f"Space {space_id} does not exist")

    @staticmethod
    async def _insert_streams(conn: Any, chart_id: int, streams: list[dict[str, Any]]) -> None:
        for position, spec in enumerate(streams):
            row = {"chart_id": chart_id, "position": position,
                   "spec": {k: v for k, v in spec.items() if k != "id"}}
            if "id" in spec:
                row["id"] = spec["id"]
            await conn.execute(chart_streams.insert().values(**row))

    async def create(self, space_id: int, body: dict[str, Any]) -> Chart:
        async with self._db.connect() as conn:
            await self._space_exists(conn, space_id)
        values = await self._parse(body, creating=True)
        now = time.time()
        async with self._db.begin() as conn:
            await self._space_exists(conn, space_id)
            count = (await conn.execute(sa.select(sa.func.count()).select_from(charts).where(
                charts.c.space_id == space_id))).scalar() or 0
            if count >= self.max_charts:
                raise RequestError(f"A space holds at most {self.max_charts} charts")
            chart_id = (await conn.execute(charts.insert().values(
                space_id=space_id, name=values["name"], type=values.get("type", "line"),
                options=_set_options({}, values["options"]), thresholds=values.get("thresholds"),
                created_at=now, updated_at=now))).inserted_primary_key[0]
            await self._insert_streams(conn, int(chart_id), values.get("streams", []))
        return await self.get(space_id, int(chart_id))

    async def draft(self, space_id: int, body: dict[str, Any]) -> Chart:
        """A chart checked as `create` checks it, not stored (the UI's preview); streams are numbered
        1, 2, … in the order given."""
        values = await self._parse(body, creating=True)
        options = {k: v for k, v in values["options"].items() if v is not None}
        return Chart(0, space_id, values["name"], values.get("type", "line"), options, values.get("thresholds"),
                     [Stream(i + 1, spec) for i, spec in enumerate(values.get("streams", []))])

    async def _load(self, conn: Any, where: Any) -> list[Chart]:
        rows = (await conn.execute(sa.select(charts).where(where).order_by(charts.c.id))).mappings().all()
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        streams: dict[int, list[Stream]] = {i: [] for i in ids}
        srows = (await conn.execute(sa.select(chart_streams).where(chart_streams.c.chart_id.in_(ids))
                                    .order_by(chart_streams.c.chart_id, chart_streams.c.position))).mappings().all()
        for s in srows:
            streams[s["chart_id"]].append(Stream(s["id"], s["spec"]))
        return [Chart(r["id"], r["space_id"], r["name"], r["type"], r["options"] or {}, r["thresholds"],
                      streams[r["id"]]) for r in rows]

    async def get(self, space_id: int, chart_id: int) -> Chart:
        async with self._db.connect() as conn:
            found = await self._load(conn, sa.and_(charts.c.id == chart_id, charts.c.space_id == space_id))
            if not found:
                await self._space_exists(conn, space_id)
                raise NotFound(f"Chart {chart_id} does not exist in space {space_id}")
        return found[0]

    async def by_id(self, chart_id: int) -> Chart | None:
        async with self._db.connect() as conn:
            found = await self._load(conn, charts.c.id == chart_id)
        return found[0] if found else None

    async def list(self, space_id: int) -> list[Chart]:
        async with self._db.connect() as conn:
            await self._space_exists(conn, space_id)
            return await self._load(conn, charts.c.space_id == space_id)

    async def update(self, space_id: int, chart_id: int, body: dict[str, Any]) -> Chart:
        """Change the given properties; `streams`, when given, replaces all streams."""
        current = await self.get(space_id, chart_id)
        values = await self._parse(body, creating=False, previous={s.id: s.spec for s in current.streams})
        row: dict[str, Any] = {"updated_at": time.time(), "options": _set_options(current.options, values["options"])}
        for key in ("name", "type", "thresholds"):
            if key in values:
                row[key] = values[key]
        async with self._db.begin() as conn:
            result = await conn.execute(charts.update().where(charts.c.id == chart_id).values(**row))
            if not result.rowcount:
                raise NotFound(f"Chart {chart_id} does not exist in space {space_id}")
            if "streams" in values:
                await conn.execute(chart_streams.delete().where(chart_streams.c.chart_id == chart_id))
                await self._insert_streams(conn, chart_id, values["streams"])
        return await self.get(space_id, chart_id)

    async def delete(self, space_id: int, chart_id: int) -> None:
        async with self._db.begin() as conn:
            result = await conn.execute(charts.delete().where(charts.c.id == chart_id, charts.c.space_id == space_id))
            if not result.rowcount:
                await self._space_exists(conn, space_id)
                raise NotFound(f"Chart {chart_id} does not exist in space {space_id}")

    async def metric_types(self, chart_list: list[Chart]) -> dict[str, str]:
        names = {s.spec["metric"] for c in chart_list for s in c.streams if "metric" in s.spec}
        found = await self._catalog.get_many(names)
        return {m.key: m.type for m in found.values()}

    async def to_json(self, chart_list: list[Chart]) -> list[dict[str, Any]]:
        types = await self.metric_types(chart_list)
        return [chart_json(c, types) for c in chart_list]


def _set_options(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Options given as null are removed; the others replace the current ones."""
    out = dict(current)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def chart_json(chart: Chart, metric_types: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": chart.id, "name": chart.name, "type": chart.type}
    out["streams"] = [stream_json(s.id, s.spec, metric_types.get(s.spec.get("metric", "").lower()))
                      for s in chart.streams]
    out["thresholds"] = chart.thresholds
    for key in OPTION_NAMES:
        if key in chart.options:
            out[key] = chart.options[key]
    return out
