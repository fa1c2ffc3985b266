"""POST/GET/DELETE /v1/scrape_targets, and the configured targets beside them."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import Vigil
from tests.prom.helpers import Exporter, exporters, wait_for
from vigil.auth.roles import Role
from vigil.config import ConfigError, load


async def test_create_list_get_delete(vigil: Vigil) -> None:
    async with exporters(Exporter(lambda: "made_by_api 1\n")) as (exporter,):
        r = await vigil.client.post("/v1/scrape_targets", json={"url": exporter.url, "job": "node", "interval": 1,
                                                                "labels": {"dc": "x1"}})
        assert r.status_code == 201, r.text
        target = r.json()
        assert r.headers["location"] == f"/v1/scrape_targets/{target['id']}"
        assert {k: target[k] for k in ("url", "job", "interval", "timeout", "labels", "source", "health")} == {
            "url": exporter.url, "job": "node", "interval": 1.0, "timeout": 1.0, "labels": {"dc": "x1"},
            "source": "api", "health": "unknown"}
        # Its scraper runs at once.
        await wait_for(lambda: exporter.requests >= 1, 10, "the new target's first scrape")
        await wait_for(lambda: vigil.services.prom.health(target["id"]).health == "up", 10, "health")
        got = (await vigil.client.get(f"/v1/scrape_targets/{target['id']}")).json()
        assert got["health"] == "up" and got["samples"] == 1 and got["last_scrape"] > 0
        listing = (await vigil.client.get("/v1/scrape_targets")).json()
        assert listing["query"]["found"] == 1 and [t["id"] for t in listing["scrape_targets"]] == [target["id"]]
        r = await vigil.client.post("/v1/scrape_targets", json={"url": exporter.url, "job": "node"})
        assert r.status_code == 422
        assert (await vigil.client.delete(f"/v1/scrape_targets/{target['id']}")).status_code == 204
        assert (await vigil.client.get(f"/v1/scrape_targets/{target['id']}")).status_code == 404
        assert (await vigil.client.delete(f"/v1/scrape_targets/{target['id']}")).status_code == 404
        # The removed target's scraper has stopped, and its series were marked stale.
        seen = exporter.requests
        store = vigil.services.telemetry
        rows = await store.query_arrow(f"SELECT metric FROM {store.database}.prom_stale ORDER BY metric")
        assert rows.column("metric").to_pylist() == ["made_by_api"]
        assert vigil.services.prom._scrapers == {}
        assert exporter.requests == seen


@pytest.mark.parametrize(("body", "param"), [
    ({}, "url"),
    ({"url": "ftp://x/metrics"}, "url"),
    ({"url": "http:///nohost"}, "url"),
    ({"url": "http://h/m", "interval": 0.5}, "interval"),
    ({"url": "http://h/m", "interval": "soon"}, "interval"),
    ({"url": "http://h/m", "interval": 5, "timeout": 6}, "timeout"),
    ({"url": "http://h/m", "timeout": -1}, "timeout"),
    ({"url": "http://h/m", "labels": {"__x": "y"}}, "labels"),
    ({"url": "http://h/m", "labels": {"job": "y"}}, "labels"),
    ({"url": "http://h/m", "labels": {"a": "é"}}, "labels"),
    ({"url": "http://h/m", "labels": ["a"]}, "labels"),
    ({"url": "http://h/m", "job": ""}, "job"),
    ({"url": "http://h/m", "color": "red"}, "color"),
])
async def test_bad_targets_are_400_naming_the_field(vigil: Vigil, body: dict, param: str) -> None:
    r = await vigil.client.post("/v1/scrape_targets", json=body)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]["params"]
    assert (await vigil.client.get("/v1/scrape_targets")).json()["scrape_targets"] == []


async def test_target_limit(start_vigil) -> None:
    vigil = await start_vigil(scrape_max_targets=2, scrape_targets=["http://127.0.0.1:1/a"])
    assert (await vigil.client.post("/v1/scrape_targets", json={"url": "http://127.0.0.1:1/b"})).status_code == 201
    r = await vigil.client.post("/v1/scrape_targets", json={"url": "http://127.0.0.1:1/c"})
    assert r.status_code == 400 and "scrape_max_targets" in r.text


async def test_configured_targets_are_listed_and_not_deletable(start_vigil) -> None:
    table = orjson.dumps({"url": "http://127.0.0.1:1/x", "job": "cfg", "interval": 60, "timeout": 5}).decode()
    vigil = await start_vigil(scrape_targets=[table, "http://127.0.0.1:1/y"])
    listing = (await vigil.client.get("/v1/scrape_targets", params={"orderby": "url"})).json()["scrape_targets"]
    assert [(t["url"], t["job"], t["interval"], t["timeout"], t["source"]) for t in listing] == [
        ("http://127.0.0.1:1/x", "cfg", 60.0, 5.0, "config"), ("http://127.0.0.1:1/y", "vigil", 15.0, 10.0, "config")]
    r = await vigil.client.delete(f"/v1/scrape_targets/{listing[0]['id']}")
    assert r.status_code == 400 and "configuration" in r.text


async def test_only_admins_manage_targets(vigil: Vigil) -> None:
    for role in (Role.VIEWER, Role.RECORDER):
        async with vigil.as_token(await vigil.token(role)) as client:
            assert (await client.get("/v1/scrape_targets")).status_code == 403
            assert (await client.post("/v1/scrape_targets", json={"url": "http://h/m"})).status_code == 403


def test_configuration_file_and_environment(tmp_path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text('[[scrape_targets]]\nurl = "http://10.0.0.1:9100/metrics"\njob = "node"\ninterval = 30\n'
                    'labels = { dc = "x" }\n')
    settings = load(path, environ={})
    from vigil.prom.targets import configured_targets

    [spec] = configured_targets(settings)
    assert (spec.url, spec.job, spec.interval, spec.timeout, spec.labels) == (
        "http://10.0.0.1:9100/metrics", "node", 30.0, 10.0, {"dc": "x"})
    assert spec.instance == "10.0.0.1:9100"
    env = load(None, environ={"VIGIL_SCRAPE_TARGETS": "http://a/m, https://b/m"})
    assert [s.instance for s in configured_targets(env)] == ["a:80", "b:443"]
    path.write_text('[[scrape_targets]]\nurl = "http://a/m"\ninterval = 0\n')
    with pytest.raises(ConfigError, match=r"\[0\]\.interval"):
        load(path, environ={})
    with pytest.raises(ConfigError, match="same url"):
        load(None, environ={"VIGIL_SCRAPE_TARGETS": "http://a/m http://a/m"})
