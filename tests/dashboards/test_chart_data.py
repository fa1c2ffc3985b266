"""GET /v1/spaces/:id/charts/:chart_id/data: each stream's query, grouping, filters and transform."""

from __future__ import annotations

import time

from tests.conftest import StartVigil, Vigil
from vigil.dashboards.data import Window

NOW = int(time.time())
T0 = NOW - NOW % 60 - 600
WINDOW = {"start_time": T0, "end_time": T0 + 120, "resolution": 60}
# host → (region, value at T0, value at T0+60)
HOSTS = {"a": ("east", 10.0, 20.0), "b": ("east", 30.0, 40.0), "c": ("west", 100.0, 200.0)}


async def seed(vigil: Vigil) -> None:
    measurements = []
    for host, (region, first, second) in HOSTS.items():
        for t, v in ((T0, first), (T0 + 60, second)):
            measurements.append({"name": "cpu", "value": v, "time": t, "tags": {"host": host, "region": region}})
    r = await vigil.post_measurements({"measurements": measurements})
    assert r.status_code == 202, r.text


async def chart(vigil: Vigil, *streams: dict, **props: object) -> str:
    space_id = (await vigil.client.post("/v1/spaces", json={"name": f"s{time.monotonic_ns()}"})).json()["id"]
    r = await vigil.client.post(f"/v1/spaces/{space_id}/charts", json={"name": "c", "streams": list(streams), **props})
    assert r.status_code == 201, r.text
    return f"/v1/spaces/{space_id}/charts/{r.json()['id']}/data"


def points(series: dict) -> list[tuple[int, float]]:
    return [(m["time"], m["value"]) for m in series["measurements"]]


async def test_default_group_function_averages_every_matching_series(vigil: Vigil) -> None:
    await seed(vigil)
    path = await chart(vigil, {"metric": "cpu", "tags": [{"name": "region", "values": ["*"]}]})
    r = await vigil.client.get(path, params=WINDOW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resolution"] == 60
    [series] = body["series"]
    assert set(series) == {"stream_id", "name", "tags", "measurements"}
    assert series["name"] == "cpu" and series["tags"] == {}
    assert points(series) == [(T0, (10 + 30 + 100) / 3), (T0 + 60, (20 + 40 + 200) / 3)]


async def test_filters_grouping_breakout_and_transform(vigil: Vigil) -> None:
    await seed(vigil)
    path = await chart(
        vigil,
        {"metric": "cpu", "name": "east sum", "group_function": "sum",
         "tags": [{"name": "region", "values": ["EAST"]}]},
        {"metric": "cpu", "group_function": "max", "tags": [{"name": "region", "grouped": True}]},
        {"metric": "cpu", "group_function": "breakout", "tags": [{"name": "host", "values": ["a", "c"]}],
         "transform_function": "x/p*60 + 1"},
        {"metric": "cpu", "tags": [{"name": "region", "values": ["!east"]}], "transform_function": "(x - 100) * 2"},
    )
    body = (await vigil.client.get(path, params=WINDOW)).json()
    by_stream: dict[int, list[dict]] = {}
    for s in body["series"]:
        by_stream.setdefault(s["stream_id"], []).append(s)
    east, grouped, broken, west = by_stream.values()
    assert [(s["name"], s["tags"], points(s)) for s in east] == [("east sum", {}, [(T0, 40.0), (T0 + 60, 60.0)])]
    assert [(s["tags"], points(s)) for s in grouped] == [({"region": "east"}, [(T0, 30.0), (T0 + 60, 40.0)]),
                                                         ({"region": "west"}, [(T0, 100.0), (T0 + 60, 200.0)])]
    assert [(s["tags"]["host"], points(s)) for s in broken] == [("a", [(T0, 11.0), (T0 + 60, 21.0)]),
                                                               ("c", [(T0, 101.0), (T0 + 60, 201.0)])]
    assert [points(s) for s in west] == [[(T0, 0.0), (T0 + 60, 200.0)]]


async def test_summary_function_and_period_in_transform(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [
        {"name": "lat", "time": T0, "sum": 30.0, "count": 3, "min": 5.0, "max": 20.0, "tags": {"h": "a"}}]})
    path = await chart(vigil, {"metric": "lat", "summary_function": "max", "tags": [{"name": "h", "values": ["a"]}]},
                       {"metric": "lat", "summary_function": "count", "period": 300, "transform_function": "x * p"})
    body = (await vigil.client.get(path, params=WINDOW)).json()
    assert [points(s) for s in body["series"]] == [[(T0, 20.0)], [(T0, 3.0 * 300)]]


async def test_unknown_metric_gives_no_series_and_division_by_zero_drops_points(vigil: Vigil) -> None:
    await seed(vigil)
    path = await chart(vigil, {"metric": "not.yet"},
                       {"metric": "cpu", "tags": [{"name": "host", "values": ["a"]}], "transform_function": "x/(p-60)"})
    body = (await vigil.client.get(path, params=WINDOW)).json()
    assert [points(s) for s in body["series"]] == [[]]


async def test_window_defaults_and_bad_parameters(vigil: Vigil) -> None:
    path = await chart(vigil, {"metric": "cpu"})
    body = (await vigil.client.get(path)).json()
    assert body == {"resolution": 60, "series": []}
    for params, field in (({"resolution": 0}, "resolution"), ({"start_time": "yesterday"}, "start_time"),
                          ({"start_time": 200, "end_time": 100}, "start_time"),
                          ({"start_time": 0, "end_time": 10_000_000, "resolution": 1}, "resolution")):
        r = await vigil.client.get(path, params=params)
        assert r.status_code == 400, params
        assert field in r.json()["errors"]["params"]
    assert (await vigil.client.get(path.replace("/data", "0/data"))).status_code == 404


async def test_series_limit(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(chart_data_max_series=2)
    await seed(vigil)
    path = await chart(vigil, {"metric": "cpu", "group_function": "breakout"})
    r = await vigil.client.get(path, params=WINDOW)
    assert r.status_code == 400
    assert "more than 2 series" in r.json()["errors"]["request"][0]
    path = await chart(vigil, {"metric": "cpu", "group_function": "sum", "tags": [{"name": "region", "grouped": True}]})
    assert len((await vigil.client.get(path, params=WINDOW)).json()["series"]) == 2


async def test_composite_stream(vigil: Vigil) -> None:
    await seed(vigil)
    path = await chart(vigil, {"composite": 'sum(s("cpu", {"region": "east"}))', "transform_function": "x+1"})
    r = await vigil.client.get(path, params=WINDOW)
    if getattr(vigil.services, "composer", None) is None:
        assert r.status_code == 503
        assert "composite" in r.json()["errors"]["system"][0]
        return
    assert r.status_code == 200, r.text
    [series] = r.json()["series"]
    assert points(series) == [(T0, 41.0), (T0 + 60, 61.0)]


async def test_snapshot_tags_narrow_composite_streams(vigil: Vigil) -> None:
    await seed(vigil)
    path = await chart(vigil, {"composite": 'sum(s("cpu", "*"))'})
    chart_id = int(path.split("/")[-2])
    chart_obj = await vigil.services.charts.by_id(chart_id)
    assert chart_obj is not None
    body = await vigil.services.chart_data.evaluate_window(chart_obj, Window(T0, T0 + 120, 60),
                                     extra_tags=[{"name": "host", "values": ["A", "b"]}])
    assert [points(s) for s in body["series"]] == [[(T0, 40.0), (T0 + 60, 60.0)]]
