"""Aggregates of one series() (alone, or as the whole of a group_by()) are computed by the engine; they
must give exactly what the evaluator computes in memory from the streams. `abs()` on non-negative data
changes no value but keeps the evaluator from handing the aggregate to the engine, so each expression
is compared with its `abs()` twin."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Vigil

NOW = int(time.time())
T0 = NOW - NOW % 3600 - 7200
HOSTS = {"h0": "r0", "h1": "r1", "h2": "r0", "h3": "r1", "h4": "r2", "h5": None}


@pytest.fixture
async def data(vigil: Vigil) -> Vigil:
    measurements = []
    for n, (host, region) in enumerate(HOSTS.items()):
        tags = {"host": host, "role": "web" if n % 2 else "db"} | ({"region": region} if region else {})
        for minute in range(10):
            if (minute + n) % 4 == 3:
                continue  # a gap: not every stream reports at every minute
            measurements.append({"name": "pd", "value": (n * 7 + minute * 3) % 11, "time": T0 + 60 * minute,
                                 "tags": tags})
    # In the group r2 but without points in the window, and with a tag no other stream has.
    measurements.append({"name": "pd", "value": 50, "time": T0 - 900,
                         "tags": {"host": "h6", "region": "r2", "role": "db", "az": "z"}})
    r = await vigil.post_measurements({"measurements": measurements})
    assert r.status_code == 202, r.text
    return vigil


async def compose(vigil: Vigil, expression: str) -> list[dict]:
    r = await vigil.client.get("/v1/measurements", params={"compose": expression, "start_time": T0,
                                                           "end_time": T0 + 599, "resolution": 120})
    assert r.status_code == 200, r.text
    return [{"tags": s["tags"], "points": [(m["time"], round(m["value"], 9)) for m in s["measurements"]]}
            for s in r.json()["series"]]


TAGS = ['"*"', '{region:"r1"}', '{region:"!r1"}', '{host:"h*", role:"db"}']
FUNCTIONS = ["mean", "sum", "min", "max", "count"]


@pytest.mark.parametrize("how", ["sum", "mean", "min", "max"])
async def test_engine_aggregates_equal_the_evaluator(data: Vigil, how: str) -> None:
    # Every series function, each with one of the tag filters (rotating, so all four appear per aggregate).
    for n, function in enumerate(FUNCTIONS):
        leaf = f's("pd", {TAGS[(n + len(how)) % len(TAGS)]}, {{function:"{function}"}})'
        for template in ("{how}({leaf})", 'group_by("region", {how}({leaf}))',
                         'group_by("region,role", {how}({leaf}))'):
            pushed = await compose(data, template.format(how=how, leaf=leaf))
            in_memory = await compose(data, template.format(how=how, leaf=f"abs({leaf})"))
            assert pushed == in_memory, template.format(how=how, leaf=leaf)
            assert pushed and all(s["points"] for s in pushed)


async def test_shared_tags_count_only_streams_with_points(data: Vigil) -> None:
    series = await compose(data, 'group_by("region", sum(s("pd", "*")))')
    assert [s["tags"] for s in series] == [{"region": "r0", "role": "db"}, {"region": "r1", "role": "web"},
                                           {"host": "h4", "region": "r2", "role": "db"}]


async def test_engine_aggregates_count_their_inputs_against_the_limit(start_vigil) -> None:
    # Each sum reads 2 streams (within the limit of 3 per read); together they read 4.
    vigil = await start_vigil(max_query_series=3)
    await vigil.post_measurements({"measurements": [
        {"name": name, "value": 1, "time": T0, "tags": {"host": f"h{i}"}} for name in ("w1", "w2") for i in range(2)]})
    r = await vigil.client.get("/v1/measurements", params={
        "compose": 'divide([sum(s("w1", "*")), sum(s("w2", "*"))])', "start_time": T0, "resolution": 60})
    assert r.status_code == 400
    assert "4 fetched" in r.json()["errors"]["params"]["compose"][0]
