"""Composite queries over HTTP: compose=, the legacy /v1/metrics?compose=, persisted composites."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Vigil

NOW = int(time.time())
T0 = NOW - NOW % 3600 - 7200


@pytest.fixture
async def data(vigil: Vigil) -> Vigil:
    rows = [("bench.m1", {"host": "a", "region": "r1"}, [1, 2, 3]),
            ("bench.m1", {"host": "b", "region": "r2"}, [3, 4, 5]),
            ("bench.m2", {"host": "a", "region": "r1"}, [2, 2, 2]),
            ("bench.m2", {"host": "b", "region": "r2"}, [4, 4, 4]),
            ("disk.ops", {"host": "ip-1", "disk": "disk0"}, [100, 130, 10])]
    r = await vigil.post_measurements({"measurements": [
        {"name": m, "value": v, "time": T0 + 60 * i, "tags": tags} for m, tags, values in rows
        for i, v in enumerate(values)]})
    assert r.status_code == 202
    return vigil


async def compose(vigil: Vigil, expression: str, path: str = "/v1/measurements", **params: object):
    return await vigil.client.get(path, params={"compose": expression, "start_time": T0, "end_time": T0 + 179,
                                                "resolution": 60, **params})


def points(series: dict) -> list[float]:
    return [m["value"] for m in series["measurements"]]


async def test_divide_of_two_sums(data: Vigil) -> None:
    r = await compose(data, 'divide([sum(s("bench.m1","*")), sum(s("bench.m2","*"))])')
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["compose"] == 'divide([sum(s("bench.m1","*")), sum(s("bench.m2","*"))])'
    assert body["resolution"] == 60
    assert [points(s) for s in body["series"]] == [[4 / 6, 6 / 6, 8 / 6]]
    series = body["series"][0]
    assert set(series) >= {"tags", "measurements", "metric", "period", "query"}
    assert [m["time"] for m in series["measurements"]] == [T0, T0 + 60, T0 + 120]


async def test_seed_derive_example_with_reset(data: Vigil) -> None:
    expression = 'derive(s("disk.ops", {"host": "ip-1"}), {detect_reset: "true"})'
    body = (await compose(data, expression)).json()
    assert len(body["series"]) == 1
    assert body["series"][0]["tags"] == {"disk": "disk0", "host": "ip-1"}
    assert body["series"][0]["metric"]["name"] == "disk.ops"
    assert [m["value"] for m in body["series"][0]["measurements"]][-2:] == [30.0, 0.0]


async def test_group_by_over_a_tag(data: Vigil) -> None:
    body = (await compose(data, 'group_by("region", sum(s("bench.*", "*")))')).json()
    assert {s["tags"]["region"]: points(s) for s in body["series"]} == {"r1": [3, 4, 5], "r2": [7, 8, 9]}


async def test_trailing_slash_and_legacy_metrics_route(data: Vigil) -> None:
    for path in ("/v1/measurements/", "/v1/metrics"):
        r = await compose(data, 'sum(s("bench.m2", "*"))', path=path)
        assert r.status_code == 200, (path, r.text)
        assert [points(s) for s in r.json()["series"]] == [[6, 6, 6]]


@pytest.mark.parametrize(("params", "param"), [
    ({"compose": 'sum(s("bench.m1", "*")'}, "compose"),
    ({"compose": "nosuchfunction(1)"}, "compose"),
    ({"compose": ""}, "compose"),
    ({"start_time": None}, "start_time"),
    ({"resolution": None}, "resolution"),
    ({"resolution": "x"}, "resolution"),
])
async def test_bad_composite_queries(data: Vigil, params: dict, param: str) -> None:
    query = {"compose": 'sum(s("bench.m1", "*"))', "start_time": T0, "resolution": 60, **params}
    r = await data.client.get("/v1/measurements", params={k: v for k, v in query.items() if v is not None})
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]["params"]


async def test_parse_error_points_at_the_column(data: Vigil) -> None:
    r = await compose(data, 'sum(s("bench.m1", "*")')
    assert "column 23" in r.json()["errors"]["params"]["compose"][0]


async def test_limits_are_a_400(start_vigil) -> None:
    vigil = await start_vigil(max_query_series=1)
    await vigil.post_measurements({"measurements": [{"name": "x", "value": 1, "time": T0, "tags": {"h": h}}
                                                    for h in "abc"]})
    r = await vigil.client.get("/v1/measurements", params={"compose": 'sum(s("x", "*"))', "start_time": T0,
                                                           "resolution": 60})
    assert r.status_code == 400


async def test_persisted_composite_is_validated_evaluated_and_filtered(data: Vigil) -> None:
    r = await data.client.put("/v1/metrics/ratio", json={"type": "composite", "composite": 'divide([s("bench.m1"'})
    assert r.status_code == 400
    assert "column" in r.json()["errors"]["params"]["composite"][0]
    definition = 'sum(s("bench.m1", "*"))'
    r = await data.client.put("/v1/metrics/ratio", json={"type": "composite", "composite": definition})
    assert r.status_code == 201
    r = await data.client.get("/v1/measurements/ratio", params={"start_time": T0, "end_time": T0 + 179,
                                                                "resolution": 60})
    assert r.status_code == 200
    assert r.json()["name"] == "ratio"
    assert [points(s) for s in r.json()["series"]] == [[4, 6, 8]]
    r = await data.client.get("/v1/measurements/ratio", params={"start_time": T0, "end_time": T0 + 179,
                                                                "resolution": 60, "tags_search": "region=r1"})
    assert [points(s) for s in r.json()["series"]] == [[1, 2, 3]]
