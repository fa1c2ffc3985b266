"""Snapshots: a chart rendered to a PNG by a background job, served at an unguessable URL.

POST answers 202 at once; the job evaluates the chart over the snapshot's window (with the
subject's tag filters injected into every metric stream) and renders it in a worker thread. The PNG
is kept in the metadata database, so every node of a scaled-out deployment can serve it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from vigil.dashboards.charts import CHART_TYPES, Charts
from vigil.dashboards.data import ChartData, window
from vigil.dashboards.fields import MAX_TIMESTAMP, Fields, as_list
from vigil.dashboards.render import Picture, render_png
from vigil.dashboards.streams import TAG_NAME, TAG_PATTERN
from vigil.errors import NotFound, ParamsError, Unavailable
from vigil.jobs import Jobs
from vigil.metrics.properties import UNSET
from vigil.storage.dashboards_tables import snapshots
from vigil.storage.metadata import MetadataDB

DEFAULT_DURATION = 3_600
MIN_SIDE = 100
KEY_HEX = 32  # 128 random bits


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Snapshot:
    id: int
    chart_id: int
    subject: dict[str, Any]
    duration: int
    end_time: int
    width: int
    height: int
    job_id: int | None
    image_key: str | None
    created_at: float
    updated_at: float

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {
            "href": f"{base_url}/v1/snapshots/{self.id}",
            "job_href": f"{base_url}/v1/jobs/{self.job_id}" if self.job_id is not None else None,
            "image_href": f"{base_url}/snapshots/{self.image_key}.png" if self.image_key else None,
            "duration": self.duration,
            "end_time": iso(self.end_time),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "subject": self.subject,
        }


def _row(row: Any) -> Snapshot:
    return Snapshot(row["id"], row["chart_id"], row["subject"], row["duration"], row["end_time"], row["width"],
                    row["height"], row["job_id"], row["image_key"], row["created_at"], row["updated_at"])


def _subject_tags(f: Fields, raw: Any) -> list[dict[str, Any]] | None:
    items = as_list(raw)
    if items is None:
        f.fail("tags", "must be a list of {name, values} objects")
        return None
    out = []
    for i, item in enumerate(items[:50]):
        values = as_list(item.get("values")) if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not TAG_NAME.match(item["name"]) \
                or not values or not all(isinstance(v, str) and TAG_PATTERN.match(v) for v in values):
            f.fail(f"tags.{i}", "must be {name, values} with a tag name and tag value patterns (* wildcards)")
            continue
        out.append({"name": item["name"], "values": list(values)})
    if len(items) > 50:
        f.fail("tags", "may hold at most 50 tags")
    return out


class Snapshots:
    def __init__(self, db: MetadataDB, charts: Charts, data: ChartData, jobs: Jobs, *, width: int, height: int,
                 max_side: int, max_pending: int, keep: int) -> None:
        self._db = db
        self._charts = charts
        self._data = data
        self._jobs = jobs
        self.width = width
        self.height = height
        self.max_side = max_side
        self.max_pending = max_pending
        self.keep = keep
        self.pending = 0
        # One render at a time: matplotlib is CPU-bound and not made for concurrent figures.
        self._render_lock = asyncio.Lock()

    async def create(self, body: dict[str, Any]) -> Snapshot:
        f = Fields(body)
        subject = body.get("subject")
        chart_spec = subject.get("chart") if isinstance(subject, dict) else None
        chart_id: Any = UNSET
        kind: Any = UNSET
        tags = None
        if not isinstance(chart_spec, dict):
            f.fail("subject", "must be {\"chart\": {\"id\": …, \"type\": …, \"tags\": […]}}")
        else:
            c = f.nested(chart_spec, "subject.chart.")
            chart_id = c.integer("id", minimum=1, required=True)
            kind = c.choice("type", CHART_TYPES)
            if chart_spec.get("tags") not in (None, [], {}):
                tags = _subject_tags(c, chart_spec["tags"])
            if chart_spec.get("source") not in (None, "*") or chart_spec.get("sources") not in (None, ["*"]):
                c.fail("sources", "only * is supported; filter with tags")
        duration = f.integer("duration", minimum=1, maximum=MAX_TIMESTAMP)
        end_time = f.timestamp("end_time")
        width = f.integer("width", minimum=MIN_SIDE, maximum=self.max_side)
        height = f.integer("height", minimum=MIN_SIDE, maximum=self.max_side)
        f.check()
        chart = await self._charts.by_id(chart_id)
        if chart is None:
            raise ParamsError({"subject.chart.id": [f"chart {chart_id} does not exist"]})
        duration = duration if isinstance(duration, int) else DEFAULT_DURATION
        end = end_time if isinstance(end_time, int) else int(time.time())
        # The window is checked now, so that a bad one is a 400 rather than a failed job.
        window({"start_time": max(0, end - duration), "end_time": end}, self._data.max_points)
        if self.pending >= self.max_pending:
            raise Unavailable(f"{self.pending} snapshots are being rendered; try again in a moment")
        shown: dict[str, Any] = {"id": chart.id, "sources": ["*"],
                                 "type": kind if isinstance(kind, str) else chart.type}
        if tags:
            shown["tags"] = tags
        now = time.time()
        async with self._db.begin() as conn:
            snapshot_id = int((await conn.execute(snapshots.insert().values(
                chart_id=chart.id, subject={"chart": shown}, duration=duration, end_time=end,
                width=width if isinstance(width, int) else self.width,
                height=height if isinstance(height, int) else self.height,
                created_at=now, updated_at=now))).inserted_primary_key[0])
            await self._forget_oldest(conn)
        self.pending += 1
        try:
            job_id = await self._jobs.start("snapshot", lambda progress: self._render(snapshot_id, progress))
        except BaseException:
            self.pending -= 1
            raise
        async with self._db.begin() as conn:
            await conn.execute(snapshots.update().where(snapshots.c.id == snapshot_id).values(job_id=job_id))
        return await self.get(snapshot_id)

    async def _forget_oldest(self, conn: Any) -> None:
        cutoff = (await conn.execute(sa.select(snapshots.c.id).order_by(snapshots.c.id.desc())
                                     .offset(self.keep).limit(1))).first()
        if cutoff is not None:
            await conn.execute(snapshots.delete().where(snapshots.c.id <= cutoff[0]))

    async def _render(self, snapshot_id: int, progress: Any) -> dict[str, Any]:
        try:
            snap = await self.get(snapshot_id)
            chart = await self._charts.by_id(snap.chart_id)
            if chart is None:
                raise NotFound(f"Chart {snap.chart_id} was deleted before its snapshot was rendered")
            start = max(0, snap.end_time - snap.duration)
            data = await self._data.evaluate_window(
                chart, window({"start_time": start, "end_time": snap.end_time}, self._data.max_points),
                extra_tags=snap.subject["chart"].get("tags"))
            await progress(50.0)
            colours = {s.id: s.spec.get("color") for s in chart.streams}
            picture = Picture(
                title=chart.name, type=snap.subject["chart"]["type"],
                series=[{**s, "color": colours.get(s["stream_id"])} for s in data["series"]],
                thresholds=chart.thresholds, start=start, end=snap.end_time, width=snap.width, height=snap.height,
                label=chart.options.get("label"), use_last_value=chart.options.get("use_last_value", True))
            async with self._render_lock:
                png = await asyncio.to_thread(render_png, picture)
            key = secrets.token_hex(KEY_HEX // 2)
            async with self._db.begin() as conn:
                result = await conn.execute(snapshots.update().where(snapshots.c.id == snapshot_id).values(
                    image=png, image_key=key, updated_at=time.time()))
            if not result.rowcount:
                raise NotFound(f"Snapshot {snapshot_id} was deleted while it was rendered")
            return {"snapshot": snapshot_id, "bytes": len(png)}
        finally:
            self.pending -= 1

    async def get(self, snapshot_id: int) -> Snapshot:
        cols = [c for c in snapshots.c if c.name != "image"]
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(*cols).where(snapshots.c.id == snapshot_id))).mappings().first()
        if row is None:
            raise NotFound(f"Snapshot {snapshot_id} does not exist")
        return _row(row)

    async def image(self, key: str) -> bytes | None:
        if len(key) != KEY_HEX or any(c not in "0123456789abcdef" for c in key):
            return None
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(snapshots.c.image).where(snapshots.c.image_key == key))).first()
        return row[0] if row else None
