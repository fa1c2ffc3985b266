"""/v1/alerts: every field, rule and status code of the seed's Alerts section."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from tests.alerts.conftest import create_alert, service
from tests.conftest import Vigil
from vigil.auth.roles import Role

SEED_ALERT = {
    "name": "production.web.frontend.response_time",
    "description": "Web Response Time",
    "conditions": [{"type": "above", "metric_name": "web.nginx.response_time", "threshold": 200,
                    "summary_function": "max",
                    "tags": [{"name": "tag_name", "grouped": False, "values": ["tag_value"]}]}],
    "attributes": {"runbook_url": "http://myco.com/runbooks/response_time"},
    "active": True,
    "md": True,
}


async def alerts_total(vigil: Vigil) -> int:
    return (await vigil.client.get("/v1/alerts")).json()["query"]["total"]


async def test_create_answers_the_seed_shape(vigil: Vigil) -> None:
    slack = await service(vigil, "slack", {"url": "https://hooks.slack.com/services/ABCDEFG/A1B2C3/asdfg1234"},
                          "librato-services")
    before = int(time.time())
    r = await vigil.client.post("/v1/alerts", json={**SEED_ALERT, "services": [slack]})
    assert r.status_code == 201
    body = r.json()
    assert r.headers["location"] == f"/v1/alerts/{body['id']}"
    assert r.headers["content-type"] == "application/json"
    condition_id = body["conditions"][0]["id"]
    assert body == {
        "id": body["id"], "name": "production.web.frontend.response_time", "description": "Web Response Time",
        "conditions": [{"id": condition_id, "type": "above", "metric_name": "web.nginx.response_time",
                        "source": None, "threshold": 200.0, "summary_function": "max", "detect_reset": False,
                        "tags": [{"name": "tag_name", "grouped": False, "values": ["tag_value"]}]}],
        "services": [{"id": slack, "type": "slack", "title": "librato-services",
                      "settings": {"url": "https://hooks.slack.com/services/ABCDEFG/A1B2C3/asdfg1234"}}],
        "attributes": {"runbook_url": "http://myco.com/runbooks/response_time"},
        "active": True, "created_at": body["created_at"], "updated_at": body["created_at"], "version": 2,
        "rearm_seconds": 600, "rearm_per_signal": False, "md": True,
    }
    assert before <= body["created_at"] <= int(time.time())
    assert (await vigil.client.get(f"/v1/alerts/{body['id']}")).json() == body


async def test_defaults_and_the_official_clients_create_payload(vigil: Vigil) -> None:
    # exactly what appoptics_metrics.create_alert("name") sends
    r = await vigil.client.post("/v1/alerts", json={
        "name": "cpu.load", "md": False, "id": None, "attributes": {}, "version": 2, "description": None,
        "rearm_seconds": None, "active": True, "services": [], "conditions": [], "created_at": None,
        "updated_at": None, "rearm_per_signal": None})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["conditions"], body["services"], body["rearm_seconds"], body["rearm_per_signal"], body["active"]) == (
        [], [], 600, False, True)


async def test_absent_condition_shape(vigil: Vigil) -> None:
    body = await create_alert(vigil, "beat", [{"type": "absent", "metric_name": "beat", "duration": 600,
                                               "source": "*", "summary_function": None, "tags": []}])
    assert body["conditions"] == [{"id": body["conditions"][0]["id"], "type": "absent", "metric_name": "beat",
                                   "source": "*", "duration": 600, "tags": []}]


async def test_names_are_unique_regardless_of_case(vigil: Vigil) -> None:
    await create_alert(vigil, "cpu.high", [])
    r = await vigil.client.post("/v1/alerts", json={"name": "CPU.High", "conditions": []})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"name": ["has already been taken"]}}}
    assert await alerts_total(vigil) == 1


async def test_invalid_alerts_are_rejected_with_every_reason_and_nothing_is_stored(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/alerts", json={
        "name": "bad name!", "rearm_seconds": 90, "active": "maybe", "services": [12345],
        "conditions": [
            {"type": "above", "metric_name": "m"},
            {"type": "sideways", "metric_name": "m", "threshold": 1},
            {"type": "absent", "metric_name": "m"},
            {"type": "below", "metric_name": "m", "threshold": 1, "duration": 30},
            {"type": "below", "metric_name": "m", "threshold": 1, "summary_function": "median"},
            {"type": "above", "metric_name": "m", "threshold": 1, "tags": [{"name": "bad tag!", "values": ["x"]}]},
            {"type": "above", "metric_name": "m", "threshold": 1, "tags": [{"name": "host", "values": []}]},
            {"type": "above", "metric_name": "", "threshold": 1},
        ]})
    assert r.status_code == 400
    errors = r.json()["errors"]["params"]
    assert errors["name"] == ["may only contain A-Za-z0-9.:-_"]
    assert errors["rearm_seconds"] == ["must be a positive multiple of 60"]
    assert errors["active"] == ["must be true or false"]
    assert errors["conditions"] == [
        "condition 1: threshold must be a number",
        "condition 2: type must be one of above, below, absent",
        "condition 3: duration is required for absent conditions",
        "condition 4: duration must be a whole number of seconds from 60 to 3600",
        "condition 5: summary_function must be one of min, max, average, sum, count, derivative",
        "condition 6: tag name 'bad tag!' must match /\\A[-.:_\\w]{1,64}\\z/",
        "condition 7: tag host needs a list of values (use \"*\" for any value)",
        "condition 8: metric_name is required",
    ]
    assert await alerts_total(vigil) == 0
    r = await vigil.client.post("/v1/alerts", json={"name": "ok.name", "services": [12345]})
    assert r.status_code == 400
    assert r.json() == {"errors": {"params": {"services": ["service 12345 does not exist"]}}}
    r = await vigil.client.post("/v1/alerts", json={"name": "x" * 256})
    assert r.json()["errors"]["params"]["name"] == ["is too long (maximum is 255 characters)"]
    for rearm in (0, 59, "abc", 61.5):
        r = await vigil.client.post("/v1/alerts", json={"name": "ok.name", "rearm_seconds": rearm})
        assert r.status_code == 400, rearm
    assert (await vigil.client.post("/v1/alerts", content=b"[1]", headers={"content-type": "application/json"})
            ).status_code == 400
    assert await alerts_total(vigil) == 0


async def test_form_bodies_and_string_values_are_accepted(vigil: Vigil) -> None:
    hook = await service(vigil, "webhook", {"url": "http://hooks.test/x"})
    form = urlencode([("name", "form.alert"), ("conditions[0][type]", "above"),
                      ("conditions[0][metric_name]", "cpu"), ("conditions[0][threshold]", "90.5"),
                      ("conditions[0][duration]", "120"), ("services[]", str(hook)), ("active", "false"),
                      ("rearm_seconds", "1200")])
    r = await vigil.client.post("/v1/alerts", content=form,
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["conditions"][0]["threshold"] == 90.5 and body["conditions"][0]["duration"] == 120
    assert (body["active"], body["rearm_seconds"], [s["id"] for s in body["services"]]) == (False, 1200, [hook])


async def test_get_by_id_or_name_and_404(vigil: Vigil) -> None:
    body = await create_alert(vigil, "my.alert.name", [])
    assert (await vigil.client.get("/v1/alerts/my.alert.name")).json()["id"] == body["id"]
    assert (await vigil.client.get("/v1/alerts/MY.ALERT.NAME")).json()["id"] == body["id"]
    r = await vigil.client.get("/v1/alerts/nope")
    assert r.status_code == 404 and r.json() == {"errors": {"request": ["Alert nope does not exist"]}}
    assert (await vigil.client.get("/v1/alerts/98765")).status_code == 404


async def test_list_pages_and_filters_by_name(vigil: Vigil) -> None:
    ids = [(await create_alert(vigil, name, []))["id"]
           for name in ("production.web", "staging.web", "Production.db")]
    r = await vigil.client.get("/v1/alerts", params={"name": "PRODUCTION"})
    body = r.json()
    assert body["query"] == {"found": 2, "length": 2, "offset": 0, "total": 3}
    assert [a["id"] for a in body["alerts"]] == [ids[0], ids[2]]
    page = (await vigil.client.get("/v1/alerts", params={"length": 1, "offset": 1})).json()
    assert page["query"] == {"found": 3, "length": 1, "offset": 1, "total": 3}
    assert [a["id"] for a in page["alerts"]] == [ids[1]]
    desc = (await vigil.client.get("/v1/alerts", params={"orderby": "updated_at", "sort": "desc"})).json()
    assert [a["id"] for a in desc["alerts"]] == ids[::-1]
    r = await vigil.client.get("/v1/alerts", params={"orderby": "name"})
    assert r.status_code == 400 and r.json() == {"errors": {"params": {"orderby": ["must be one of updated_at"]}}}
    r = await vigil.client.get("/v1/alerts", params={"name": "50%_"})
    assert r.json()["query"]["found"] == 0


async def test_put_replaces_conditions_and_attributes_keeps_the_rest(vigil: Vigil) -> None:
    hook = await service(vigil, "webhook", {"url": "http://hooks.test/x"})
    body = await create_alert(vigil, "my.alert.name", SEED_ALERT["conditions"], [hook], description="High CPU Load",
                              attributes={"runbook_url": "http://rb.test"}, rearm_seconds=1800)
    r = await vigil.client.put(f"/v1/alerts/{body['id']}", json={"name": "my.alert.name", "active": False})
    assert r.status_code == 204 and r.content == b""
    after = (await vigil.client.get(f"/v1/alerts/{body['id']}")).json()
    assert after["conditions"] == [] and after["attributes"] == {}  # the seed: both removed when not sent
    assert (after["description"], after["rearm_seconds"], after["active"]) == ("High CPU Load", 1800, False)
    assert [s["id"] for s in after["services"]] == [hook]
    assert after["updated_at"] >= body["updated_at"]
    other = await create_alert(vigil, "other.alert", [])
    r = await vigil.client.put(f"/v1/alerts/{other['id']}", json={"name": "MY.alert.name"})
    assert r.status_code == 422
    r = await vigil.client.put("/v1/alerts/nope", json={"name": "x"})
    assert r.status_code == 404
    r = await vigil.client.put(f"/v1/alerts/{body['id']}", json={"conditions": [{"type": "above"}]})
    assert r.status_code == 400
    assert (await vigil.client.get(f"/v1/alerts/{body['id']}")).json()["active"] is False  # unchanged


async def test_delete_by_id_and_by_name(vigil: Vigil) -> None:
    first = await create_alert(vigil, "first.alert", [])
    await create_alert(vigil, "second.alert", [])
    assert (await vigil.client.delete(f"/v1/alerts/{first['id']}")).status_code == 204
    assert (await vigil.client.delete("/v1/alerts/second.alert")).status_code == 204
    assert (await vigil.client.delete("/v1/alerts/second.alert")).status_code == 404
    assert await alerts_total(vigil) == 0


async def test_services_are_associated_and_removed(vigil: Vigil) -> None:
    hook = await service(vigil, "webhook", {"url": "http://hooks.test/x"})
    body = await create_alert(vigil, "my.alert.name", [])
    r = await vigil.client.post(f"/v1/alerts/{body['id']}/services", content=f"service={hook}",
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201
    assert r.headers["location"] == f"/v1/alerts/{body['id']}/services/{hook}"
    assert [s["id"] for s in (await vigil.client.get(f"/v1/alerts/{body['id']}")).json()["services"]] == [hook]
    r = await vigil.client.post("/v1/alerts/my.alert.name/services", json={"service": 777})
    assert r.status_code == 400 and r.json() == {"errors": {"params": {"service": ["service 777 does not exist"]}}}
    assert (await vigil.client.delete(f"/v1/alerts/{body['id']}/services/{hook}")).status_code == 204
    assert (await vigil.client.get(f"/v1/alerts/{body['id']}")).json()["services"] == []
    assert (await vigil.client.delete(f"/v1/alerts/{body['id']}/services/{hook}")).status_code == 404


async def test_status_of_a_quiet_alert_and_the_status_list(vigil: Vigil) -> None:
    body = await create_alert(vigil, "quiet", [])
    r = await vigil.client.get(f"/v1/alerts/{body['id']}/status")
    assert r.status_code == 200
    assert r.json()["alert"] == {"id": body["id"]} and r.json()["status"] == "ok"
    assert (await vigil.client.get("/v1/alerts/status")).json() == {"cleared": [], "firing": []}
    assert (await vigil.client.get("/v1/alerts", params={"status": ""})).json() == {"cleared": [], "firing": []}
    assert (await vigil.client.get("/v1/alerts/404404/status")).status_code == 404


async def test_roles(vigil: Vigil) -> None:
    body = await create_alert(vigil, "guarded", [])
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    recorder = vigil.as_token(await vigil.token(Role.RECORDER))
    assert (await viewer.get("/v1/alerts")).status_code == 200
    assert (await viewer.get(f"/v1/alerts/{body['id']}/status")).status_code == 200
    for method, path in (("POST", "/v1/alerts"), ("PUT", f"/v1/alerts/{body['id']}"),
                         ("DELETE", f"/v1/alerts/{body['id']}"), ("POST", f"/v1/alerts/{body['id']}/clear"),
                         ("POST", f"/v1/alerts/{body['id']}/services")):
        assert (await viewer.request(method, path, json={"name": "x"})).status_code == 403, (method, path)
    assert (await recorder.get("/v1/alerts")).status_code == 403
    assert (await vigil.as_token(None).get("/v1/alerts")).status_code == 401
