"""StackTach's summary report: per operation x image type x OS type, how long user requests took and
how often they failed, over one period; stored so that `reports/` and `report/<id>` serve it.

A request is every nova notification with one request id (bar `compute.instance.exists`), for the
instances that saw a `compute.instance.update` in the period. Its duration runs from its first to
its last notification; it failed with `4xx`/`5xx` (an `.error` notification whose exception carries
that HTTP code), `state` (the instance went to the error state and did not leave it), or `> 30`
(none of those but slower than `too_long`, 30 minutes by default). Row 0 of the stored report is
its metadata; row 1 the column headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from vigil.events import image_type
from vigil.events.deployments import Deployments
from vigil.events.timefmt import US, sec_to_str
from vigil.storage.events_tables import event_lifecycles as lct
from vigil.storage.events_tables import event_reports as rpt
from vigil.storage.events_tables import event_requests as rqt
from vigil.storage.events_tables import event_timings as tmt
from vigil.storage.metadata import MetadataDB
from vigil.storage.telemetry import TelemetryError, TelemetryStore

log = logging.getLogger(__name__)

VERSION = 4
COMMANDS = ("create", "rebuild", "rescue", "resize", "snapshot")
MAX_SPAN = 31 * 86_400


class ReportError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Period:
    start: int  # unixtime seconds, inclusive
    end: int  # exclusive

    @property
    def hours(self) -> int | float:
        hours = (self.end - self.start) / 3600
        return int(hours) if hours.is_integer() else hours


def _failure_code(text: str) -> int:
    try:
        _, body = json.loads(text)
        code = body["payload"]["exception"]["kwargs"].get("code", 0)
        return int(code)
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0


def summarize(requests: list[list[dict[str, Any]]], *, percentile: int, too_long: int) -> tuple[
        dict[tuple[str, str, str], list[int]], dict[tuple[str, str, str], dict[str, int]]]:
    """Durations (µs) and failure counts per (operation, image, os type), from each request's
    notifications in time order."""
    too_long_col = f"> {too_long // 60}"
    durations: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    failures: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for raws in requests:
        if not raws:
            continue
        err: dict[str, Any] | None = None
        failure: str | None = None
        operation = "aux"
        bits = 0
        for raw in raws:
            if "error" in raw["routing_key"]:
                err, failure = raw, "http"
            if failure != "state" and raw["old_state"] != "error" and raw["state"] == "error":
                failure = "state"
            if raw["old_state"] == "error" and raw["state"] not in ("deleted", "error"):
                failure = None
            operation = next((cmd for cmd in COMMANDS if cmd in raw["event"]), operation)
            bits |= raw["image_type"] or 0
        image = "?"
        if image_type.isset(bits, image_type.BASE_IMAGE):
            image = "base"
        if image_type.isset(bits, image_type.SNAPSHOT_IMAGE):
            image = "snap"
        os_type = "?"
        if image_type.isset(bits, image_type.LINUX_IMAGE):
            os_type = "linux"
        if image_type.isset(bits, image_type.WINDOWS_IMAGE):
            os_type = "windows"
        diff = raws[-1]["us"] - raws[0]["us"]
        if diff > too_long * US and failure is None:
            failure = too_long_col
        key = (operation, image, os_type)
        durations[key].append(diff)
        if failure:
            if err is not None:
                code = _failure_code(err["json"])
                if 400 <= code < 500:
                    failure = "4xx"
                if 500 <= code < 600:
                    failure = "5xx"
            failures[key][failure] += 1
    return durations, failures


def build(period: Period, region: str | None, cells: list[str], requests: list[list[dict[str, Any]]], *,
          percentile: int = 97, too_long: int = 1800) -> list[Any]:
    durations, failures = summarize(requests, percentile=percentile, too_long=too_long)
    too_long_col = f"> {too_long // 60}"
    failure_types = ["4xx", "5xx", too_long_col, "state"]
    details: dict[str, Any] = {"percentile": percentile, "pct": (100 - percentile) / 2.0 / 100.0,
                               "hours": period.hours, "start": float(period.start), "end": float(period.end - 1),
                               "region": region, "cells": cells}
    cols = ["Operation", "Image", "OS Type", "Min", "Max", "Med", f"{percentile}%", "Requests"]
    for failure_type in failure_types:
        cols += [failure_type, f"% {failure_type}"]
    report: list[Any] = [details, cols]
    total = 0
    totals: dict[str, int] = defaultdict(int)
    for key in sorted(durations):
        values = sorted(durations[key])
        count = len(values)
        total += count
        row: list[Any] = [*key, sec_to_str(values[0] / US), sec_to_str(values[-1] / US),
                          sec_to_str(values[count // 2] / US),
                          sec_to_str(values[int(percentile / 100 * count)] / US), count]
        for failure_type in failure_types:
            failed = failures.get(key, {}).get(failure_type, 0)
            totals[failure_type] += failed
            row += [failed, failed / count]
        report.append(row)
    details["total"] = total
    grand = 0
    for failure_type in failure_types:
        grand += totals[failure_type]
        details[f"{failure_type} failure count"] = totals[failure_type]
        details[f"{failure_type} failure percentage"] = totals[failure_type] / total * 100.0 if total else 0.0
    details["failure_grand_total"] = grand
    details["failure_grand_rate"] = grand / total * 100.0 if total else 0.0
    return report


class Reports:
    def __init__(self, store: TelemetryStore, db: MetadataDB, deployments: Deployments, *, percentile: int = 97,
                 too_long: int = 1800, clock: Callable[[], float] = time.time,
                 barrier: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self._barrier = barrier
        self.db = db
        self.deployments = deployments
        self.percentile = percentile
        self.too_long = too_long
        self._clock = clock

    def regions(self, region: str | None, *, exact: bool = False) -> list[tuple[int, str]]:
        """The deployments a region covers: all for none, else those whose name contains it (any case)."""
        every = sorted(self.deployments.all())
        if region is None:
            return every
        wanted = region.upper()
        return [(i, name) for i, name in every if (name.upper() == wanted if exact else wanted in name.upper())]

    async def _requests(self, period: Period, deployment_ids: list[int]) -> list[list[dict[str, Any]]]:
        db = self.store.database
        window = ("`when` >= fromUnixTimestamp64Micro({s:Int64}, 'UTC') "
                  "AND `when` < fromUnixTimestamp64Micro({e:Int64}, 'UTC')")
        deps = ", ".join(str(int(i)) for i in deployment_ids)  # our own integer ids
        pairs_sql = (f"SELECT DISTINCT request_id, instance FROM {db}.events WHERE kind = 'nova' AND {window} "
                     f"AND request_id != '' AND instance IN (SELECT DISTINCT instance FROM {db}.events "
                     f"WHERE kind = 'nova' AND event = 'compute.instance.update' AND {window} "
                     f"AND deployment IN ({deps}) AND instance IS NOT NULL)")
        params = {"s": period.start * US, "e": period.end * US}
        pairs = await self.store.query_arrow(pairs_sql + " ORDER BY instance, request_id", params)
        raws = await self.store.query_arrow(
            "SELECT request_id, toUnixTimestamp64Micro(`when`) AS us, routing_key, state, old_state, event, "
            "image_type, if(position(routing_key, 'error') > 0, json, '') AS json "
            f"FROM {db}.events WHERE kind = 'nova' AND event != 'compute.instance.exists' "
            f"AND request_id IN (SELECT request_id FROM ({pairs_sql})) ORDER BY request_id, `when`, id", params)
        by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for raw in raws.to_pylist():
            by_request[raw["request_id"]].append(raw)
        # One entry per (instance, request), as the original walked instances and then their requests.
        return [by_request.get(rid, []) for rid in pairs.column("request_id").to_pylist()]

    async def compute(self, period: Period, region: str | None, *, exact: bool = False) -> list[Any]:
        if period.end <= period.start:
            raise ReportError("end", "must be after the start")
        if period.end - period.start > MAX_SPAN:
            raise ReportError("end", f"a report covers at most {MAX_SPAN // 86_400} days")
        covered = self.regions(region, exact=exact)
        if not covered:
            raise ReportError("region", f"No regions found for '{region}'")
        if self._barrier is not None:
            await self._barrier()  # every notification acknowledged so far is counted
        requests = await self._requests(period, [i for i, _ in covered])
        return build(period, region.upper() if region else None, [name for _, name in covered], requests,
                     percentile=self.percentile, too_long=self.too_long)

    @staticmethod
    def name_for(region: str | None) -> str:
        return f"summary for region: {region or 'all'}"

    async def run(self, period: Period, region: str | None, *, exact: bool = False) -> int:
        """Compute and store one report; returns its id."""
        report = await self.compute(period, region, exact=exact)
        async with self.db.begin() as conn:
            done = await conn.execute(rpt.insert().values(
                period_start=float(period.start), period_end=float(period.end - 1), created=self._clock(),
                name=self.name_for(region), version=VERSION, json=json.dumps(report, sort_keys=True)))
        return int(done.inserted_primary_key[0])

    async def exists(self, name: str, period: Period) -> bool:
        async with self.db.connect() as conn:
            found = await conn.execute(sa.select(rpt.c.id).where(rpt.c.name == name,
                                                                 rpt.c.period_start == float(period.start)).limit(1))
            return found.first() is not None

    async def prune(self, *, derived_before_us: int, reports_before: float) -> None:
        """Drop what retention no longer keeps: derived rows of old events, and old reports."""
        async with self.db.begin() as conn:
            last = sa.func.coalesce(tmt.c.end_when, tmt.c.start_when)
            await conn.execute(tmt.delete().where(last < derived_before_us))
            await conn.execute(rqt.delete().where(rqt.c.start_when < derived_before_us))
            await conn.execute(lct.delete().where(lct.c.last_when < derived_before_us))
            await conn.execute(rpt.delete().where(rpt.c.created < reports_before))


class ReportScheduler:
    """Every `interval` seconds (plus `delay`, for stragglers), the report of the period that just
    ended: one for all deployments and one per region (each deployment unless regions are configured).
    A period's report is made once; a restart makes the latest missing one."""

    def __init__(self, reports: Reports, *, interval: int, delay: int, regions: list[str], retention: int,
                 report_retention: int, clock: Callable[[], float] = time.time) -> None:
        self.reports = reports
        self.interval = interval
        self.delay = delay
        self.regions = regions
        self.retention = retention
        self.report_retention = report_retention
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def due(self, now: float) -> Period:
        interval = self.interval or 3600  # a report made on demand when the schedule is off
        end = int((now - self.delay) // interval * interval)
        return Period(end - interval, end)

    def _targets(self) -> list[tuple[str | None, bool]]:
        if self.regions:
            return [(None if r.lower() == "all" else r, False) for r in self.regions]
        return [(None, False), *((name, True) for _, name in self.reports.deployments.all())]

    async def run_due(self, now: float | None = None) -> list[int]:
        now = self._clock() if now is None else now
        period = self.due(now)
        made = []
        targets = self._targets() if self.reports.deployments.all() else []  # nothing received yet
        for region, exact in targets:
            if await self.reports.exists(self.reports.name_for(region), period):
                continue
            try:
                made.append(await self.reports.run(period, region, exact=exact))
            except ReportError as exc:
                log.warning("report %s for %d..%d skipped: %s", self.reports.name_for(region), period.start,
                            period.end, exc)
        await self.reports.prune(derived_before_us=int((now - self.retention) * US),
                                 reports_before=now - self.report_retention)
        return made

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="events-reports")

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except (TelemetryError, SQLAlchemyError, OSError) as exc:
                log.error("scheduled events report failed: %s", exc)
            now = self._clock()
            upcoming = self.due(now).end + self.interval + self.delay
            await asyncio.sleep(max(upcoming - now, 1.0))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
