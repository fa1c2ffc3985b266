"""Metadata tables of alerts and notification services, and their migration list (component "alerts")."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration

metadata = sa.MetaData()

notification_services = sa.Table(
    "notification_services", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused: a client holding an old id must not reach a new object
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    # Names are unique regardless of case, so that a lookup by name (`/v1/alerts/:name`) is unambiguous.
    sa.Column("name_key", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("rearm_seconds", sa.Integer, nullable=False),
    sa.Column("rearm_per_signal", sa.Boolean, nullable=False),
    sa.Column("md", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

alert_conditions = sa.Table(
    "alert_conditions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    # When tracking of this condition began: an unchanged condition keeps it across updates.
    sa.Column("created_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

alert_service_links = sa.Table(
    "alert_service_links", metadata,
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("notification_services.id", ondelete="CASCADE"),
              primary_key=True, index=True),
    sa.Column("position", sa.Integer, nullable=False),
)

alert_states = sa.Table(
    "alert_states", metadata,
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("firing", sa.Boolean, nullable=False),
    sa.Column("triggered_at", sa.Float),
    sa.Column("cleared_at", sa.Float),
    sa.Column("clear_kind", sa.String(16)),
    sa.Column("last_notified_at", sa.Float),
    # Whether the current firing episode was announced (only then is its clear announced).
    sa.Column("notified", sa.Boolean, nullable=False),
    sa.Column("violations", sa.JSON, nullable=False),  # the violations when last evaluated as firing
    sa.Column("signals", sa.JSON, nullable=False),  # signal key → when it was last notified (rearm_per_signal)
    sa.Column("deliveries", sa.JSON, nullable=False),  # service id → outcome of its latest deliveries
    sa.Column("updated_at", sa.Float, nullable=False),
)

alert_history = sa.Table(
    "alert_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_alert_history_alert_at", "alert_id", "at"),
    sqlite_autoincrement=True,
)

# Small key → timestamp records of the evaluator (its heartbeat, so a restart knows how long it was down).
alert_engine = sa.Table(
    "alert_engine", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
)


async def _v1_initial(conn: AsyncConnection) -> None:
    for table in (notification_services, alerts, alert_conditions, alert_service_links, alert_states,
                  alert_history, alert_engine):
        await conn.run_sync(table.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
