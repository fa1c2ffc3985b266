"""Metadata table of log drains (component `drains`).

The URL is stored as given, credentials included, because delivery needs them; it is never shown
or logged in full. `url_key` (SHA-256 of the normalised URL) makes "one drain per URL per app or
site" a constraint of the database, so two concurrent creations cannot both succeed.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

log_drains = sa.Table(
    "log_drains", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # app | site
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("url_key", sa.String(64), nullable=False),
    sa.Column("token", sa.String(40), nullable=False),
    sa.Column("tls_skip_verify", sa.Boolean, nullable=False, default=False),
    sa.Column("tls_ca", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("kind", "name", "url_key", name="uq_log_drains_owner_url"),
    sa.UniqueConstraint("token", name="uq_log_drains_token"),
)


async def _v1_initial(conn: AsyncConnection) -> None:
    await conn.run_sync(log_drains.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
