"""API tokens: create, list, find by name pattern, update, delete; the last admin is protected."""

from __future__ import annotations

import re

from tests.conftest import Vigil
from vigil.auth.roles import Role

TIME = re.compile(r"\A\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\Z")


async def _environment(vigil: Vigil, name: str) -> None:
    assert (await vigil.client.post("/v1/environments", json={"name": name})).status_code == 201


async def test_create_with_form_body_as_the_seed(vigil: Vigil) -> None:
    await _environment(vigil, "my_environment")
    r = await vigil.client.post("/v1/api_tokens", content=b"name=My New Token&role=admin&active=true"
                                b"&environment=my_environment&token=chosen-by-me",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201, r.text
    body = r.json()
    token_id = int(body["href"].rsplit("/", 1)[1])
    assert r.headers["location"] == f"/v1/api_tokens/{token_id}"
    assert body["href"] == f"http://vigil.test/v1/api_tokens/{token_id}"
    assert set(body) == {"name", "token", "active", "role", "environment", "href", "created_at", "updated_at"}
    assert body["name"] == "My New Token" and body["role"] == "admin" and body["active"] is True
    assert body["environment"] == "my_environment"
    assert body["token"] != "chosen-by-me" and re.fullmatch(r"[0-9a-f]{64}", body["token"])
    assert TIME.match(body["created_at"]) and TIME.match(body["updated_at"])
    # The new secret works at once.
    async with vigil.as_token(body["token"]) as client:
        assert (await client.get("/v1/metrics")).status_code == 200


async def test_create_with_json_string_booleans(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/api_tokens", json={"name": "collectors", "role": "recorder", "active": "false"})
    assert r.status_code == 201
    assert r.json()["active"] is False and r.json()["environment"] is None
    async with vigil.as_token(r.json()["token"]) as client:
        assert (await client.post("/v1/measurements", json={"measurements": []})).status_code == 401


async def test_bad_input_is_400_and_creates_nothing(vigil: Vigil) -> None:
    before = (await vigil.client.get("/v1/api_tokens")).json()["query"]["total"]
    for body, field in (({"role": "admin"}, "name"), ({"name": "x"}, "role"), ({"name": "x", "role": "root"}, "role"),
                        ({"name": "x", "role": "viewer", "active": "maybe"}, "active"),
                        ({"name": "x", "role": "viewer", "environment": "nowhere"}, "environment"),
                        ({"name": "x" * 256, "role": "viewer"}, "name")):
        r = await vigil.client.post("/v1/api_tokens", json=body)
        assert r.status_code == 400, body
        assert field in r.json()["errors"]["params"], r.json()
    assert (await vigil.client.get("/v1/api_tokens")).json()["query"]["total"] == before


async def test_list_is_paginated_and_filters_by_name_pattern(vigil: Vigil) -> None:
    for name in ("Token for collectors", "Token that has been disabled", "ci"):
        assert (await vigil.client.post("/v1/api_tokens", json={"name": name, "role": "viewer"})).status_code == 201
    r = await vigil.client.get("/v1/api_tokens", params={"name": "token*"})
    body = r.json()
    assert [t["name"] for t in body["api_tokens"]] == ["Token for collectors", "Token that has been disabled"]
    assert body["query"] == {"found": 2, "length": 2, "offset": 0, "total": 4}  # + the admin token
    r = await vigil.client.get("/v1/api_tokens/CI")
    assert [t["name"] for t in r.json()["api_tokens"]] == ["ci"]
    r = await vigil.client.get("/v1/api_tokens/nothing*")
    assert r.status_code == 200 and r.json()["api_tokens"] == []
    r = await vigil.client.get("/v1/api_tokens", params={"offset": 1, "length": 2, "orderby": "name"})
    assert [t["name"] for t in r.json()["api_tokens"]] == ["ci", "Token for collectors"]
    assert r.json()["query"] == {"found": 4, "length": 2, "offset": 1, "total": 4}
    r = await vigil.client.get("/v1/api_tokens", params={"length": 101})
    assert r.status_code == 400 and "length" in r.json()["errors"]["params"]


async def test_update_and_deactivation_take_effect_at_once(vigil: Vigil) -> None:
    created = (await vigil.client.post("/v1/api_tokens", json={"name": "viewer", "role": "viewer"})).json()
    token_id = created["href"].rsplit("/", 1)[1]
    async with vigil.as_token(created["token"]) as client:
        assert (await client.get("/v1/metrics")).status_code == 200
        r = await vigil.client.put(f"/v1/api_tokens/{token_id}", data={"name": "New Token Name", "active": "false",
                                                                      "token": "ignored"})
        assert r.status_code == 200
        assert r.json()["name"] == "New Token Name" and r.json()["active"] is False
        assert r.json()["token"] == created["token"]
        assert (await client.get("/v1/metrics")).status_code == 401
        await vigil.client.put(f"/v1/api_tokens/{token_id}", json={"active": True, "role": "recorder"})
        assert (await client.get("/v1/metrics")).status_code == 403
        assert (await vigil.client.delete(f"/v1/api_tokens/{token_id}")).status_code == 204
        assert (await client.post("/v1/measurements", json={"measurements": []})).status_code == 401
    assert (await vigil.client.delete(f"/v1/api_tokens/{token_id}")).status_code == 404
    assert (await vigil.client.put("/v1/api_tokens/99999", json={"name": "x"})).status_code == 404
    assert (await vigil.client.put("/v1/api_tokens/abc", json={"name": "x"})).status_code == 404


async def test_update_with_bad_values_changes_nothing(vigil: Vigil) -> None:
    created = (await vigil.client.post("/v1/api_tokens", json={"name": "keep", "role": "viewer"})).json()
    token_id = created["href"].rsplit("/", 1)[1]
    r = await vigil.client.put(f"/v1/api_tokens/{token_id}", json={"name": "changed", "role": "owner"})
    assert r.status_code == 400 and "role" in r.json()["errors"]["params"]
    r = await vigil.client.get("/v1/api_tokens/keep")
    assert r.json()["api_tokens"][0]["role"] == "viewer"


async def test_last_active_admin_cannot_be_removed(vigil: Vigil) -> None:
    admins = (await vigil.client.get("/v1/api_tokens")).json()["api_tokens"]
    assert [t["role"] for t in admins] == ["admin"]
    admin_id = admins[0]["href"].rsplit("/", 1)[1]
    for method, kwargs in (("PUT", {"json": {"active": False}}), ("PUT", {"json": {"role": "viewer"}}),
                           ("DELETE", {})):
        r = await vigil.client.request(method, f"/v1/api_tokens/{admin_id}", **kwargs)
        assert r.status_code == 409, (method, kwargs)
        assert "last active admin token" in r.json()["errors"]["request"][0]
    assert (await vigil.client.get("/v1/metrics")).status_code == 200
    # With a second active admin, the first may go.
    second = await vigil.token(Role.ADMIN)
    assert (await vigil.client.put(f"/v1/api_tokens/{admin_id}", json={"active": False})).status_code == 200
    async with vigil.as_token(second) as client:
        assert (await client.get("/v1/api_tokens")).status_code == 200
        tokens = (await client.get("/v1/api_tokens")).json()["api_tokens"]
        second_id = next(t for t in tokens if t["active"] and t["role"] == "admin")["href"].rsplit("/", 1)[1]
        assert (await client.delete(f"/v1/api_tokens/{second_id}")).status_code == 409


async def test_viewer_cannot_see_secrets(vigil: Vigil) -> None:
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.get("/v1/api_tokens")).status_code == 403
        assert (await viewer.get("/v1/api_tokens/admin")).status_code == 403
