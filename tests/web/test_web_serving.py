"""The UI's routes in-process: the shell and its files without a token, API paths untouched, and the
two API routes the UI adds (GET /v1/whoami, POST /v1/charts/preview) plus the space-level tag filter
of chart data."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import StartVigil, Vigil
from vigil.auth.roles import Role


async def test_shell_and_files_need_no_token_and_carry_a_strict_policy(vigil: Vigil) -> None:
    async with vigil.as_token(None) as anonymous:
        shell = await anonymous.get("/")
        assert shell.status_code == 200
        assert shell.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/ui/app/main.js">' in shell.text
        policy = shell.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert shell.headers["x-content-type-options"] == "nosniff"
        main = await anonymous.get("/ui/app/main.js")
        assert main.status_code == 200
        assert "javascript" in main.headers["content-type"]
        assert main.headers["cache-control"] == "no-cache" and main.headers["etag"]
        again = await anonymous.get("/ui/app/main.js", headers={"If-None-Match": main.headers["etag"]})
        assert again.status_code == 304
        vendor = await anonymous.get("/ui/vendor/uplot/uPlot.esm.js")
        assert vendor.status_code == 200
        assert "export { uPlot as default }" in vendor.text
        assert (await anonymous.get("/ui/vendor/uplot/uPlot.min.css")).headers["content-type"].startswith("text/css")


async def test_only_the_listed_files_are_served(vigil: Vigil) -> None:
    async with vigil.as_token(None) as anonymous:
        for path in ("/ui/app/nothing.js", "/ui/vendor/uplot/../package.json", "/ui/vendor/uplot/%2e%2e/package.json",
                     "/ui/app/../package.json", "/ui/vendor/other/x.js", "/ui/package-lock.json"):
            r = await anonymous.get(path)
            assert r.status_code == 404, path
            assert r.json() == {"errors": {"request": ["No such resource"]}}


async def test_api_paths_keep_precedence(vigil: Vigil) -> None:
    async with vigil.as_token(None) as anonymous:
        assert (await anonymous.get("/v1/spaces")).status_code == 401
        assert (await anonymous.get("/healthz")).json()["status"] == "ok"
        assert (await anonymous.get("/stacky/deployments")).headers["content-type"] == "text/json"
    assert (await vigil.client.post("/")).status_code == 405


async def test_without_installed_packages_the_shell_says_what_to_run(start_vigil: StartVigil, tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>x</title>")
    vigil = await start_vigil(web_dir=str(web))
    async with vigil.as_token(None) as anonymous:
        r = await anonymous.get("/")
        assert r.status_code == 503
        assert "run `make install`" in r.text
        assert (await anonymous.get("/v1/spaces")).status_code == 401  # the APIs are unaffected


async def test_whoami_names_the_role(vigil: Vigil) -> None:
    r = await vigil.client.get("/v1/whoami")
    assert r.status_code == 200
    assert r.json() == {"name": "admin (VIGIL_ADMIN_TOKEN)", "role": "admin", "environment": None}
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.get("/v1/whoami")).json()["role"] == "viewer"
    async with vigil.as_token(await vigil.token(Role.RECORDER)) as recorder:
        r = await recorder.get("/v1/whoami")
        assert r.status_code == 403
        assert "recorder" in r.json()["errors"]["request"][0]
    async with vigil.as_token("not-a-token") as stranger:
        assert (await stranger.get("/v1/whoami")).status_code == 401


async def _hosts_chart(vigil: Vigil) -> tuple[int, int, int]:
    now = int(time.time()) // 60 * 60
    measurements = [{"name": "web.cpu", "value": v, "time": now - 120, "tags": {"host": host}}
                    for host, v in (("web1", 10), ("web2", 30))]
    assert (await vigil.post_measurements({"measurements": measurements})).status_code == 202
    space = (await vigil.client.post("/v1/spaces", json={"name": "hosts"})).json()
    chart = await vigil.client.post(f"/v1/spaces/{space['id']}/charts", json={
        "name": "cpu", "streams": [{"metric": "web.cpu", "group_function": "breakout",
                                    "tags": [{"name": "@host", "dynamic": True}]}]})
    assert chart.status_code == 201, chart.text
    return space["id"], chart.json()["id"], now


async def test_chart_data_takes_a_space_level_tag_filter(vigil: Vigil) -> None:
    space_id, chart_id, now = await _hosts_chart(vigil)
    url = f"/v1/spaces/{space_id}/charts/{chart_id}/data"
    window = {"start_time": now - 600, "end_time": now, "resolution": 60}
    every = (await vigil.client.get(url, params=window)).json()
    assert sorted(s["tags"]["host"] for s in every["series"]) == ["web1", "web2"]
    one = (await vigil.client.get(url, params={**window, "tags[host]": "web2"})).json()
    assert [(s["tags"], [p["value"] for p in s["measurements"]]) for s in one["series"]] == [({"host": "web2"}, [30.0])]
    both = (await vigil.client.get(url, params=[*window.items(), ("tags[host]", "web1"),
                                                 ("tags[host]", "web2")])).json()
    assert len(both["series"]) == 2
    wildcard = (await vigil.client.get(url, params={**window, "tags[host]": "web*"})).json()
    assert len(wildcard["series"]) == 2
    bad = await vigil.client.get(url, params={**window, "tags[ho st]": "x"})
    assert bad.status_code == 400
    assert bad.json() == {"errors": {"params": {"tags.ho st": [
        "must be a tag name with tag value patterns (* wildcards)"]}}}
    too_many = await vigil.client.get(url, params={**window, **{f"tags[t{i}]": "x" for i in range(51)}})
    assert too_many.status_code == 400
    assert "at most 50" in too_many.json()["errors"]["params"]["tags"][0]


async def test_preview_evaluates_an_unsaved_chart_and_stores_nothing(vigil: Vigil) -> None:
    space_id, _, now = await _hosts_chart(vigil)
    body = {"name": "draft", "type": "line", "streams": [
        {"metric": "web.cpu", "group_function": "breakout", "tags": [{"name": "host", "values": ["web1"]}],
         "transform_function": "x * 2 + 1", "color": "#12b886"},
        {"composite": 's("web.cpu", {"host": "web2"})'}]}
    window = {"start_time": now - 600, "end_time": now, "resolution": 60}
    r = await vigil.client.post("/v1/charts/preview", params=window, json=body)
    assert r.status_code == 200, r.text
    got = [(s["stream_id"], s["tags"], [p["value"] for p in s["measurements"]]) for s in r.json()["series"]]
    assert got == [(1, {"host": "web1"}, [21.0]), (2, {"host": "web2"}, [30.0])]  # 10 * 2 + 1; web2 as is
    filtered = await vigil.client.post("/v1/charts/preview", params={**window, "tags[host]": "web2"}, json=body)
    assert [s["stream_id"] for s in filtered.json()["series"]] == [1, 2]
    assert filtered.json()["series"][0]["tags"] == {"host": "web2"}  # the filter replaced the stream's own
    assert len((await vigil.client.get(f"/v1/spaces/{space_id}/charts")).json()) == 1


async def test_preview_answers_the_errors_saving_would(vigil: Vigil) -> None:
    bad = {"name": "draft", "thresholds": [{"operator": "~", "value": 1, "type": "red"}],
           "streams": [{"composite": "sum(s(\"x\""}, {"metric": "ok.metric", "color": "red"}]}
    r = await vigil.client.post("/v1/charts/preview", json=bad)
    assert r.status_code == 400
    params = r.json()["errors"]["params"]
    assert set(params) == {"thresholds.0.operator", "streams.0.composite", "streams.1.color"}
    assert "column" in params["streams.0.composite"][0]
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.post("/v1/charts/preview", json={"name": "v", "streams": []})).json() == {
            "resolution": 60, "series": []}
    assert (await vigil.client.get("/v1/spaces")).json()["spaces"] == []
