"""/v1/services: create (JSON and the seed's form body), settings checked per type, list, update, delete."""

from __future__ import annotations

import pytest

from tests.alerts.conftest import create_alert, service
from tests.conftest import Vigil

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_the_seeds_form_create_and_get(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/services", content="title=Notify Ops Room&type=campfire&settings%5Btoken%5D="
                                "1234567890ABCDEF&settings%5Broom%5D=Ops&settings%5Bsubdomain%5D=acme", headers=FORM)
    assert r.status_code == 201
    body = r.json()
    assert r.headers["location"] == f"/v1/services/{body['id']}"
    assert body == {"id": body["id"], "type": "campfire", "title": "Notify Ops Room",
                    "settings": {"room": "Ops", "token": "1234567890ABCDEF", "subdomain": "acme"}}
    assert (await vigil.client.get(f"/v1/services/{body['id']}")).json() == body
    assert (await vigil.client.get("/v1/services/999")).status_code == 404
    assert (await vigil.client.get("/v1/services/abc")).status_code == 404


@pytest.mark.parametrize(("kind", "settings", "reason"), [
    ("webhook", {}, "url is required"),
    ("webhook", {"url": "ftp://x.test/"}, "url must be an http:// or https:// URL"),
    ("slack", {"url": "not a url"}, "url must be an http:// or https:// URL"),
    ("mail", {}, "addresses is required: a comma-separated list of e-mail addresses"),
    ("mail", {"addresses": "ops@example.com,nobody"}, "'nobody' is not an e-mail address"),
    ("pagerduty", {}, "service_key (the integration key) is required"),
    ("pagerduty", {"service_key": "k", "severity": "meh"}, "severity must be one of critical, error, warning, info"),
    ("campfire", {"room": "Ops"}, "token is required"),
])
async def test_settings_are_checked_per_type(vigil: Vigil, kind: str, settings: dict, reason: str) -> None:
    r = await vigil.client.post("/v1/services", json={"type": kind, "title": "t", "settings": settings})
    assert r.status_code == 400
    assert reason in r.json()["errors"]["params"]["settings"]
    assert (await vigil.client.get("/v1/services")).json()["query"]["total"] == 0


async def test_type_and_title_are_required(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/services", json={"type": "hipchat", "settings": {}})
    assert r.status_code == 400
    errors = r.json()["errors"]["params"]
    assert errors["type"] == ["must be one of mail, webhook, slack, pagerduty, campfire"]
    assert errors["title"] == ["is required (at most 255 characters)"]


async def test_list_orders_by_title_or_updated_at(vigil: Vigil) -> None:
    b = await service(vigil, "webhook", {"url": "http://x.test/b"}, "Bravo")
    a = await service(vigil, "mail", {"addresses": "george@example.com,fred@example.com"}, "Alpha")
    listing = (await vigil.client.get("/v1/services")).json()
    assert listing["query"] == {"found": 2, "length": 2, "offset": 0, "total": 2}
    assert [s["id"] for s in listing["services"]] == [a, b]
    by_update = (await vigil.client.get("/v1/services", params={"orderby": "updated_at"})).json()
    assert [s["id"] for s in by_update["services"]] == [b, a]
    page = (await vigil.client.get("/v1/services", params={"length": 1, "offset": 1})).json()
    assert [s["id"] for s in page["services"]] == [b]
    assert (await vigil.client.get("/v1/services", params={"orderby": "type"})).status_code == 400


async def test_update_changes_what_is_given(vigil: Vigil) -> None:
    sid = await service(vigil, "campfire", {"room": "Ops", "token": "t", "subdomain": "acme"}, "Notify Ops Room")
    r = await vigil.client.put(f"/v1/services/{sid}", content="title=Notify Ops Chatroom", headers=FORM)
    assert r.status_code == 204
    body = (await vigil.client.get(f"/v1/services/{sid}")).json()
    assert body["title"] == "Notify Ops Chatroom" and body["settings"]["room"] == "Ops"
    r = await vigil.client.put(f"/v1/services/{sid}", json={"type": "webhook"})  # old settings don't fit
    assert r.status_code == 400 and r.json()["errors"]["params"]["settings"] == ["url is required"]
    r = await vigil.client.put(f"/v1/services/{sid}", json={"type": "webhook", "settings": {"url": "http://h.test"}})
    assert r.status_code == 204
    assert (await vigil.client.get(f"/v1/services/{sid}")).json()["type"] == "webhook"
    assert (await vigil.client.put("/v1/services/999", json={"title": "x"})).status_code == 404


async def test_deleting_a_service_removes_it_from_its_alerts(vigil: Vigil) -> None:
    keep = await service(vigil, "webhook", {"url": "http://x.test/keep"}, "keep")
    gone = await service(vigil, "webhook", {"url": "http://x.test/gone"}, "gone")
    alert = await create_alert(vigil, "cpu.high", [], [gone, keep])
    assert (await vigil.client.delete(f"/v1/services/{gone}")).status_code == 204
    assert [s["id"] for s in (await vigil.client.get(f"/v1/alerts/{alert['id']}")).json()["services"]] == [keep]
    assert (await vigil.client.get(f"/v1/services/{gone}")).status_code == 404
    assert (await vigil.client.delete(f"/v1/services/{gone}")).status_code == 404
