"""Reports: computed on demand (POST /v1/events/reports) and by the scheduled job, served by
`reports/` and `report/<id>`."""

from __future__ import annotations

from tests.conftest import StartVigil, Vigil
from tests.events.conftest import KEEP
from tests.events.fixtures import DAY_START, load
from vigil.auth.roles import Role

HOUR = 3600
COLS = ["Operation", "Image", "OS Type", "Min", "Max", "Med", "97%", "Requests", "4xx", "% 4xx", "5xx", "% 5xx",
        "> 30", "% > 30", "state", "% state"]


def meta(start: int, region: str | None, cells: list[str], total: int, **failures: float) -> dict:
    out: dict = {"percentile": 97, "pct": 0.015, "hours": 1, "start": float(start), "end": float(start + 3599),
                 "region": region, "cells": cells, "total": total}
    for kind in ("4xx", "5xx", "> 30", "state"):
        out[f"{kind} failure count"] = int(failures.get(f"{kind}_count", 0))
        out[f"{kind} failure percentage"] = failures.get(f"{kind}_pct", 0.0)
    out["failure_grand_total"] = int(failures.get("grand", 0))
    out["failure_grand_rate"] = failures.get("rate", 0.0)
    return out


async def make(vigil: Vigil, start: int, end: int, region: str | None = None, status: int = 201) -> dict:
    params = {"start": str(start), "end": str(end)}
    if region:
        params["region"] = region
    response = await vigil.client.post("/v1/events/reports", params=params)
    assert response.status_code == status, response.text
    return response.json()


async def test_report_of_the_create_hour(loaded: Vigil) -> None:
    start = DAY_START + 15 * HOUR
    made = await make(loaded, start, start + HOUR)
    assert made == {"id": 1, "name": "summary for region: all", "start": float(start), "end": float(start + 3599)}
    report = (await loaded.client.get("/stacky/report/1/")).json()
    # A's create request: 15:39:00 (the API's update) to 15:40:00.6, on a base linux image.
    assert report == [meta(start, None, ["region-1", "region-2"], 1), COLS,
                      ["create", "base", "linux", "1:00s", "1:00s", "1:00s", "1:00s", 1, 0, 0.0, 0, 0.0, 0, 0.0, 0,
                       0.0]]


async def test_report_with_a_failure_and_a_region(loaded: Vigil) -> None:
    start = DAY_START + 18 * HOUR
    await make(loaded, start, start + HOUR)
    report = (await loaded.client.get("/stacky/report/1")).json()
    # B's failed create ends with an .error carrying HTTP 500 (so 5xx, not state); its delete is a
    # request of its own, which starts in the error state and never leaves it (a state failure).
    rows = [["aux", "?", "?", "3s", "3s", "3s", "3s", 1, 0, 0.0, 0, 0.0, 0, 0.0, 1, 1.0],
            ["create", "snap", "windows", "2s", "2s", "2s", "2s", 1, 0, 0.0, 1, 1.0, 0, 0.0, 0, 0.0]]
    failures = {"5xx_count": 1, "5xx_pct": 50.0, "state_count": 1, "state_pct": 50.0}
    assert report == [meta(start, None, ["region-1", "region-2"], 2, **failures, grand=2, rate=100.0), COLS, *rows]
    await make(loaded, start, start + HOUR, region="region-2")
    assert (await loaded.client.get("/stacky/report/2")).json() == [
        meta(start, "REGION-2", ["region-2"], 2, **failures, grand=2, rate=100.0), COLS, *rows]
    await make(loaded, start, start + HOUR, region="region-1")
    assert (await loaded.client.get("/stacky/report/3")).json() == [meta(start, "REGION-1", ["region-1"], 0), COLS]


async def test_reports_list(loaded: Vigil) -> None:
    start = DAY_START + 15 * HOUR
    await make(loaded, start, start + HOUR)
    await make(loaded, start + HOUR, start + 2 * HOUR, region="region-1")
    rows = (await loaded.client.get("/stacky/reports/")).json()
    assert rows[0] == ["Id", "Start", "End", "Created", "Name", "Version"]
    assert [r[:3] + r[4:] for r in rows[1:]] == [
        [1, float(start), float(start + 3599), "summary for region: all", 4],
        [2, float(start + HOUR), float(start + HOUR + 3599), "summary for region: region-1", 4]]
    created = rows[1][3]
    assert (await loaded.client.get(f"/stacky/reports?created_from={created + 3600}")).json() == [rows[0]]
    assert len((await loaded.client.get("/stacky/reports/?limit=1&offset=1")).json()) == 2
    assert (await loaded.client.get(f"/stacky/reports?created_to={created - 1}")).json() == [rows[0]]


async def test_report_errors(loaded: Vigil) -> None:
    response = await loaded.client.get("/stacky/report/42/")
    assert (response.status_code, response.json()) == (404, [["Error", "Message"],
                                                            ["Not Found", "There is no report 42"]])
    start = DAY_START
    for params, errors in [({"start": str(start)}, {"end": ["is required (unixtime or ISO 8601 time)"]}),
                           ({"start": "soon", "end": "later"}, {"start": ["must be a unixtime or an ISO 8601 time"]}),
                           ({"start": str(start), "end": str(start)}, {"end": ["must be after the start"]}),
                           ({"start": str(start), "end": str(start + 40 * 86_400)},
                            {"end": ["a report covers at most 31 days"]}),
                           ({"start": str(start), "end": str(start + 60), "region": "mars"},
                            {"region": ["No regions found for 'mars'"]})]:
        response = await loaded.client.post("/v1/events/reports", params=params)
        assert (response.status_code, response.json()) == (400, {"errors": {"params": errors}}), params
    viewer = await loaded.token(Role.VIEWER)
    response = await loaded.as_token(viewer).post("/v1/events/reports", params={"start": "0", "end": "60"})
    assert response.status_code == 403
    # ISO 8601 works too
    made = await make(loaded, "2014-01-14T15:00:00Z", "2014-01-14T16:00:00Z")  # type: ignore[arg-type]
    assert made["start"] == float(DAY_START + 15 * HOUR)


async def test_scheduled_reports(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP, events_report_interval=0)
    await load(vigil.client)
    scheduler = vigil.services.events.scheduler
    scheduler.interval, scheduler.delay = 3600, 300
    # 19:04: too early for the 18:00 hour (5 minutes' grace), so the 17:00 hour is made.
    made = await scheduler.run_due(DAY_START + 19 * HOUR + 240)
    rows = (await vigil.client.get("/stacky/reports/?created_from=0")).json()
    assert [r[1:3] + r[4:] for r in rows[1:]] == [
        [float(DAY_START + 17 * HOUR), float(DAY_START + 17 * HOUR + 3599), "summary for region: all", 4],
        [float(DAY_START + 17 * HOUR), float(DAY_START + 17 * HOUR + 3599), "summary for region: region-1", 4],
        [float(DAY_START + 17 * HOUR), float(DAY_START + 17 * HOUR + 3599), "summary for region: region-2", 4]]
    assert len(made) == 3
    assert await scheduler.run_due(DAY_START + 19 * HOUR + 290) == []  # made once
    assert len(await scheduler.run_due(DAY_START + 20 * HOUR)) == 3  # the next hour
    # each deployment's report covers it alone
    region_1 = (await vigil.client.get(f"/stacky/report/{made[1]}")).json()
    assert region_1[0]["cells"] == ["region-1"] and region_1[0]["total"] == 1
    # configured regions replace the per-deployment reports
    scheduler.regions = ["all", "region"]
    names = [vigil.services.events.reports.name_for(r) for r, _ in scheduler._targets()]
    assert names == ["summary for region: all", "summary for region: region"]


async def test_retention_prunes_derived_rows_and_reports(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP, events_report_interval=0)
    await load(vigil.client)
    await vigil.services.events.sync()
    vigil.services.events.reports._clock = lambda: DAY_START
    await make(vigil, DAY_START + 15 * HOUR, DAY_START + 16 * HOUR)
    scheduler = vigil.services.events.scheduler
    scheduler.retention = 86_400  # one day after the fixture day: everything derived goes
    scheduler.report_retention = 86_400
    await scheduler.run_due(DAY_START + 3 * 86_400)
    from tests.events.fixtures import A

    assert (await vigil.client.get(f"/stacky/timings/uuid/?uuid={A}")).json() == [["?", "Event", "Time (secs)"]]
    assert (await vigil.client.get("/stacky/reports/?created_from=0")).json() == [
        ["Id", "Start", "End", "Created", "Name", "Version"]]
