"""GET /v1/measurements/:name — filters, tags_search, group_by, summary functions, tiers and pages.

Every expected series below is computed by hand from the fixture.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import StartVigil, Vigil
from vigil.metrics.tagfilter import And

NOW = int(time.time())
T0 = NOW - NOW % 3600 - 7200  # two hours ago, on an hour boundary (so 60 and 120 s buckets align)

SERIES = {
    "a": ({"region": "us-east", "name": "prod", "host": "a"}, [1, 2, 3]),
    "b": ({"region": "us-west", "name": "prod", "host": "b"}, [10, 20, 30]),
    "c": ({"region": "eu", "name": "dev", "host": "c"}, [100, 200, 300]),
    "e": ({"region": "us-east", "name": "dev"}, [5, 5, 5]),
    "d": ({"name": "prod", "host": "d"}, [7, 7, 7]),
}


@pytest.fixture(params=["recent", "engine"])
async def vigil(request: pytest.FixtureRequest, start_vigil: StartVigil) -> Vigil:
    """Every query here twice: answered from the recent points in memory, and by the engine."""
    return await start_vigil(**({"recent_samples_rows": 0} if request.param == "engine" else {}))


@pytest.fixture
async def disk(vigil: Vigil) -> Vigil:
    measurements = [{"name": "disk", "value": v, "time": T0 + 60 * i, "tags": tags}
                    for tags, values in SERIES.values() for i, v in enumerate(values)]
    r = await vigil.post_measurements({"measurements": measurements})
    assert r.status_code == 202, r.text
    return vigil


async def query(vigil: Vigil, metric: str = "disk", **params: object) -> dict:
    r = await vigil.client.get(f"/v1/measurements/{metric}",
                               params={"start_time": T0, "end_time": T0 + 180, "resolution": 60, **params})
    assert r.status_code == 200, r.text
    return r.json()


def hosts(body: dict) -> list[str]:
    return [s["tags"].get("host", "-") for s in body["series"]]


def values(body: dict) -> dict[str, list[float]]:
    return {",".join(f"{k}={v}" for k, v in sorted(s["tags"].items())): [m["value"] for m in s["measurements"]]
            for s in body["series"]}


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["a", "b", "c", "d", "-"]),
    ({"tags": "*"}, ["a", "b", "c", "d", "-"]),
    ({"tags[region]": "us-*"}, ["a", "b", "-"]),
    ({"tags[region]": ["us-east", "eu"]}, ["a", "c", "-"]),
    ({"tags[region]": "us-*", "tags[name]": "prod"}, ["a", "b"]),
    ({"tags[region]": "!us-east"}, ["b", "c"]),
    ({"tags[!host]": ""}, ["-"]),
    ({"tags[host]": "*"}, ["a", "b", "c", "d"]),
    ({"tags[REGION]": "US-EAST"}, ["a", "-"]),
    ({"tags[region]": "nowhere"}, []),
])
async def test_tag_filters(disk: Vigil, params: dict, expected: list[str]) -> None:
    # Streams are sorted by their sorted tag pairs: host=a … host=d, then (name=dev, region=us-east).
    assert hosts(await query(disk, **params)) == expected


@pytest.mark.parametrize(("search", "expected"), [
    ("region=us-* and not name=dev", ["a", "b"]),
    ("name=dev or region=us-west and host=b", ["b", "c", "-"]),
    ("(name=dev or region=us-west) and host=*", ["b", "c"]),
    ("!host", ["-"]),
    ("region=!us-east", ["b", "c"]),
    ("region!=us-east", ["b", "c"]),
    ("not region=*", ["d"]),
    ("NOT host=a AND region=us-east", ["-"]),
])
async def test_tags_search(disk: Vigil, search: str, expected: list[str]) -> None:
    assert hosts(await query(disk, tags_search=search)) == expected


@pytest.mark.parametrize(("search", "column"), [("region=us-east and", "column 19"), ("(region=a", "column 10"),
                                                ("region==a", "column 8"), ("", None)])
async def test_tags_search_errors_point_at_the_position(disk: Vigil, search: str, column: str | None) -> None:
    r = await disk.client.get("/v1/measurements/disk", params={"duration": 60, "resolution": 60,
                                                               "tags_search": search or " "})
    assert r.status_code == 400
    message = r.json()["errors"]["params"]["tags_search"][0]
    if column:
        assert column in message


async def test_tags_and_tags_search_are_exclusive(disk: Vigil) -> None:
    r = await disk.client.get("/v1/measurements/disk", params={"duration": 60, "resolution": 60,
                                                               "tags_search": "a=b", "tags[region]": "x"})
    assert r.status_code == 400
    assert "tags_search" in r.json()["errors"]["params"]


@pytest.mark.parametrize(("function", "expected"), [
    ("sum", {"region=eu": [100, 200, 300], "region=us-east": [6, 7, 8], "region=us-west": [10, 20, 30]}),
    ("min", {"region=eu": [100, 200, 300], "region=us-east": [1, 2, 3], "region=us-west": [10, 20, 30]}),
    ("max", {"region=eu": [100, 200, 300], "region=us-east": [5, 5, 5], "region=us-west": [10, 20, 30]}),
    ("mean", {"region=eu": [100, 200, 300], "region=us-east": [3, 3.5, 4], "region=us-west": [10, 20, 30]}),
])
async def test_group_by_region(disk: Vigil, function: str, expected: dict) -> None:
    # d has no region: group_by implies the tag exists.
    assert values(await query(disk, group_by="region", group_by_function=function)) == expected


async def test_group_by_two_tags_and_star(disk: Vigil) -> None:
    body = await query(disk, group_by="region,name", group_by_function="sum")
    assert values(body) == {"name=dev,region=eu": [100, 200, 300], "name=dev,region=us-east": [5, 5, 5],
                            "name=prod,region=us-east": [1, 2, 3], "name=prod,region=us-west": [10, 20, 30]}
    body = await query(disk, group_by="*", group_by_function="sum")
    assert body["series"] == [{"tags": {}, "measurements": [{"time": T0, "value": 123.0},
                                                            {"time": T0 + 60, "value": 234.0},
                                                            {"time": T0 + 120, "value": 345.0}]}]


@pytest.mark.parametrize(("params", "param"), [
    ({"group_by": "region"}, "group_by_function"),
    ({"group_by": "region", "group_by_function": "median"}, "group_by_function"),
    ({"group_by": "region", "group_by_function": "sum", "summary_function": "all"}, "summary_function"),
    ({"summary_function": "p99"}, "summary_function"),
    ({"start_time": T0, "end_time": T0 + 60, "duration": 60}, "duration"),
    ({"resolution": None}, "resolution"),
    ({"resolution": 0}, "resolution"),
    ({"resolution": 604801}, "resolution"),
    ({"resolution": "often"}, "resolution"),
    ({"start_time": None, "duration": None}, "start_time"),
    ({"start_time": T0 + 600, "end_time": T0}, "start_time"),
    ({"cursor": "bogus"}, "cursor"),
])
async def test_bad_parameters_name_the_parameter(disk: Vigil, params: dict, param: str) -> None:
    base = {"start_time": T0, "end_time": T0 + 180, "resolution": 60}
    base.update(params)
    r = await disk.client.get("/v1/measurements/disk", params={k: v for k, v in base.items() if v is not None})
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]["params"]


async def test_unknown_metric_404_and_no_matching_streams_200(disk: Vigil) -> None:
    r = await disk.client.get("/v1/measurements/nothing", params={"duration": 60, "resolution": 60})
    assert r.status_code == 404
    body = await query(disk, **{"tags[region]": "mars"})
    assert body == {"series": [], "links": [], "resolution": 60, "name": "disk"}


async def test_downsampling_to_coarser_resolution(disk: Vigil) -> None:
    only_a = {"tags[host]": "a", "resolution": 120}
    assert values(await query(disk, **only_a)) == {"host=a,name=prod,region=us-east": [1.5, 3.0]}
    assert values(await query(disk, summary_function="sum", **only_a))["host=a,name=prod,region=us-east"] == [3, 3]
    assert values(await query(disk, summary_function="min", **only_a))["host=a,name=prod,region=us-east"] == [1, 3]
    assert values(await query(disk, summary_function="max", **only_a))["host=a,name=prod,region=us-east"] == [2, 3]
    assert values(await query(disk, summary_function="count", **only_a))["host=a,name=prod,region=us-east"] == [2, 1]


async def test_summary_functions_on_summary_measurements(vigil: Vigil) -> None:
    tags = {"host": "x"}
    await vigil.post_measurements({"measurements": [
        {"name": "lat", "time": T0, "count": 4, "sum": 20, "min": 1, "max": 9, "last": 6, "stddev": 2, "tags": tags},
        {"name": "lat", "time": T0 + 30, "count": 1, "sum": 10, "min": 10, "max": 10, "last": 10, "stddev": 4,
         "tags": tags}]})
    expected = {"sum": 30, "count": 5, "min": 1, "max": 10, "mean": 6, "stddev": 3}
    for function, value in expected.items():
        body = await query(vigil, "lat", summary_function=function)
        assert body["series"][0]["measurements"] == [{"time": T0, "value": value}], function
    body = await query(vigil, "lat", summary_function="all")
    assert body["series"][0]["measurements"] == [{"time": T0, "value": 6.0, "count": 5.0, "sum": 30.0, "min": 1.0,
                                                  "max": 10.0, "last": 10.0, "stddev": 3.0}]


async def test_default_summary_function_is_the_metrics_summarize_function(vigil: Vigil) -> None:
    await vigil.client.put("/v1/metrics/reqs", json={"attributes": {"summarize_function": "sum"}})
    await vigil.post_measurements({"tags": {"h": "x"}, "measurements": [
        {"name": "reqs", "value": 2, "time": T0}, {"name": "reqs", "value": 3, "time": T0 + 10}]})
    assert (await query(vigil, "reqs"))["series"][0]["measurements"] == [{"time": T0, "value": 5.0}]


async def test_derivative_with_counter_reset(vigil: Vigil) -> None:
    counts = [10, 15, 3, 8, 20]
    await vigil.post_measurements({"tags": {"h": "x"}, "measurements": [
        {"name": "ctr", "value": v, "time": T0 + 60 * i} for i, v in enumerate(counts)]})
    body = await query(vigil, "ctr", summary_function="derivative", end_time=T0 + 300)
    assert [(m["time"] - T0, m["value"]) for m in body["series"][0]["measurements"]] == [
        (60, 5.0), (120, 0.0), (180, 5.0), (240, 12.0)]
    body = await query(vigil, "ctr", summary_function="derivative", end_time=T0 + 300, resolution=120)
    assert [(m["time"] - T0, m["value"]) for m in body["series"][0]["measurements"]] == [
        (0, 5.0), (120, 5.0), (240, 12.0)]


async def test_pagination_follows_next_links(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [
        {"name": "many", "value": i, "time": T0, "tags": {"host": f"h{i:03d}"}} for i in range(250)]})
    seen: list[str] = []
    body = await query(vigil, "many")
    pages = 1
    while True:
        seen += [s["tags"]["host"] for s in body["series"]]
        links = [link for link in body["links"] if link["rel"] == "next"]
        if not links:
            break
        assert links[0]["href"].startswith("http://vigil.test/v1/measurements/many?")
        r = await vigil.client.get(links[0]["href"])
        assert r.status_code == 200
        body = r.json()
        pages += 1
    assert pages == 3
    assert seen == [f"h{i:03d}" for i in range(250)]


async def test_limits_on_streams_and_points(start_vigil) -> None:
    vigil = await start_vigil(max_query_series=2, max_query_points=4)
    await vigil.post_measurements({"measurements": [
        {"name": "lim", "value": 1, "time": T0 + 60 * i, "tags": {"host": h}} for h in "xyz" for i in range(3)]})
    r = await vigil.client.get("/v1/measurements/lim", params={"start_time": T0, "resolution": 60})
    assert r.status_code == 400
    assert "streams" in r.json()["errors"]["request"][0]
    r = await vigil.client.get("/v1/measurements/lim", params={"start_time": T0, "resolution": 60,
                                                               "tags[host]": ["x", "y"]})
    assert r.status_code == 400
    assert "points" in r.json()["errors"]["request"][0]
    r = await vigil.client.get("/v1/measurements/lim", params={"start_time": T0, "resolution": 60,
                                                               "tags[host]": "x"})
    assert r.status_code == 200


async def test_rollup_tiers_serve_coarse_resolutions(start_vigil: StartVigil) -> None:
    # The raw points are taken away beneath the server, so the recent points it holds in memory are off.
    vigil = await start_vigil(recent_samples_rows=0)
    await vigil.post_measurements({"tags": {"h": "x"}, "measurements": [
        {"name": "roll", "value": v, "time": T0 + 600 * i} for i, v in enumerate([1, 2, 3, 4, 5, 6])]})
    await vigil.services.rollups.run_once()
    db = vigil.services.telemetry.database
    # Take the raw points away: what the coarse query returns now can only come from the tiers.
    await vigil.services.telemetry.execute(f"DELETE FROM {db}.samples WHERE metric = 'roll'")
    for resolution, expected in ((3600, [3.5]), (60, [1, 2, 3, 4, 5, 6]), (1800, [2, 5])):
        body = await query(vigil, "roll", end_time=T0 + 3599, resolution=resolution)
        assert [m["value"] for m in body["series"][0]["measurements"]] == expected, resolution
    assert (await query(vigil, "roll", end_time=T0 + 3599, resolution=30))["series"] == []


async def test_rollups_follow_last_write_wins(vigil: Vigil) -> None:
    for value in (100, 1):
        await vigil.post_measurements({"tags": {"h": "x"}, "measurements": [{"name": "rw", "value": value,
                                                                             "time": T0}]})
        await vigil.services.rollups.run_once()
    body = await query(vigil, "rw", end_time=T0 + 3599, resolution=3600, summary_function="sum")
    assert body["series"][0]["measurements"] == [{"time": T0, "value": 1.0}]


async def test_resolution_unavailable_beyond_raw_retention(start_vigil) -> None:
    vigil = await start_vigil(raw_retention=3600)
    r = await vigil.client.get("/v1/measurements/disk", params={"start_time": NOW - 7200, "resolution": 1})
    assert r.status_code in (400, 404)
    await vigil.post_measurements({"tags": {"h": "x"}, "measurements": [{"name": "disk", "value": 1}]})
    r = await vigil.client.get("/v1/measurements/disk", params={"start_time": NOW - 7200, "resolution": 1})
    assert r.status_code == 400
    assert "resolution is unavailable" in r.json()["errors"]["request"][0]
    r = await vigil.client.get("/v1/measurements/disk", params={"start_time": NOW - 7200, "resolution": 60})
    assert r.status_code == 200


async def pages(vigil: Vigil, metric: str, **params: object) -> list[list[str]]:
    """The hosts of each page, following next links."""
    body = await query(vigil, metric, **params)
    out = [hosts(body)]
    while links := [link["href"] for link in body["links"] if link["rel"] == "next"]:
        r = await vigil.client.get(links[0])
        assert r.status_code == 200, r.text
        body = r.json()
        out.append(hosts(body))
    return out


async def test_pages_hold_only_streams_with_points_in_the_window(vigil: Vigil) -> None:
    # 150 hosts report in the window; 60 more (interleaved in tag order, and the last 10) only before it.
    await vigil.post_measurements({"measurements": [
        {"name": "gaps", "value": i, "time": T0 if i % 4 and i < 200 else T0 - 600, "tags": {"host": f"h{i:03d}"}}
        for i in range(210)]})
    active = [f"h{i:03d}" for i in range(200) if i % 4]
    assert await pages(vigil, "gaps") == [active[:100], active[100:]]
    # Fewer candidates than a page: the streams without points are simply absent.
    assert await pages(vigil, "gaps", **{"tags[host]": "h00*"}) == [["h001", "h002", "h003", "h005", "h006",
                                                                     "h007", "h009"]]


async def test_series_too_many_for_the_index_are_filtered_by_the_engine(start_vigil) -> None:
    # The limit is reached: the metric is not held in memory, and the answers are the same.
    small = await start_vigil(series_index_limit=3)
    await small.post_measurements({"measurements": [
        {"name": "big", "value": i, "time": T0, "tags": {"host": f"h{i}", "odd": str(i % 2)}} for i in range(8)]})
    body = await query(small, "big", **{"tags[odd]": "1"})
    assert hosts(body) == ["h1", "h3", "h5", "h7"]
    assert await small.services.series_index.select("big", And(())) is None
    assert small.services.series_index.held == 0
    grouped = await query(small, "big", group_by="odd", group_by_function="sum")
    assert values(grouped) == {"odd=0": [12.0], "odd=1": [16.0]}


async def test_series_index_evicts_least_recently_used_metrics(start_vigil) -> None:
    vigil = await start_vigil(series_index_limit=5)
    for metric in ("first", "second"):
        await vigil.post_measurements({"measurements": [
            {"name": metric, "value": i, "time": T0, "tags": {"host": f"h{i}"}} for i in range(3)]})
        assert hosts(await query(vigil, metric)) == ["h0", "h1", "h2"]
    index = vigil.services.series_index
    assert index.held == 3 and list(index._metrics) == ["second"]
    # New series of a held metric are announced by the ingest path before its 202.
    await vigil.post_measurements({"measurements": [{"name": "second", "value": 9, "time": T0,
                                                     "tags": {"host": "h9"}}]})
    assert index.held == 4
    assert hosts(await query(vigil, "second")) == ["h0", "h1", "h2", "h9"]
    assert hosts(await query(vigil, "first")) == ["h0", "h1", "h2"]
    assert index.held == 3 and list(index._metrics) == ["first"]
