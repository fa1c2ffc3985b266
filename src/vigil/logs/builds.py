"""Build logs: a build's status and its output, kept in the metadata database.

A builder creates the build (`POST /apps/{app}/builds`), appends its output as it goes
(`POST …/builds/{id}/lines`) and sets the outcome (`PATCH …/builds/{id}`); anyone with read access
fetches `{"build": {"id", "status"}, "lines": [...]}` (`GET` or, as the Akkeris docs' curl does,
`POST …/builds/{id}/result`). Each line is also an ordinary log line of the app, source
`akkeris/build`, so tails and log sessions show builds as Akkeris does.

Bounded: a build keeps its newest `max_lines` lines (the end of a failed build is what matters),
and an app its newest `per_app` builds.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.errors import Conflict, NotFound, ParamsError
from vigil.logs.model import STDOUT, LogLine
from vigil.logs.pipeline import LogPipeline, clip
from vigil.storage import logs_tables as t
from vigil.storage.metadata import MetadataDB

STATUSES = ("pending", "queued", "succeeded", "failed")
BUILD_SOURCE = "akkeris/build"
_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Build:
    app: str
    id: str
    status: str
    created_at: float
    updated_at: float


def _status(body: dict[str, Any], default: str | None) -> str:
    status = body.get("status", default)
    if status not in STATUSES:
        raise ParamsError({"status": ["must be one of " + ", ".join(STATUSES)]}, status=422)
    return status


class Builds:
    def __init__(self, db: MetadataDB, pipeline: LogPipeline, *, max_lines: int, per_app: int,
                 max_line_bytes: int) -> None:
        self.db = db
        self.pipeline = pipeline
        self.max_lines = max_lines
        self.per_app = per_app
        self.max_line_bytes = max_line_bytes

    async def create(self, app: str, body: dict[str, Any]) -> Build:
        status = _status(body, "pending")
        build_id = body.get("id")
        if build_id is None:
            build_id = str(uuid.uuid4())
        elif not isinstance(build_id, str) or not _BUILD_ID.fullmatch(build_id):
            raise ParamsError({"id": ["must be 1-64 letters, digits, '.', '_' or '-'"]}, status=422)
        b = t.builds
        now = time.time()
        async with self.db.begin() as conn:
            result = await conn.execute(t.insert_ignore(conn, b, ["app", "id"]).values(
                app=app, id=build_id, status=status, line_count=0, created_at=now, updated_at=now))
            if result.rowcount != 1:
                raise Conflict(f"The build {build_id} of {app} already exists.")
            newest_first = sa.select(b.c.id).where(b.c.app == app).order_by(b.c.created_at.desc(), b.c.id.desc())
            old = (await conn.execute(newest_first.offset(self.per_app))).scalars().all()
            if old:
                await conn.execute(t.build_lines.delete().where(t.build_lines.c.app == app,
                                                                t.build_lines.c.build.in_(old)))
                await conn.execute(b.delete().where(b.c.app == app, b.c.id.in_(old)))
        self.pipeline.apps.note(app)
        return Build(app, build_id, status, now, now)

    async def get(self, app: str, build_id: str) -> Build:
        b = t.builds
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(b).where(b.c.app == app, b.c.id == build_id))).mappings().first()
        if row is None:
            raise NotFound(f"The specified build {build_id} was not found.")
        return Build(row["app"], row["id"], row["status"], row["created_at"], row["updated_at"])

    async def set_status(self, app: str, build_id: str, body: dict[str, Any]) -> Build:
        status = _status(body, None)
        b = t.builds
        now = time.time()
        async with self.db.begin() as conn:
            done = await conn.execute(b.update().where(b.c.app == app, b.c.id == build_id)
                                      .values(status=status, updated_at=now))
        if done.rowcount != 1:
            raise NotFound(f"The specified build {build_id} was not found.")
        return await self.get(app, build_id)

    async def add_lines(self, app: str, build_id: str, body: dict[str, Any]) -> int:
        """Append the body's `lines`; returns how many were added. Each item is one line (a
        trailing newline is dropped)."""
        lines = body.get("lines")
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise ParamsError({"lines": ["must be a list of strings"]}, status=422)
        lines = [clip(x.removesuffix("\n").removesuffix("\r"), self.max_line_bytes) for x in lines[-self.max_lines:]]
        if not lines:
            return 0
        b, bl = t.builds, t.build_lines
        now = time.time()
        async with self.db.begin() as conn:
            # The UPDATE locks the build's row, so concurrent appends get consecutive seq ranges.
            done = await conn.execute(b.update().where(b.c.app == app, b.c.id == build_id)
                                      .values(line_count=b.c.line_count + len(lines), updated_at=now))
            if done.rowcount != 1:
                raise NotFound(f"The specified build {build_id} was not found.")
            end = (await conn.execute(sa.select(b.c.line_count).where(b.c.app == app, b.c.id == build_id))
                   ).scalar_one()
            first = end - len(lines)
            await conn.execute(bl.insert(), [{"app": app, "build": build_id, "seq": first + i, "line": line}
                                             for i, line in enumerate(lines)])
            if end > self.max_lines:
                await conn.execute(bl.delete().where(bl.c.app == app, bl.c.build == build_id,
                                                     bl.c.seq < end - self.max_lines))
        us = int(now * 1_000_000)
        self.pipeline.accept([LogLine(app, BUILD_SOURCE, "", STDOUT, us, "", line) for line in lines])
        return len(lines)

    async def result(self, app: str, build_id: str) -> tuple[Build, list[str]]:
        build = await self.get(app, build_id)
        bl = t.build_lines
        async with self.db.connect() as conn:
            lines = (await conn.execute(sa.select(bl.c.line).where(bl.c.app == app, bl.c.build == build_id)
                                        .order_by(bl.c.seq))).scalars().all()
        return build, list(lines)
