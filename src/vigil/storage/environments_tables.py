"""Metadata table of environments (a token's environment is the tag its measurements get)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

environments = sa.Table(
    "environments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("name_key", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)


async def _v1_initial(conn: AsyncConnection) -> None:
    await conn.run_sync(environments.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
