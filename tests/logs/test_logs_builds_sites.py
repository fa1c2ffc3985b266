"""Akkeris build logs and sites, with their bad inputs and bounds."""

from __future__ import annotations

import pytest

from tests.conftest import StartVigil, Vigil
from vigil.auth.roles import Role


async def test_a_build_from_creation_to_result(vigil: Vigil) -> None:
    c = vigil.client
    r = await c.post("/apps/app-space/builds", json={"status": "pending"})
    assert r.status_code == 201
    build = r.json()
    assert build["status"] == "pending" and build["app"] == {"name": "app-space"} and len(build["id"]) == 36
    bid = build["id"]
    assert (await c.post(f"/apps/app-space/builds/{bid}/lines",
                         json={"lines": ["Getting source code... done", "Deploying ... done\n"]})).status_code == 204
    r = await c.post(f"/apps/app-space/builds/{bid}/lines", json={"lines": ["Finshed: SUCCESS"]})
    assert r.status_code == 204
    r = await c.patch(f"/apps/app-space/builds/{bid}", json={"status": "succeeded"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    expected = {"build": {"id": bid, "status": "succeeded"},
                "lines": ["Getting source code... done", "Deploying ... done", "Finshed: SUCCESS"]}
    for method in ("GET", "POST"):  # the Akkeris docs' curl POSTs
        r = await c.request(method, f"/apps/app-space/builds/{bid}/result")
        assert r.status_code == 200 and r.json() == expected
    assert (await c.get(f"/apps/app-space/builds/{bid}")).json()["status"] == "succeeded"
    # The lines are also the app's log lines, as Akkeris shows builds in log sessions.
    logged = vigil.services.logs.ring.last("app-space", 10)
    assert [(x.source, x.message) for x in logged] == [("akkeris/build", line) for line in expected["lines"]]
    assert await vigil.services.logs.apps.exists("app-space")


async def test_a_build_may_bring_its_own_id_once(vigil: Vigil) -> None:
    r = await vigil.client.post("/apps/shop/builds", json={"id": "999b5ce9-b60c-42c4-bca5-e442cd86df78"})
    assert r.status_code == 201 and r.json()["id"] == "999b5ce9-b60c-42c4-bca5-e442cd86df78"
    r = await vigil.client.post("/apps/shop/builds", json={"id": "999b5ce9-b60c-42c4-bca5-e442cd86df78"})
    assert r.status_code == 409
    # The same id in another app is another build.
    assert (await vigil.client.post("/apps/other/builds", json={"id": "999b5ce9-b60c-42c4-bca5-e442cd86df78"})
            ).status_code == 201


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/apps/shop/builds", {"status": "done"}, "status"),
    ("/apps/shop/builds", {"id": "has space"}, "id"),
    ("/apps/shop/builds", {"id": 7}, "id"),
    ("/apps/Not_An_App/builds", {}, "app"),
])
async def test_bad_builds_are_422(vigil: Vigil, path: str, body: dict, param: str) -> None:
    r = await vigil.client.post(path, json=body)
    assert r.status_code == 422 and param in r.json()["errors"]["params"]


async def test_bad_lines_status_and_unknown_builds(vigil: Vigil) -> None:
    c = vigil.client
    bid = (await c.post("/apps/shop/builds", json={})).json()["id"]
    for body in ({"lines": "one line"}, {"lines": [1, 2]}, {}):
        r = await c.post(f"/apps/shop/builds/{bid}/lines", json=body)
        assert r.status_code == 422 and "lines" in r.json()["errors"]["params"]
    r = await c.patch(f"/apps/shop/builds/{bid}", json={"status": "maybe"})
    assert r.status_code == 422
    assert (await c.patch(f"/apps/shop/builds/{bid}", json={})).status_code == 422
    assert (await c.get(f"/apps/shop/builds/{bid}/result")).json()["lines"] == []
    for method, path, body in (("POST", "/apps/shop/builds/nope/lines", {"lines": ["x"]}),
                               ("PATCH", "/apps/shop/builds/nope", {"status": "failed"}),
                               ("GET", "/apps/shop/builds/nope/result", None),
                               ("GET", f"/apps/other/builds/{bid}/result", None)):
        r = await c.request(method, path, json=body)
        assert r.status_code == 404, (method, path)
        assert r.json()["errors"]["request"]


async def test_builders_record_and_viewers_read(vigil: Vigil) -> None:
    recorder = vigil.as_token(await vigil.token(Role.RECORDER))
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    bid = (await recorder.post("/apps/ci/builds", json={})).json()["id"]
    assert (await recorder.post(f"/apps/ci/builds/{bid}/lines", json={"lines": ["x"]})).status_code == 204
    assert (await recorder.get(f"/apps/ci/builds/{bid}/result")).status_code == 403
    assert (await viewer.get(f"/apps/ci/builds/{bid}/result")).status_code == 200
    assert (await viewer.post("/apps/ci/builds", json={})).status_code == 403
    assert (await viewer.patch(f"/apps/ci/builds/{bid}", json={"status": "failed"})).status_code == 403


async def test_a_build_keeps_its_newest_lines(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(build_max_lines=3)
    c = vigil.client
    bid = (await c.post("/apps/big/builds", json={})).json()["id"]
    await c.post(f"/apps/big/builds/{bid}/lines", json={"lines": ["1", "2"]})
    await c.post(f"/apps/big/builds/{bid}/lines", json={"lines": ["3", "4"]})
    assert (await c.get(f"/apps/big/builds/{bid}/result")).json()["lines"] == ["2", "3", "4"]
    await c.post(f"/apps/big/builds/{bid}/lines", json={"lines": ["5", "6", "7", "8", "9"]})  # more than fit at once
    assert (await c.get(f"/apps/big/builds/{bid}/result")).json()["lines"] == ["7", "8", "9"]


async def test_an_app_keeps_its_newest_builds(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(builds_per_app=2)
    c = vigil.client
    ids = [(await c.post("/apps/busy/builds", json={"id": f"b{i}"})).json()["id"] for i in range(3)]
    await c.post("/apps/busy/builds/b2/lines", json={"lines": ["x"]})
    assert (await c.get(f"/apps/busy/builds/{ids[0]}/result")).status_code == 404
    assert (await c.get(f"/apps/busy/builds/{ids[1]}/result")).status_code == 200
    assert (await c.get(f"/apps/busy/builds/{ids[2]}/result")).json()["lines"] == ["x"]


# -------------------------------------------------------------------------------------------- sites


async def test_put_and_get_a_site(vigil: Vigil) -> None:
    c = vigil.client
    r = await c.put("/sites/www.example.com", json={"apps": ["api", "ui", "api"]})
    assert r.status_code == 200
    site = r.json()
    assert site["name"] == "www.example.com" and site["apps"] == ["api", "ui"]
    r = await c.put("/sites/www.example.com", json={"apps": ["ui"]})
    assert r.json()["apps"] == ["ui"] and r.json()["created_at"] == site["created_at"]
    got = (await c.get("/sites/www.example.com")).json()
    assert got["apps"] == ["ui"]
    assert (await c.get("/sites/nowhere.example.com")).status_code == 404
    assert (await c.get("/sites/Not..A..Host")).status_code == 404


@pytest.mark.parametrize(("name", "body", "param"), [
    ("www.example.com", {"apps": "api"}, "apps"),
    ("www.example.com", {}, "apps"),
    ("www.example.com", {"apps": ["Bad_App"]}, "apps"),
    ("www.example.com", {"apps": [1]}, "apps"),
    ("-bad-.com", {"apps": []}, "site"),
    ("UPPER.com", {"apps": []}, "site"),
])
async def test_bad_sites_are_422(vigil: Vigil, name: str, body: dict, param: str) -> None:
    r = await vigil.client.put(f"/sites/{name}", json=body)
    assert r.status_code == 422 and param in r.json()["errors"]["params"]
    assert (await vigil.client.get(f"/sites/{name}")).status_code == 404


async def test_site_members_are_bounded_and_managed_by_admins(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(site_max_apps=2)
    r = await vigil.client.put("/sites/s.example.com", json={"apps": ["a", "b", "c"]})
    assert r.status_code == 422
    assert (await vigil.client.put("/sites/s.example.com", json={"apps": ["a", "b"]})).status_code == 200
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    assert (await viewer.get("/sites/s.example.com")).status_code == 200
    assert (await viewer.put("/sites/s.example.com", json={"apps": []})).status_code == 403
