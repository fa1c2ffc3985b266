"""Metadata tables of platform events (StackTach): deployments, lifecycles, timings, request trackers,
stored reports and the processing watermark, with their migration list.

Raw notifications live in the telemetry engine (`events_schema.py`); what is derived from them on
ingest and then updated as more arrive lives here. Times are integer microseconds since the epoch,
durations integer microseconds, so that sums and differences are exact.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.storage.metadata import Migration
from vigil.storage.tables import metadata

event_deployments = sa.Table(
    "event_deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# One row per instance seen: its latest state (by event time).
event_lifecycles = sa.Table(
    "event_lifecycles", metadata,
    sa.Column("instance", sa.String(64), primary_key=True),
    sa.Column("last_state", sa.String(64)),
    sa.Column("last_task_state", sa.String(64)),
    sa.Column("last_raw_id", sa.BigInteger, nullable=False),
    sa.Column("last_when", sa.BigInteger, nullable=False),
)

# One row per .start/.end pair (or a lone half of one) of an instance and an operation name.
event_timings = sa.Table(
    "event_timings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("start_raw_id", sa.BigInteger),
    sa.Column("start_when", sa.BigInteger),
    sa.Column("end_raw_id", sa.BigInteger),
    sa.Column("end_when", sa.BigInteger),
    sa.Column("diff", sa.BigInteger),  # end - start, set once both halves are known
    # From the .end notification: what the KPI view shows and filters by.
    sa.Column("end_request_id", sa.String(64)),
    sa.Column("end_deployment_id", sa.Integer),
    sa.Column("end_tenant", sa.String(64)),
    sa.Index("ix_event_timings_instance_name", "instance", "name"),
    sa.Index("ix_event_timings_name_diff", "name", "diff"),
    sa.Index("ix_event_timings_name_id", "name", "id"),
    sa.Index("ix_event_timings_end_request", "end_request_id"),
    sa.Index("ix_event_timings_end_when", "end_when"),
)

# KPI: one row per request that an API node announced (compute.instance.update from an api service);
# its duration runs to the latest completed .end of the same request.
event_requests = sa.Table(
    "event_requests", metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("instance", sa.String(64), nullable=False),
    sa.Column("start_when", sa.BigInteger, nullable=False),
    sa.Column("start_raw_id", sa.BigInteger, nullable=False),
    sa.Column("timing_name", sa.String(255)),
    sa.Column("end_raw_id", sa.BigInteger),
    sa.Column("end_when", sa.BigInteger),
    sa.Column("end_deployment_id", sa.Integer),
    sa.Column("end_tenant", sa.String(64)),
    sa.Column("duration", sa.BigInteger),
    sa.Index("ix_event_requests_start", "start_when"),
    sa.Index("ix_event_requests_duration", "duration"),
)

event_reports = sa.Table(
    "event_reports", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period_start", sa.Float, nullable=False),
    sa.Column("period_end", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("json", sa.Text, nullable=False),
    sa.Index("ix_event_reports_created", "created"),
    sa.Index("ix_event_reports_name_start", "name", "period_start"),
)

# Watermarks, e.g. `processed_id`: every raw event with a smaller or equal id has been folded into
# lifecycles, timings and requests (updated in the same transaction as they are).
event_progress = sa.Table(
    "event_progress", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

ALL = (event_deployments, event_lifecycles, event_timings, event_requests, event_reports, event_progress)


async def _v1_initial(conn: AsyncConnection) -> None:
    for table in ALL:
        await conn.run_sync(table.create, checkfirst=True)


# Append-only: a migration that has shipped is never edited.
MIGRATIONS: list[Migration] = [_v1_initial]
