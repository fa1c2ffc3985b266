"""Spaces: create (JSON and form), unique names, list with search and pages, get, rename, delete."""

from __future__ import annotations

from tests.conftest import Vigil


async def create(vigil: Vigil, name: str) -> dict:
    r = await vigil.client.post("/v1/spaces", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_with_form_body_as_the_seed(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/spaces", content=b"name=CPUs",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201
    body = r.json()
    assert body == {"id": body["id"], "name": "CPUs"}
    assert r.headers["location"] == f"/v1/spaces/{body['id']}"
    r = await vigil.client.get(f"/v1/spaces/{body['id']}")
    assert r.json() == {"name": "CPUs", "id": body["id"], "charts": []}


async def test_duplicate_names_are_422_regardless_of_case(vigil: Vigil) -> None:
    await create(vigil, "CPUs")
    r = await vigil.client.post("/v1/spaces", json={"name": "cpus"})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"name": ["has already been taken"]}}}
    other = await create(vigil, "Memory")
    r = await vigil.client.put(f"/v1/spaces/{other['id']}", json={"name": "CPUS"})
    assert r.status_code == 422
    assert (await vigil.client.get(f"/v1/spaces/{other['id']}")).json()["name"] == "Memory"


async def test_bad_bodies_are_400_and_create_nothing(vigil: Vigil) -> None:
    for kwargs in ({"json": {}}, {"json": {"name": ""}}, {"json": {"name": ["a"]}}, {"json": {"name": "x" * 256}},
                   {"content": b"[1]", "headers": {"Content-Type": "application/json"}},
                   {"content": b"{bad", "headers": {"Content-Type": "application/json"}}):
        r = await vigil.client.post("/v1/spaces", **kwargs)
        assert r.status_code == 400, kwargs
        assert r.json()["errors"]
    r = await vigil.client.post("/v1/spaces", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert (await vigil.client.get("/v1/spaces")).json()["query"]["total"] == 0


async def test_list_search_and_pages(vigil: Vigil) -> None:
    for name in ("staging_ops", "prod_ops", "web", "Ops Review"):
        await create(vigil, name)
    body = (await vigil.client.get("/v1/spaces", params={"name": "ops"})).json()
    assert body["query"] == {"found": 3, "length": 3, "offset": 0, "total": 4}
    assert [s["name"] for s in body["spaces"]] == ["Ops Review", "prod_ops", "staging_ops"]
    assert set(body["spaces"][0]) == {"id", "name"}
    body = (await vigil.client.get("/v1/spaces", params={"offset": 1, "length": 2, "sort": "desc"})).json()
    assert [s["name"] for s in body["spaces"]] == ["staging_ops", "prod_ops"]
    assert body["query"] == {"found": 4, "length": 2, "offset": 1, "total": 4}
    r = await vigil.client.get("/v1/spaces", params={"orderby": "id"})
    assert r.status_code == 400 and "orderby" in r.json()["errors"]["params"]


async def test_rename_and_delete(vigil: Vigil) -> None:
    space = await create(vigil, "CPUs")
    r = await vigil.client.put(f"/v1/spaces/{space['id']}", content=b"name=MEMORY",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 204 and r.content == b""
    assert (await vigil.client.get(f"/v1/spaces/{space['id']}")).json()["name"] == "MEMORY"
    r = await vigil.client.put(f"/v1/spaces/{space['id']}", json={"name": ""})
    assert r.status_code == 400
    chart = await vigil.client.post(f"/v1/spaces/{space['id']}/charts",
                                    json={"name": "c", "streams": [{"metric": "cpu"}]})
    assert chart.status_code == 201
    assert (await vigil.client.delete(f"/v1/spaces/{space['id']}")).status_code == 204
    assert (await vigil.client.get(f"/v1/spaces/{space['id']}")).status_code == 404
    assert (await vigil.client.get(f"/v1/spaces/{space['id']}/charts")).status_code == 404
    assert (await vigil.client.delete(f"/v1/spaces/{space['id']}")).status_code == 404
    for path in ("/v1/spaces/abc", "/v1/spaces/99999999999999999999"):
        r = await vigil.client.get(path)
        assert r.status_code == 404 and r.json()["errors"]["request"]
    assert (await vigil.client.put("/v1/spaces/424242", json={"name": "x"})).status_code == 404
