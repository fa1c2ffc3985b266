"""POST /v1/measurements: every rule of the seed, and nothing stored from a rejected measurement."""

from __future__ import annotations

import gzip
import time

import orjson
import pytest

from tests.conftest import Vigil

NOW = int(time.time())


async def read_series(vigil: Vigil, name: str, **params: object) -> list[dict]:
    query = {"start_time": NOW - 3600, "end_time": NOW + 600, "resolution": 1, **params}
    r = await vigil.client.get(f"/v1/measurements/{name}", params=query)
    assert r.status_code == 200, r.text
    return r.json()["series"]


async def test_seed_quick_start_payload_is_accepted_and_readable(vigil: Vigil) -> None:
    r = await vigil.post_measurements({"tags": {"region": "us-east-1", "az": "a"},
                                       "measurements": [{"name": "my.custom.metric", "value": 65}]})
    assert r.status_code == 202
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"measurements": {"summary": {"total": 1, "accepted": 1, "failed": 0, "filtered": 0}},
                        "errors": []}
    assert "x-partial-failure" not in r.headers
    series = await read_series(vigil, "my.custom.metric", duration=300, resolution=60, start_time=None,
                               end_time=None)
    assert len(series) == 1
    assert series[0]["tags"] == {"az": "a", "region": "us-east-1"}
    assert [m["value"] for m in series[0]["measurements"]] == [65.0]


async def test_per_measurement_tags_replace_top_level_tags(vigil: Vigil) -> None:
    r = await vigil.post_measurements({
        "tags": {"region": "us-west", "name": "web-prod-3"}, "time": NOW,
        "measurements": [{"name": "cpu", "value": 4.5, "tags": {"name": "web-prod-1"}},
                         {"name": "memory", "value": 34.5, "tags": {"az": "e", "db": "db-prod-1"}},
                         {"name": "memory", "value": 10.5}]})
    assert r.status_code == 202
    assert [s["tags"] for s in await read_series(vigil, "cpu")] == [{"name": "web-prod-1"}]
    assert [s["tags"] for s in await read_series(vigil, "memory")] == [
        {"az": "e", "db": "db-prod-1"}, {"name": "web-prod-3", "region": "us-west"}]


async def test_tag_names_and_values_are_lower_cased(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [{"name": "m", "value": 1, "tags": {"Region": "US-East"}}]})
    assert [s["tags"] for s in await read_series(vigil, "m")] == [{"region": "us-east"}]


async def test_metric_names_are_case_insensitive(vigil: Vigil) -> None:
    await vigil.post_measurements({"tags": {"h": "a"}, "time": NOW, "measurements": [{"name": "CPU.Load", "value": 1}]})
    await vigil.post_measurements({"tags": {"h": "a"}, "time": NOW + 1, "measurements": [
        {"name": "cpu.load", "value": 2}]})
    r = await vigil.client.get("/v1/metrics")
    assert [m["name"] for m in r.json()["metrics"]] == ["CPU.Load"]
    series = await read_series(vigil, "CPU.LOAD")
    assert [m["value"] for m in series[0]["measurements"]] == [1.0, 2.0]


async def test_top_level_time_and_per_measurement_time(vigil: Vigil) -> None:
    await vigil.post_measurements({"tags": {"h": "a"}, "time": NOW - 120, "measurements": [
        {"name": "t", "value": 1}, {"name": "t", "value": 2, "time": NOW - 60}]})
    series = await read_series(vigil, "t")
    assert [m["time"] for m in series[0]["measurements"]] == [NOW - 120, NOW - 60]


async def test_summary_fields_are_stored(vigil: Vigil) -> None:
    r = await vigil.post_measurements({"measurements": [{
        "name": "cpu", "time": NOW, "period": 60, "attributes": {"aggregate": False},
        "sum": 35.0, "count": 3, "min": 4.5, "max": 6.7, "last": 2.5, "stddev": 1.34,
        "tags": {"region": "us-east-1", "az": "b", "role": "kafka", "environment": "prod", "instance": "3"}}]})
    assert r.status_code == 202
    for function, expected in (("sum", 35.0), ("count", 3.0), ("min", 4.5), ("max", 6.7), ("mean", 35.0 / 3)):
        series = await read_series(vigil, "cpu", summary_function=function)
        assert series[0]["measurements"][0]["value"] == pytest.approx(expected), function
    metric = (await vigil.client.get("/v1/metrics/cpu")).json()
    assert metric["period"] == 60
    assert metric["attributes"]["aggregate"] is False


async def test_client_queue_form_sum_and_count_one(vigil: Vigil) -> None:
    r = await vigil.post_measurements({"measurements": [{"name": "q", "sum": 7, "count": 1, "tags": {"a": "b"}}]})
    assert r.status_code == 202
    assert (await read_series(vigil, "q"))[0]["measurements"][0]["value"] == 7.0


@pytest.mark.parametrize(("measurement", "param", "reason_part"), [
    ({"name": "ok", "value": 1}, "tags", "at least one tag"),
    ({"name": "ok", "value": 1, "tags": {}}, "tags", "at least one tag"),
    ({"name": "bad name!", "value": 1, "tags": {"a": "b"}}, "name", "A-Za-z0-9"),
    ({"name": "x" * 256, "value": 1, "tags": {"a": "b"}}, "name", "255"),
    ({"name": "ok", "tags": {"a": "b"}}, "value", "required"),
    ({"name": "ok", "value": "12", "tags": {"a": "b"}}, "value", "Expected"),
    ({"name": "ok", "value": 1, "count": 1, "sum": 1, "tags": {"a": "b"}}, "value", "count"),
    ({"name": "ok", "count": 2, "tags": {"a": "b"}}, "sum", "required"),
    ({"name": "ok", "sum": 2, "tags": {"a": "b"}}, "sum", "count"),
    ({"name": "ok", "count": 0, "sum": 2, "tags": {"a": "b"}}, "count", "at least 1"),
    ({"name": "ok", "value": 1, "tags": {"bad tag!": "b"}}, "tags", "tag name"),
    ({"name": "ok", "value": 1, "tags": {"a": "b" * 256}}, "tags", "tag value"),
    ({"name": "ok", "value": 1, "tags": {"a": "semi;colon"}}, "tags", "tag value"),
    ({"name": "ok", "value": 1, "tags": {f"t{i}": "v" for i in range(51)}}, "tags", "50"),
    ({"name": "ok", "value": 1, "tags": ["a"]}, "tags", "object"),
    ({"name": "ok", "value": 1, "time": NOW - 30 * 86400, "tags": {"a": "b"}}, "time", "within"),
    ({"name": "ok", "value": 1, "time": NOW + 3600, "tags": {"a": "b"}}, "time", "future"),
    ({"name": "ok", "value": 1, "attributes": {"color": "red"}, "tags": {"a": "b"}}, "attributes", "color"),
])
async def test_each_invalid_measurement_fails_alone(vigil: Vigil, measurement: dict, param: str,
                                                   reason_part: str) -> None:
    good = {"name": "good.metric", "value": 1, "tags": {"host": "a"}, "time": NOW}
    r = await vigil.post_measurements({"measurements": [good, measurement]})
    assert r.status_code == 202, r.text
    assert r.headers["x-partial-failure"] == "true"
    body = r.json()
    assert body["measurements"]["summary"] == {"total": 2, "accepted": 1, "failed": 1, "filtered": 0}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["param"] == param
    assert reason_part.lower() in body["errors"][0]["reason"].lower()
    # All failed: 400 with the same body shape, and nothing stored.
    r = await vigil.post_measurements({"measurements": [measurement]})
    assert r.status_code == 400
    assert r.json()["measurements"]["summary"]["accepted"] == 0
    assert r.json()["errors"][0]["param"] == param
    names = [m["name"] for m in (await vigil.client.get("/v1/metrics")).json()["metrics"]]
    assert names == ["good.metric"]


async def test_huge_exponent_aborts_the_whole_request(vigil: Vigil) -> None:
    r = await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [
        {"name": "fine", "value": 1}, {"name": "big", "value": 1e127}]})
    assert r.status_code == 400
    assert "value" in r.json()["errors"]["params"]
    assert (await vigil.client.get("/v1/metrics/fine")).status_code == 404  # nothing of the request is stored


async def test_tiny_exponent_becomes_zero(vigil: Vigil) -> None:
    await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "tiny", "value": 1e-131}]})
    assert (await read_series(vigil, "tiny"))[0]["measurements"][0]["value"] == 0.0


async def test_reserved_namespace_is_filtered(vigil: Vigil) -> None:
    r = await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [
        {"name": "vigil.internal", "value": 1}, {"name": "user.metric", "value": 1}]})
    assert r.status_code == 202
    assert r.json()["measurements"]["summary"] == {"total": 2, "accepted": 1, "failed": 0, "filtered": 1}
    assert (await vigil.client.get("/v1/metrics/vigil.internal")).status_code == 404


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"measurements": 5}', b'{"tags": {}}', b"null"])
async def test_malformed_body_is_a_request_error(vigil: Vigil, body: bytes) -> None:
    r = await vigil.client.post("/v1/measurements", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "request" in r.json()["errors"]


async def test_empty_measurements_list(vigil: Vigil) -> None:
    r = await vigil.post_measurements({"measurements": []})
    assert r.status_code == 400
    assert "measurements" in r.json()["errors"]["params"]


async def test_non_json_content_type_is_415(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/measurements", content=b"name=x&value=1",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert r.json()["errors"]["request"]


async def test_gzip_body(vigil: Vigil) -> None:
    body = gzip.compress(orjson.dumps({"tags": {"a": "b"}, "measurements": [{"name": "gz", "value": 3}]}))
    r = await vigil.client.post("/v1/measurements", content=body,
                                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 202
    assert (await read_series(vigil, "gz"))[0]["measurements"][0]["value"] == 3.0


async def test_body_limit_is_413_also_after_decompression(start_vigil) -> None:
    vigil = await start_vigil(max_body_bytes=2000)
    big = orjson.dumps({"tags": {"a": "b"}, "measurements": [{"name": "m", "value": i} for i in range(200)]})
    r = await vigil.client.post("/v1/measurements", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["errors"]["request"]
    r = await vigil.client.post("/v1/measurements", content=gzip.compress(big),
                                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert (await vigil.client.get("/v1/metrics")).json()["metrics"] == []


async def test_measurement_count_limit(start_vigil) -> None:
    vigil = await start_vigil(max_measurements_per_request=3)
    r = await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "m", "value": 1}] * 4})
    assert r.status_code == 400
    assert "measurements" in r.json()["errors"]["params"]


async def test_unknown_metric_is_created_with_attributes_and_period_but_not_updated_later(vigil: Vigil) -> None:
    await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [
        {"name": "new.one", "value": 1, "period": 30, "attributes": {"display_units_short": "ms"}}]})
    await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [
        {"name": "new.one", "value": 1, "period": 90, "attributes": {"display_units_short": "s"}}]})
    metric = (await vigil.client.get("/v1/metrics/new.one")).json()
    assert metric["type"] == "gauge"
    assert metric["period"] == 30
    assert metric["attributes"]["display_units_short"] == "ms"
    assert metric["attributes"]["created_by_ua"].startswith("python-httpx")


async def test_duplicate_point_last_write_wins(vigil: Vigil) -> None:
    for value in (1, 2, 3):
        await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "dup", "value": value,
                                                                             "time": NOW}]})
    series = await read_series(vigil, "dup")
    assert series[0]["measurements"] == [{"time": NOW, "value": 3.0}]


async def test_service_side_aggregation_combines_a_period(vigil: Vigil) -> None:
    r = await vigil.client.put("/v1/metrics/ssa", json={"type": "gauge", "period": 60,
                                                        "attributes": {"aggregate": True}})
    assert r.status_code == 201
    base = NOW - NOW % 60
    await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [
        {"name": "ssa", "value": v, "time": base + s} for v, s in ((1, 1), (5, 20), (3, 59), (10, 61))]})
    by_function = {}
    for function in ("sum", "count", "min", "max", "mean"):
        series = await read_series(vigil, "ssa", summary_function=function, start_time=base, end_time=base + 120)
        by_function[function] = [(m["time"], m["value"]) for m in series[0]["measurements"]]
    assert by_function["sum"] == [(base, 9.0), (base + 60, 10.0)]
    assert by_function["count"] == [(base, 3.0), (base + 60, 1.0)]
    assert by_function["min"] == [(base, 1.0), (base + 60, 10.0)]
    assert by_function["max"] == [(base, 5.0), (base + 60, 10.0)]
    assert by_function["mean"] == [(base, 3.0), (base + 60, 10.0)]


async def test_numbers_as_tag_values_become_text(vigil: Vigil) -> None:
    await vigil.post_measurements({"measurements": [{"name": "n", "value": 1, "tags": {"instance": 3}}]})
    assert (await read_series(vigil, "n"))[0]["tags"] == {"instance": "3"}


async def test_composite_metric_takes_no_measurements(vigil: Vigil) -> None:
    await vigil.client.put("/v1/metrics/comp", json={"type": "composite", "composite": 's("x", "*")'})
    r = await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "comp", "value": 1}]})
    assert r.status_code == 400
    assert "composite" in r.json()["errors"][0]["reason"]


async def test_backfill_within_raw_retention_is_accepted(vigil: Vigil) -> None:
    old = NOW - 3 * 86400
    r = await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "old", "value": 1, "time": old}]})
    assert r.status_code == 202
    series = await read_series(vigil, "old", start_time=old - 60, end_time=old + 60)
    assert series[0]["measurements"] == [{"time": old, "value": 1.0}]
