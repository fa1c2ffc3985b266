"""Environments: create, list, look up by name, rename, delete; tokens' measurements get the tag."""

from __future__ import annotations

import time

from tests.conftest import Vigil


async def test_create_as_the_seed_shows(vigil: Vigil) -> None:
    # The seed's curl sends the JSON with curl's default form content type.
    r = await vigil.client.post("/v1/environments", content=b'{"name":"Production"}',
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "name", "created_at", "updated_at"}
    assert body["name"] == "Production"
    assert abs(body["created_at"] - time.time()) < 60 and body["created_at"] == body["updated_at"]
    assert r.headers["location"] == f"/v1/environments/{body['id']}"
    r = await vigil.client.post("/v1/environments?name=Staging")
    assert r.status_code == 201 and r.json()["name"] == "Staging"


async def test_bad_and_duplicate_names(vigil: Vigil) -> None:
    await vigil.client.post("/v1/environments", json={"name": "prod"})
    r = await vigil.client.post("/v1/environments", json={"name": "PROD"})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"name": ["has already been taken"]}}}
    for bad in ({}, {"name": ""}, {"name": "a{b}"}, {"name": 5.5}, {"name": "x" * 256}):
        r = await vigil.client.post("/v1/environments", json=bad)
        assert r.status_code == 400, bad
        assert "name" in r.json()["errors"]["params"]
    assert (await vigil.client.get("/v1/environments")).json()["query"]["total"] == 1


async def test_list_and_lookup_by_name(vigil: Vigil) -> None:
    for name in ("b-env", "a-env", "c-env"):
        await vigil.client.post("/v1/environments", json={"name": name})
    body = (await vigil.client.get("/v1/environments")).json()
    assert body["query"] == {"found": 3, "length": 3, "offset": 0, "total": 3}
    assert [e["name"] for e in body["environments"]] == ["a-env", "b-env", "c-env"]
    body = (await vigil.client.get("/v1/environments", params={"length": 1, "offset": 1, "sort": "desc"})).json()
    assert [e["name"] for e in body["environments"]] == ["b-env"]
    r = await vigil.client.get("/v1/environments", params={"name": "c-env"})
    assert r.status_code == 200 and r.json()["name"] == "c-env" and set(r.json()) == {
        "id", "name", "created_at", "updated_at"}
    assert (await vigil.client.get("/v1/environments/?a-env")).json()["name"] == "a-env"
    r = await vigil.client.request("GET", "/v1/environments", content=b'{"name":"b-env"}')
    assert r.json()["name"] == "b-env"
    r = await vigil.client.get("/v1/environments", params={"name": "missing"})
    assert r.status_code == 404 and r.json()["errors"]["request"]


async def test_rename_moves_tokens_and_delete_refuses_while_used(vigil: Vigil) -> None:
    env = (await vigil.client.post("/v1/environments", json={"name": "ProductionOld"})).json()
    token = (await vigil.client.post("/v1/api_tokens", json={"name": "t", "role": "recorder",
                                                             "environment": "ProductionOld"})).json()
    r = await vigil.client.put(f"/v1/environments/{env['id']}/", json={"name": "ProductionNew"})
    assert r.status_code == 204 and r.content == b""
    assert (await vigil.client.get("/v1/api_tokens/t")).json()["api_tokens"][0]["environment"] == "ProductionNew"
    async with vigil.as_token(token["token"]) as recorder:
        r = await recorder.post("/v1/measurements", json={"tags": {"host": "a"},
                                                          "measurements": [{"name": "env.m", "value": 1}]})
        assert r.status_code == 202
    r = await vigil.client.get("/v1/measurements/env.m", params={"duration": 600, "resolution": 60})
    assert [s["tags"] for s in r.json()["series"]] == [{"environment": "productionnew", "host": "a"}]
    r = await vigil.client.delete(f"/v1/environments/{env['id']}")
    assert r.status_code == 409 and "used by 1 API token" in r.json()["errors"]["request"][0]
    await vigil.client.put(f"/v1/api_tokens/{token['href'].rsplit('/', 1)[1]}", json={"environment": None})
    assert (await vigil.client.delete("/v1/environments/ProductionNew")).status_code == 204
    assert (await vigil.client.delete(f"/v1/environments/{env['id']}")).status_code == 404


async def test_rename_to_a_taken_name_is_422(vigil: Vigil) -> None:
    a = (await vigil.client.post("/v1/environments", json={"name": "a"})).json()
    await vigil.client.post("/v1/environments", json={"name": "b"})
    r = await vigil.client.put(f"/v1/environments/{a['id']}", json={"name": "B"})
    assert r.status_code == 422
    assert (await vigil.client.put("/v1/environments/999", json={"name": "c"})).status_code == 404
    assert (await vigil.client.get("/v1/environments", params={"name": "a"})).status_code == 200


async def test_a_measurement_keeps_its_own_environment_tag(vigil: Vigil) -> None:
    await vigil.client.post("/v1/environments", json={"name": "staging"})
    token = (await vigil.client.post("/v1/api_tokens", json={"name": "t", "role": "recorder",
                                                             "environment": "staging"})).json()["token"]
    async with vigil.as_token(token) as recorder:
        r = await recorder.post("/v1/measurements", json={"measurements": [
            {"name": "own.env", "value": 1, "tags": {"host": "a", "environment": "custom"}},
            {"name": "own.env", "value": 2, "tags": {"host": "b"}}]})
        assert r.status_code == 202
    r = await vigil.client.get("/v1/measurements/own.env", params={"duration": 600, "resolution": 60})
    assert sorted(tuple(sorted(s["tags"].items())) for s in r.json()["series"]) == [
        (("environment", "custom"), ("host", "a")), (("environment", "staging"), ("host", "b"))]
