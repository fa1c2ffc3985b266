"""Metadata tables of application logs: known apps, sites, log sessions, builds and their lines.

The lines themselves live in the telemetry engine (`logs_schema.py`); these are the small things
that must be shared by every node and survive a restart. Times are epoch seconds (float).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

# Apps exist implicitly: a row appears with an app's first line.
log_apps = sa.Table(
    "log_apps", metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("first_seen", sa.Float, nullable=False),
)

# A site is a named group of apps; PUT /sites/{site} sets its members.
log_sites = sa.Table(
    "log_sites", metadata,
    sa.Column("name", sa.String(253), primary_key=True),
    sa.Column("apps", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Log sessions not yet opened. Only the SHA-256 of the URL's secret is kept, and a row is deleted
# when its URL is opened (single use) or when it expires.
log_sessions = sa.Table(
    "log_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # app | site
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("tail", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_log_sessions_expires", "expires_at"),
)

builds = sa.Table(
    "builds", metadata,
    sa.Column("app", sa.String(63), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False, default=0),  # lines ever added: the next line's seq
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_builds_app_created", "app", "created_at"),
)

build_lines = sa.Table(
    "build_lines", metadata,
    sa.Column("app", sa.String(63), primary_key=True),
    sa.Column("build", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("line", sa.Text, nullable=False),
)


async def _v1_initial(conn: AsyncConnection) -> None:
    for table in (log_apps, log_sites, log_sessions, builds, build_lines):
        await conn.run_sync(table.create, checkfirst=True)


MIGRATIONS: list[Migration] = [_v1_initial]


def insert_ignore(conn: AsyncConnection, table: sa.Table, keys: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=keys)
