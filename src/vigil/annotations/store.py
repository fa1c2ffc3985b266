"""Annotation streams and their events (deploys, batch jobs …) in the metadata database.

A stream is created by its first event. Events are read grouped by source, ordered by start time.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.dashboards.fields import Fields, as_list, given, now
from vigil.errors import NotFound, ParamsError, param_error
from vigil.metrics.names import check_metric_name
from vigil.metrics.properties import UNSET
from vigil.storage.annotations_tables import annotation_events, annotation_streams
from vigil.storage.metadata import MetadataDB

ORDERABLE = ("name",)
UNASSIGNED = "unassigned"
MAX_LINKS = 20
MAX_DESCRIPTION = 10_000
MAX_HREF = 2_048
MAX_SOURCES = 100


@dataclass(frozen=True, slots=True)
class AnnotationStream:
    id: int
    name: str
    display_name: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name}


def check_name(name: str) -> str:
    # Stream names follow the metric naming rules: they are chosen beside metrics in a chart.
    reason = check_metric_name(name)
    if reason:
        raise param_error("name", reason)
    return name


def event_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "description": row["description"],
            "start_time": row["start_time"], "end_time": row["end_time"], "source": row["source"],
            "links": row["links"] or []}


def parse_link(f: Fields) -> dict[str, Any] | None:
    rel = f.text("rel", required=True)
    href = f.text("href", required=True, max_length=MAX_HREF)
    label = f.text("label")
    if not isinstance(rel, str) or not isinstance(href, str):
        return None
    return {"rel": rel, "label": given(label), "href": href}


def _links(f: Fields, raw: Any) -> list[dict[str, Any]] | None:
    if raw is None or raw == "":
        return []
    items = as_list(raw)
    if items is None:
        f.fail("links", "must be a list of {rel, href, label} objects")
        return None
    if len(items) > MAX_LINKS:
        f.fail("links", f"may hold at most {MAX_LINKS} links")
        return None
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            f.fail(f"links.{i}", "must be an object with rel and href")
            continue
        link = parse_link(f.nested(item, f"links.{i}."))
        if link is None:
            continue
        if any(existing["rel"] == link["rel"] for existing in out):
            f.fail(f"links.{i}.rel", "must be unique within the event")
            continue
        out.append(link)
    return out


class Annotations:
    def __init__(self, db: MetadataDB, *, max_events: int) -> None:
        self._db = db
        self.max_events = max_events

    # -- streams ----------------------------------------------------------------------------------

    async def _stream(self, conn: Any, name: str) -> AnnotationStream | None:
        row = (await conn.execute(sa.select(annotation_streams).where(
            annotation_streams.c.key == name.lower()))).mappings().first()
        return AnnotationStream(row["id"], row["name"], row["display_name"]) if row else None

    async def stream(self, name: str) -> AnnotationStream:
        check_name(name)
        async with self._db.connect() as conn:
            found = await self._stream(conn, name)
        if found is None:
            raise NotFound(f"Annotation stream {name} does not exist")
        return found

    async def list(self, *, name: str | None, offset: int, length: int, descending: bool
                   ) -> tuple[list[AnnotationStream], int, int]:
        t = annotation_streams
        where = []
        if name:
            needle = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            where.append(t.c.key.like(f"%{needle}%", escape="\\"))
        async with self._db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar() or 0
            found = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar() or 0
            rows = (await conn.execute(sa.select(t).where(*where).order_by(
                t.c.key.desc() if descending else t.c.key.asc(), t.c.id).offset(offset).limit(length))).mappings().all()
        return [AnnotationStream(r["id"], r["name"], r["display_name"]) for r in rows], found, total

    async def update_stream(self, name: str, body: dict[str, Any]) -> None:
        f = Fields(body)
        display_name = f.text("display_name")
        given_name = body.get("name")
        if given_name is not None and (not isinstance(given_name, str) or given_name.lower() != name.lower()):
            f.fail("name", "must match the name in the URL")
        f.check()
        stream = await self.stream(name)
        if display_name is not UNSET:
            async with self._db.begin() as conn:
                await conn.execute(annotation_streams.update().where(annotation_streams.c.id == stream.id).values(
                    display_name=display_name, updated_at=time.time()))

    async def delete_stream(self, name: str) -> None:
        """The stream and, by cascade, every event in it."""
        stream = await self.stream(name)
        async with self._db.begin() as conn:
            await conn.execute(annotation_streams.delete().where(annotation_streams.c.id == stream.id))

    # -- events -----------------------------------------------------------------------------------

    async def create_event(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        check_name(name)
        f = Fields(body)
        title = f.text("title", required=True)
        source = f.text("source")
        description = f.text("description", max_length=MAX_DESCRIPTION)
        start = f.timestamp("start_time")
        end = f.timestamp("end_time")
        links = _links(f, body.get("links"))
        f.check()
        start = given(start) if given(start) is not None else now()
        if end not in (UNSET, None) and end < start:
            raise param_error("end_time", "must not be before start_time")
        stamp = time.time()
        async with self._db.begin() as conn:
            stream = await self._stream(conn, name)
            if stream is None:
                # A concurrent first event may create the stream too: insert-or-ignore, then read it.
                await conn.execute(_insert(conn).values(key=name.lower(), name=name, display_name=None,
                                                        created_at=stamp, updated_at=stamp)
                                   .on_conflict_do_nothing(index_elements=["key"]))
                stream = await self._stream(conn, name)
                assert stream is not None
            stream_id = stream.id
            values = {"stream_id": stream_id, "title": title, "source": given(source),
                      "description": given(description), "start_time": start, "end_time": given(end),
                      "links": links or [], "created_at": stamp,
                      "updated_at": stamp}
            event_id = (await conn.execute(annotation_events.insert().values(**values))).inserted_primary_key[0]
        return event_json({"id": int(event_id), **values})

    async def _event(self, conn: Any, name: str, event_id: int) -> Any:
        stream = await self._stream(conn, name)
        row = None
        if stream is not None:
            row = (await conn.execute(sa.select(annotation_events).where(
                annotation_events.c.id == event_id, annotation_events.c.stream_id == stream.id))).mappings().first()
        if row is None:
            raise NotFound(f"Annotation event {event_id} does not exist in stream {name}")
        return row

    async def event(self, name: str, event_id: int) -> dict[str, Any]:
        check_name(name)
        async with self._db.connect() as conn:
            return event_json(await self._event(conn, name, event_id))

    async def update_event(self, name: str, event_id: int, body: dict[str, Any]) -> None:
        """title, description, end_time and links (replaced whole), as the seed lists them."""
        check_name(name)
        f = Fields(body)
        values: dict[str, Any] = {}
        title = f.text("title", nullable=False)
        description = f.text("description", max_length=MAX_DESCRIPTION)
        end = f.timestamp("end_time")
        links = _links(f, body["links"]) if "links" in body else UNSET
        f.check()
        for key, value in (("title", title), ("description", description), ("end_time", end), ("links", links)):
            if value is not UNSET:
                values[key] = value
        async with self._db.begin() as conn:
            row = await self._event(conn, name, event_id)
            if values.get("end_time") is not None and values["end_time"] < row["start_time"]:
                raise param_error("end_time", "must not be before start_time")
            if values:
                await conn.execute(annotation_events.update().where(annotation_events.c.id == event_id).values(
                    updated_at=time.time(), **values))

    async def delete_event(self, name: str, event_id: int) -> None:
        check_name(name)
        async with self._db.begin() as conn:
            await self._event(conn, name, event_id)
            await conn.execute(annotation_events.delete().where(annotation_events.c.id == event_id))

    async def add_link(self, name: str, event_id: int, body: dict[str, Any]) -> dict[str, Any]:
        check_name(name)
        f = Fields(body)
        link = parse_link(f)
        f.check()
        assert link is not None
        async with self._db.begin() as conn:
            row = await self._event(conn, name, event_id)
            links = list(row["links"] or [])
            if any(existing["rel"] == link["rel"] for existing in links):
                raise ParamsError({"rel": ["has already been taken in this event"]}, status=422)
            if len(links) >= MAX_LINKS:
                raise param_error("links", f"an event holds at most {MAX_LINKS} links")
            await conn.execute(annotation_events.update().where(annotation_events.c.id == event_id).values(
                links=[*links, link], updated_at=time.time()))
        return link

    async def delete_link(self, name: str, event_id: int, rel: str) -> None:
        check_name(name)
        async with self._db.begin() as conn:
            row = await self._event(conn, name, event_id)
            links = list(row["links"] or [])
            kept = [link for link in links if link["rel"] != rel]
            if len(kept) == len(links):
                raise NotFound(f"Annotation event {event_id} has no link {rel}")
            await conn.execute(annotation_events.update().where(annotation_events.c.id == event_id).values(
                links=kept, updated_at=time.time()))

    async def events(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The stream with its events whose start time falls in [start_time, end_time], grouped by source."""
        f = Fields(params)
        start = f.timestamp("start_time")
        end = f.timestamp("end_time")
        raw_sources = params.get("sources")
        sources = as_list(raw_sources) if raw_sources is not None else None
        if isinstance(raw_sources, str):
            sources = [raw_sources]
        if raw_sources is not None and (sources is None or not all(isinstance(s, str) for s in sources)):
            f.fail("sources", "must be a list of source names (wildcards allowed)")
        elif sources is not None and len(sources) > MAX_SOURCES:
            f.fail("sources", f"may name at most {MAX_SOURCES} sources")
        f.check()
        if isinstance(start, int) and isinstance(end, int) and end < start:
            raise param_error("end_time", "must not be before start_time")
        stream = await self.stream(name)
        e = annotation_events
        where = [e.c.stream_id == stream.id]
        if isinstance(start, int):
            where.append(e.c.start_time >= start)
        if isinstance(end, int):
            where.append(e.c.start_time <= end)
        if sources:
            # `*` is the only wildcard; `unassigned` (or a pattern matching it) selects events without a source.
            likes = [_like(s) for s in sources]
            matches = [sa.func.lower(e.c.source).like(p, escape="\\") for p in likes]
            if any(fnmatch.fnmatchcase(UNASSIGNED, s.lower().replace("[", "[[]").replace("?", "[?]"))
                   for s in sources):
                matches.append(e.c.source.is_(None))
            where.append(sa.or_(*matches))
        async with self._db.connect() as conn:
            rows = (await conn.execute(sa.select(e).where(*where).order_by(e.c.start_time, e.c.id)
                                       .limit(self.max_events + 1))).mappings().all()
        if len(rows) > self.max_events:
            raise param_error("start_time", f"the window holds more than {self.max_events} events; "
                                            "narrow it with start_time, end_time or sources")
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            group = row["source"] if row["source"] is not None else UNASSIGNED
            grouped.setdefault(group, []).append(event_json(row))
        return {**stream.to_json(), "events": [grouped]}


def _like(pattern: str) -> str:
    return pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")


def _insert(conn: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(annotation_streams)
