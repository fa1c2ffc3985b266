"""The metrics API: list, get, create/update, delete, batches and jobs."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import Vigil


async def put(vigil: Vigil, metric: str, **body: object):
    return await vigil.client.put(f"/v1/metrics/{metric}", json=body)


async def test_put_creates_then_updates(vigil: Vigil) -> None:
    r = await put(vigil, "cpu.percent.used", type="gauge", period=60,
                  attributes={"summarize_function": "sum", "color": "#FFFFFF"})
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/metrics/cpu.percent.used"
    body = r.json()
    assert body["name"] == "cpu.percent.used"
    assert body["period"] == 60
    assert body["type"] == "gauge"
    assert body["attributes"]["summarize_function"] == "sum"
    assert body["attributes"]["color"] == "#FFFFFF"
    assert set(body) >= {"name", "display_name", "description", "period", "type", "attributes", "source_lag"}
    r = await put(vigil, "cpu.percent.used", display_name="CPU", attributes={"display_min": 0})
    assert r.status_code == 204
    assert r.content == b""
    body = (await vigil.client.get("/v1/metrics/cpu.percent.used")).json()
    assert body["display_name"] == "CPU"
    assert body["attributes"] == {"summarize_function": "sum", "color": "#FFFFFF", "display_min": 0,
                                  "created_by_ua": body["attributes"]["created_by_ua"]}


async def test_put_with_form_body_and_bracket_attributes(vigil: Vigil) -> None:
    r = await vigil.client.put("/v1/metrics/queue_len",
                               content=b"type=gauge&description=Length of app queue&display_name=num. elements",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201
    assert r.json()["description"] == "Length of app queue"
    r = await vigil.client.put("/v1/metrics/queue_len", content=b"attributes%5Bdisplay_max%5D=150&period=15",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204
    body = (await vigil.client.get("/v1/metrics/queue_len")).json()
    assert body["attributes"]["display_max"] == 150
    assert body["period"] == 15


async def test_composite_metric_is_stored_with_its_definition(vigil: Vigil) -> None:
    definition = 's("cpu.percent.user", {"environment" : "prod", "service": "api"})'
    r = await put(vigil, "cpu.composite", type="composite", composite=definition, description="a test composite")
    assert r.status_code == 201
    assert r.json()["composite"] == definition
    listed = (await vigil.client.get("/v1/metrics")).json()["metrics"]
    assert listed[0]["type"] == "composite"
    assert listed[0]["composite"] == definition


@pytest.mark.parametrize(("body", "param"), [
    ({"type": "counter"}, "type"),
    ({"period": -5}, "period"),
    ({"period": "soon"}, "period"),
    ({"attributes": {"color": "#12345"}}, "attributes.color"),
    ({"attributes": {"summarize_function": "median"}}, "attributes.summarize_function"),
    ({"attributes": {"display_max": "lots"}}, "attributes.display_max"),
    ({"attributes": {"display_stacked": "maybe"}}, "attributes.display_stacked"),
    ({"attributes": "nope"}, "attributes"),
    ({"type": "composite"}, "composite"),
    ({"name": "other.name"}, "name"),
    ({"display_name": "x" * 300}, "display_name"),
])
async def test_invalid_properties_are_400_and_store_nothing(vigil: Vigil, body: dict, param: str) -> None:
    r = await put(vigil, "m", **body)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]["params"]
    assert (await vigil.client.get("/v1/metrics/m")).status_code == 404


async def test_invalid_metric_name_in_url(vigil: Vigil) -> None:
    r = await vigil.client.put("/v1/metrics/bad%20name", json={"type": "gauge"})
    assert r.status_code == 400
    assert "name" in r.json()["errors"]["params"]


async def test_type_cannot_change(vigil: Vigil) -> None:
    await put(vigil, "g", type="gauge")
    r = await put(vigil, "g", type="composite", composite='s("x","*")')
    assert r.status_code == 400
    assert "type" in r.json()["errors"]["params"]


async def test_get_unknown_metric_is_404(vigil: Vigil) -> None:
    r = await vigil.client.get("/v1/metrics/none")
    assert r.status_code == 404
    assert r.json()["errors"]["request"]


async def test_list_search_pagination_and_sort(vigil: Vigil) -> None:
    for name in ("app_requests", "cpu_temp", "b.request.count", "zeta"):
        await put(vigil, name)
    r = await vigil.client.get("/v1/metrics", params={"name": "request"})
    body = r.json()
    assert body["query"] == {"found": 2, "length": 2, "offset": 0, "total": 4}
    assert [m["name"] for m in body["metrics"]] == ["app_requests", "b.request.count"]
    r = await vigil.client.get("/v1/metrics", params={"offset": 1, "length": 2})
    assert r.json()["query"] == {"found": 4, "length": 2, "offset": 1, "total": 4}
    assert [m["name"] for m in r.json()["metrics"]] == ["b.request.count", "cpu_temp"]
    r = await vigil.client.get("/v1/metrics", params={"sort": "desc", "length": 1})
    assert [m["name"] for m in r.json()["metrics"]] == ["zeta"]
    r = await vigil.client.get("/v1/metrics", params={"name": "*.count"})
    assert [m["name"] for m in r.json()["metrics"]] == ["b.request.count"]


@pytest.mark.parametrize(("params", "param"), [({"length": 101}, "length"), ({"length": 0}, "length"),
                                               ({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
                                               ({"orderby": "color"}, "orderby"), ({"sort": "up"}, "sort")])
async def test_list_bad_paging_parameters(vigil: Vigil, params: dict, param: str) -> None:
    r = await vigil.client.get("/v1/metrics", params=params)
    assert r.status_code == 400
    assert param in r.json()["errors"]["params"]


async def test_delete_one_removes_measurements_and_reposting_recreates(vigil: Vigil) -> None:
    now = int(time.time())
    await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "gone", "value": 1, "time": now}]})
    assert (await vigil.client.delete("/v1/metrics/gone")).status_code == 204
    assert (await vigil.client.get("/v1/metrics/gone")).status_code == 404
    assert (await vigil.client.delete("/v1/metrics/gone")).status_code == 404
    await vigil.post_measurements({"tags": {"a": "b"}, "measurements": [{"name": "gone", "value": 2, "time": now}]})
    r = await vigil.client.get("/v1/measurements/gone", params={"start_time": now - 60, "resolution": 1})
    assert r.json()["series"][0]["measurements"] == [{"time": now, "value": 2.0}]


async def test_batch_update_by_list_and_by_pattern(vigil: Vigil) -> None:
    for name in ("cpu", "servers", "reqs", "a.time", "b.time"):
        await put(vigil, name)
    r = await vigil.client.put("/v1/metrics", content=b"names%5B%5D=cpu&names%5B%5D=servers&names%5B%5D=reqs"
                                                      b"&period=60&display_min=0",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204
    for name in ("cpu", "servers", "reqs"):
        body = (await vigil.client.get(f"/v1/metrics/{name}")).json()
        assert body["period"] == 60
        assert body["attributes"]["display_min"] == 0
    r = await vigil.client.put("/v1/metrics", content=b"names=*.time&display_units_short=ms",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204
    for name, expected in (("a.time", "ms"), ("b.time", "ms"), ("cpu", None)):
        body = (await vigil.client.get(f"/v1/metrics/{name}")).json()
        assert (body["attributes"] or {}).get("display_units_short") == expected


async def test_batch_update_validates_before_writing(vigil: Vigil) -> None:
    await put(vigil, "one")
    r = await vigil.client.put("/v1/metrics", json={"names": ["one"], "attributes": {"color": "blue"}})
    assert r.status_code == 400
    r = await vigil.client.put("/v1/metrics", json={"period": 60})
    assert r.status_code == 400
    assert "names" in r.json()["errors"]["params"]


async def test_batch_delete_by_list_json_body_and_pattern(vigil: Vigil) -> None:
    for name in ("cpu", "servers", "reqs", "cpu1.90", "cpu2.90", "keep"):
        await put(vigil, name)
    r = await vigil.client.request("DELETE", "/v1/metrics", json={"names": ["cpu", "servers"]})
    assert r.status_code == 204
    r = await vigil.client.request("DELETE", "/v1/metrics", content=b"names%5B%5D=reqs",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204
    r = await vigil.client.request("DELETE", "/v1/metrics", content=b"names=cpu*.90",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204
    names = [m["name"] for m in (await vigil.client.get("/v1/metrics")).json()["metrics"]]
    assert names == ["keep"]


async def wait_for_job(vigil: Vigil, location: str) -> dict:
    for _ in range(200):
        job = (await vigil.client.get(location)).json()
        if job["state"] in ("complete", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("job did not finish")


async def test_large_batches_run_as_jobs(start_vigil) -> None:
    vigil = await start_vigil(metrics_bulk_job_threshold=3)
    names = [f"bulk.{i}" for i in range(5)]
    for name in names:
        await put(vigil, name)
    r = await vigil.client.put("/v1/metrics", json={"names": names, "period": 30})
    assert r.status_code == 202
    assert r.headers["location"].startswith("/v1/jobs/")
    job = await wait_for_job(vigil, r.headers["location"])
    assert job == {"id": job["id"], "state": "complete", "progress": 100.0}
    assert (await vigil.client.get("/v1/metrics/bulk.4")).json()["period"] == 30
    r = await vigil.client.request("DELETE", "/v1/metrics", json={"names": ["bulk.*"][0]})
    assert r.status_code == 202
    job = await wait_for_job(vigil, r.headers["location"])
    assert job["state"] == "complete"
    assert (await vigil.client.get("/v1/metrics")).json()["metrics"] == []


async def test_unknown_job_is_404(vigil: Vigil) -> None:
    assert (await vigil.client.get("/v1/jobs/999")).status_code == 404
    assert (await vigil.client.get("/v1/jobs/abc")).status_code == 404
