"""Metadata table of scrape targets: those added through /v1/scrape_targets and those of the
configuration (re-synchronised at every start, so that every target has an id)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

scrape_targets = sa.Table(
    "scrape_targets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("job", sa.String(255), nullable=False),
    sa.Column("interval", sa.Float, nullable=False),
    sa.Column("timeout", sa.Float, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # "api" or "config"
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("url", "job", name="uq_scrape_targets_url_job"),
    sqlite_autoincrement=True,
)


async def _v1_initial(conn: AsyncConnection) -> None:
    await conn.run_sync(scrape_targets.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
