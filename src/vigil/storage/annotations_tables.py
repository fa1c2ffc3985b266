"""Metadata tables of annotation streams and their events, with their migration list."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

annotation_streams = sa.Table(
    "annotation_streams", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Case-insensitive like metric names: `key` is the lower-cased name, `name` the first spelling.
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("display_name", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

annotation_events = sa.Table(
    "annotation_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stream_id", sa.Integer, sa.ForeignKey("annotation_streams.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("source", sa.String(255)),
    sa.Column("description", sa.Text),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger),
    # [{rel, label, href}], rel unique within the event.
    sa.Column("links", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_annotation_events_stream_start", "stream_id", "start_time", "id"),
    sqlite_autoincrement=True,
)


async def _v1_initial(conn: AsyncConnection) -> None:
    for table in (annotation_streams, annotation_events):
        await conn.run_sync(table.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
