"""The drain API: Akkeris' routes and shapes, the decided statuses, redaction, limits, roles."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from tests.conftest import StartVigil, Vigil
from tests.drains.conftest import FAST, SelfSigned, add_drain, eventually
from vigil.auth.roles import Role

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


async def test_create_answers_akkeris_shape(vigil: Vigil) -> None:
    r = await vigil.client.post("/apps/web/log-drains", json={"url": "syslog+tls://logs.example.com:44112"})
    assert r.status_code == 201
    body = r.json()
    assert list(body) == ["created_at", "id", "addon", "updated_at", "token", "url"]
    assert re.fullmatch(UUID, body["id"])
    assert re.fullmatch(r"d\." + UUID, body["token"])
    assert ISO.fullmatch(body["created_at"]) and body["created_at"] == body["updated_at"]
    assert body["addon"] is None
    assert body["url"] == "syslog+tls://logs.example.com:44112"
    assert (await vigil.client.get(f"/apps/web/log-drains/{body['id']}")).json() == body
    assert (await vigil.client.get("/apps/web/log-drains")).json() == [body]
    assert body["id"] in vigil.services.drains.workers


async def test_list_get_delete(vigil: Vigil) -> None:
    first = await add_drain(vigil.client, "syslog://a.example.com")
    second = await add_drain(vigil.client, "https://b.example.com/in")
    other = await add_drain(vigil.client, "syslog://a.example.com", owner="/apps/api")
    assert [d["id"] for d in (await vigil.client.get("/apps/web/log-drains")).json()] == [first["id"], second["id"]]
    assert (await vigil.client.get("/apps/idle/log-drains")).json() == []
    # A drain is found only under its own app.
    r = await vigil.client.get(f"/apps/web/log-drains/{other['id']}")
    assert r.status_code == 404
    assert r.json() == {"errors": {"request": [f"The specified log drain {other['id']} does not exist on this app."]}}
    r = await vigil.client.delete(f"/apps/web/log-drains/{first['id']}")
    assert r.status_code == 204 and r.content == b""
    assert first["id"] not in vigil.services.drains.workers
    assert (await vigil.client.get(f"/apps/web/log-drains/{first['id']}")).status_code == 404
    assert (await vigil.client.delete(f"/apps/web/log-drains/{first['id']}")).status_code == 404
    assert (await vigil.client.delete(f"/apps/web/log-drains/{other['id']}")).status_code == 404
    assert [d["id"] for d in (await vigil.client.get("/apps/web/log-drains")).json()] == [second["id"]]
    assert set(vigil.services.drains.workers) == {second["id"], other["id"]}


async def test_duplicate_url_on_an_app_is_400(vigil: Vigil) -> None:
    await add_drain(vigil.client, "syslog://Logs.Example.com")
    for same in ("syslog://logs.example.com", "syslog://logs.example.com:514", "syslog://LOGS.example.com:514/"):
        r = await vigil.client.post("/apps/web/log-drains", json={"url": same})
        assert r.status_code == 400
        assert r.json() == {"errors": {"params": {"url": ["This app already has a log drain with this URL."]}}}
    # The same URL on another app, or over TLS, is another drain.
    await add_drain(vigil.client, "syslog://logs.example.com", owner="/apps/api")
    await add_drain(vigil.client, "syslog+tls://logs.example.com:514")
    assert len((await vigil.client.get("/apps/web/log-drains")).json()) == 2


@pytest.mark.parametrize(("body", "field"), [
    ({}, "url"),
    ({"url": None}, "url"),
    ({"url": 5}, "url"),
    ({"url": "logs.example.com:514"}, "url"),
    ({"url": "tcp://logs.example.com:514"}, "url"),
    ({"url": "syslog://logs.example.com:99999"}, "url"),
    ({"url": "syslog://u:p@logs.example.com"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "syslog+tls://h:1", "tls_skip_verify": "yes"}, "tls_skip_verify"),
    ({"url": "syslog+tls://h:1", "tls_ca": "not a certificate"}, "tls_ca"),
    ({"url": "syslog+tls://h:1", "tls_ca": 12}, "tls_ca"),
    ({"url": "syslog+tls://h:1", "tls_ca": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
     "tls_ca"),
    ({"url": "syslog://h:1", "tls_skip_verify": True}, "tls_skip_verify"),
    ({"url": "http://h/x", "tls_skip_verify": True}, "tls_skip_verify"),
])
async def test_invalid_url_or_option_is_422_and_stores_nothing(vigil: Vigil, body: dict, field: str) -> None:
    r = await vigil.client.post("/apps/web/log-drains", json=body)
    assert r.status_code == 422, r.text
    assert list(r.json()["errors"]["params"]) == [field]
    assert (await vigil.client.get("/apps/web/log-drains")).json() == []
    assert vigil.services.drains.workers == {}


async def test_tls_options_are_accepted(vigil: Vigil, cert: SelfSigned) -> None:
    await add_drain(vigil.client, "syslog+tls://localhost:6514", tls_ca=cert.pem)
    await add_drain(vigil.client, "https://localhost/in", tls_skip_verify=True)
    drains = await vigil.services.drains.list("app", "web")
    assert [(d.options.skip_verify, d.options.ca) for d in drains] == [(False, cert.pem), (True, None)]


async def test_a_ca_over_its_limit_is_422(start_vigil: StartVigil, cert: SelfSigned) -> None:
    vigil = await start_vigil(drain_ca_max_bytes=len(cert.pem) - 1)
    r = await vigil.client.post("/apps/web/log-drains", json={"url": "syslog+tls://h:1", "tls_ca": cert.pem})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"tls_ca": [f"must be at most {len(cert.pem) - 1} bytes"]}}}
    assert vigil.services.drains.workers == {}


async def test_bad_bodies(vigil: Vigil) -> None:
    r = await vigil.client.post("/apps/web/log-drains", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await vigil.client.post("/apps/web/log-drains", json=["syslog://h"])
    assert r.status_code == 400
    r = await vigil.client.post("/apps/web/log-drains", content=b"<x/>", headers={"Content-Type": "text/xml"})
    assert r.status_code == 415
    assert (await vigil.client.get("/apps/web/log-drains")).json() == []


async def test_a_body_over_the_limit_is_413(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(max_body_bytes=100)
    r = await vigil.client.post("/apps/web/log-drains", json={"url": "syslog://h", "tls_ca": "x" * 200})
    assert r.status_code == 413


async def test_curl_dash_d_and_form_bodies(vigil: Vigil) -> None:
    # The Akkeris documentation's example: curl -d '{"url": …}' sends the form content type.
    r = await vigil.client.post("/apps/web/log-drains", content=b'{"url":"syslog://a.example.com:1"}',
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201, r.text
    r = await vigil.client.post("/apps/web/log-drains", data={"url": "syslog+tls://b.example.com:2",
                                                              "tls_skip_verify": "true"})
    assert r.status_code == 201, r.text
    drains = await vigil.services.drains.list("app", "web")
    assert [(d.url.raw, d.options.skip_verify) for d in drains] == [("syslog://a.example.com:1", False),
                                                                    ("syslog+tls://b.example.com:2", True)]


async def test_unknown_app_names_and_sites_are_404(vigil: Vigil) -> None:
    r = await vigil.client.post("/apps/Not_An_App/log-drains", json={"url": "syslog://h"})
    assert r.status_code == 404
    assert r.json() == {"errors": {"request": ["The specified application Not_An_App does not exist."]}}
    r = await vigil.client.post("/sites/www.example.com/log-drains", json={"url": "syslog://h"})
    assert r.status_code == 404
    assert r.json() == {"errors": {"request": ["The specified site www.example.com does not exist."]}}
    assert (await vigil.client.get("/sites/www.example.com/log-drains")).status_code == 404
    # An app exists with its first line, so a drain may wait for it.
    assert (await vigil.client.post("/apps/not-yet/log-drains", json={"url": "syslog://h"})).status_code == 201


async def test_site_drains(vigil: Vigil) -> None:
    assert (await vigil.client.put("/sites/www.example.com", json={"apps": ["web", "api"]})).status_code == 200
    drain = await add_drain(vigil.client, "syslog://h.example.com", owner="/sites/www.example.com")
    assert (await vigil.client.get("/sites/www.example.com/log-drains")).json() == [drain]
    assert (await vigil.client.get(f"/sites/www.example.com/log-drains/{drain['id']}")).json() == drain
    assert (await vigil.client.get(f"/apps/web/log-drains/{drain['id']}")).status_code == 404
    assert vigil.services.drains.workers[drain["id"]].apps == ["web", "api"]
    r = await vigil.client.post("/sites/www.example.com/log-drains", json={"url": "syslog://h.example.com:514"})
    assert r.status_code == 400
    assert r.json() == {"errors": {"params": {"url": ["This site already has a log drain with this URL."]}}}
    assert (await vigil.client.delete(f"/sites/www.example.com/log-drains/{drain['id']}")).status_code == 204
    assert vigil.services.drains.workers == {}


async def test_limits_per_app_and_per_server(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(drains_per_app=2, drains_max=3)
    await add_drain(vigil.client, "syslog://a.example.com")
    await add_drain(vigil.client, "syslog://b.example.com")
    r = await vigil.client.post("/apps/web/log-drains", json={"url": "syslog://c.example.com"})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"url": ["This app already has 2 log drains, the limit."]}}}
    await add_drain(vigil.client, "syslog://c.example.com", owner="/apps/api")
    r = await vigil.client.post("/apps/worker/log-drains", json={"url": "syslog://d.example.com"})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"url": ["This server already has 3 log drains, its limit."]}}}
    assert len(vigil.services.drains.workers) == 3
    assert (await vigil.client.get("/apps/worker/log-drains")).json() == []


async def test_roles(vigil: Vigil) -> None:
    drain = await add_drain(vigil.client, "syslog://a.example.com")
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.get("/apps/web/log-drains")).json() == [drain]
        assert (await viewer.get(f"/apps/web/log-drains/{drain['id']}")).status_code == 200
        assert (await viewer.post("/apps/web/log-drains", json={"url": "syslog://b.example.com"})).status_code == 403
        assert (await viewer.delete(f"/apps/web/log-drains/{drain['id']}")).status_code == 403
    async with vigil.as_token(await vigil.token(Role.RECORDER)) as recorder:
        assert (await recorder.get("/apps/web/log-drains")).status_code == 403
        assert (await recorder.post("/apps/web/log-drains", json={"url": "syslog://b.example.com"})).status_code == 403
    async with vigil.as_token(None) as anonymous:
        assert (await anonymous.get("/apps/web/log-drains")).status_code == 401
    assert len((await vigil.client.get("/apps/web/log-drains")).json()) == 1


async def test_credentials_never_shown_or_logged(start_vigil: StartVigil, refusing: int,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    vigil = await start_vigil(**FAST)
    secret = "hunter2-s3cret"
    url = f"https://ops:{secret}@127.0.0.1:{refusing}/logs?team=a"
    with caplog.at_level(logging.DEBUG):
        drain = await add_drain(vigil.client, url)
        assert drain["url"] == f"https://ops:***@127.0.0.1:{refusing}/logs?team=a"
        r = await vigil.client.post("/v1/logs", json=[{"app": "web", "message": "x"}])
        assert r.status_code == 204
        worker = vigil.services.drains.workers[drain["id"]]
        await eventually(lambda: worker.stats.retries >= 1)
        listing = (await vigil.client.get("/apps/web/log-drains")).text
        one = (await vigil.client.get(f"/apps/web/log-drains/{drain['id']}")).text
        metrics = (await vigil.client.get("/metrics")).text
        dup = await vigil.client.post("/apps/web/log-drains", json={"url": url})
    assert dup.status_code == 400
    assert "POST failed" in caplog.text  # the failure was logged …
    for text in (caplog.text, listing, one, metrics, dup.text, repr(worker.drain)):
        assert secret not in text  # … without the password


async def test_a_drain_created_during_a_resync_keeps_running(vigil: Vigil) -> None:
    # The periodic re-read of the drains must not take a drain created meanwhile for a deleted one.
    manager = vigil.services.drains
    _, drain, _ = await asyncio.gather(manager.resync(), manager.create("app", "web", {"url": "syslog://a.example"}),
                                       manager.resync())
    assert manager.workers[drain.id].running


async def test_metrics_can_be_asked_for_by_name_without_every_drains_series(vigil: Vigil) -> None:
    drain = await add_drain(vigil.client, "syslog://a.example.com")
    assert (await vigil.client.post("/v1/logs", json=[{"app": "web", "message": "x"}])).status_code == 204
    everything = (await vigil.client.get("/metrics")).text
    assert f'vigil_log_drain_connected{{drain="{drain["id"]}"}}' in everything
    r = await vigil.client.get("/metrics", params=[("name[]", "vigil_log_lines_total"),
                                                   ("name[]", "vigil_log_drain_channel_lost_lines_total")])
    assert r.status_code == 200
    names = {line.split("{")[0].split(" ")[0] for line in r.text.splitlines() if not line.startswith("#")}
    assert names == {"vigil_log_lines_total", "vigil_log_drain_channel_lost_lines_total"}
