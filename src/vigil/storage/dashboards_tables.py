"""Metadata tables of spaces, charts, chart streams and snapshots, with their migration list."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

spaces = sa.Table(
    "spaces", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    # Space names are unique regardless of case (the official client finds spaces that way).
    sa.Column("name_key", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

charts = sa.Table(
    "charts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    # min, max, label, related_space, use_log_yaxis, use_last_value: only the ones set.
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("thresholds", sa.JSON),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

chart_streams = sa.Table(
    "chart_streams", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chart_id", sa.Integer, sa.ForeignKey("charts.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    # The validated stream properties (metric or composite, tags, functions, display settings).
    sa.Column("spec", sa.JSON, nullable=False),
    sqlite_autoincrement=True,
)

snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign key: a snapshot outlives the chart it pictured.
    sa.Column("chart_id", sa.Integer, nullable=False),
    sa.Column("subject", sa.JSON, nullable=False),
    sa.Column("duration", sa.Integer, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("job_id", sa.Integer),
    # The PNG is served without authentication at /snapshots/<image_key>.png: the key is a
    # 128-bit random secret, set when the image is stored.
    sa.Column("image_key", sa.String(64), unique=True),
    sa.Column("image", sa.LargeBinary),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)


async def _v1_initial(conn: AsyncConnection) -> None:
    for table in (spaces, charts, chart_streams, snapshots):
        await conn.run_sync(table.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
