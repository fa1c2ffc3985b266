"""POST /v1/notifications: validation, all-or-nothing, limits, roles, duplicates."""

from __future__ import annotations

from tests.conftest import StartVigil, Vigil
from tests.events.conftest import KEEP
from tests.events.fixtures import A, note, oslo
from vigil.auth.roles import Role


async def stored(vigil: Vigil) -> list[dict]:
    await vigil.services.events.sync()
    db = vigil.services.telemetry.database
    table = await vigil.services.telemetry.query_arrow(
        f"SELECT id, kind, deployment, routing_key, event FROM {db}.events ORDER BY id")
    return table.to_pylist()


async def test_one_or_many_and_defaults(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP)
    one = note("compute.instance.update", "10:00:00", instance=A)
    response = await vigil.client.post("/v1/notifications?deployment=east", json=one)
    assert response.status_code == 202
    assert response.json() == {"notifications": 1, "ids": [1]}
    many = [note("image.upload", "10:00:01", publisher="image.g1", id="img"),
            oslo(note("compute.instance.create.error", "10:00:02", instance=A, priority="ERROR")),
            note("identity.user.created", "10:00:03", publisher="identity.k1")]
    response = await vigil.client.post("/v1/notifications?deployment=west", json=many)
    assert response.json() == {"notifications": 3, "ids": [2, 3, 4]}
    assert await stored(vigil) == [
        {"id": 1, "kind": "nova", "deployment": 1, "routing_key": "notifications.info",
         "event": "compute.instance.update"},
        {"id": 2, "kind": "glance", "deployment": 2, "routing_key": "notifications.info", "event": "image.upload"},
        {"id": 3, "kind": "nova", "deployment": 2, "routing_key": "notifications.error",
         "event": "compute.instance.create.error"},
        {"id": 4, "kind": "generic", "deployment": 2, "routing_key": "notifications.info",
         "event": "identity.user.created"}]


async def test_service_and_routing_key_parameters(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP)
    body = note("image.upload", "10:00:00", publisher="image.g1")
    response = await vigil.client.post("/v1/notifications?deployment=d&service=generic&routing_key=monitor.error",
                                       json=body)
    assert response.status_code == 202
    assert await stored(vigil) == [{"id": 1, "kind": "generic", "deployment": 1, "routing_key": "monitor.error",
                                    "event": "image.upload"}]


async def test_duplicates_by_message_id_are_stored_once(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP)
    first = note("compute.instance.update", "10:00:00", instance=A)
    second = note("compute.instance.update", "10:00:01", instance=A)
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=[first, first])).json()["ids"] == [1, 1]
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=[second, first])).json()["ids"] == [2, 1]
    assert [r["id"] for r in await stored(vigil)] == [1, 2]


async def test_dedup_window_is_bounded(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP, events_dedup_window=2)
    notes = [note("compute.instance.update", f"10:00:0{i}", instance=A) for i in range(3)]
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=notes)).json()["ids"] == [1, 2, 3]
    # the first has left the window of two: stored again
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=notes)).json()["ids"] == [4, 2, 3]
    assert len(vigil.services.events.writer._recent) == 2


async def test_bad_input_stores_nothing(vigil: Vigil) -> None:
    good = note("compute.instance.update", "10:00:00", instance=A)
    bad = {**good, "timestamp": "not a time"}
    response = await vigil.client.post("/v1/notifications?deployment=d", json=[good, bad, {"x": 1}])
    assert response.status_code == 400
    assert response.json() == {"errors": {"params": {
        "notifications[1]": ["'not a time' is not a timestamp"],
        "notifications[2]": ["publisher_id must be a non-empty string"]}}}
    assert await stored(vigil) == []
    cases = [
        ("/v1/notifications", good, {"params": {"deployment": ["is required"]}}),
        ("/v1/notifications?deployment=a%20b", good,
         {"params": {"deployment": ["must be 1-100 letters, digits or . _ - : @ / +"]}}),
        ("/v1/notifications?deployment=d&service=swift", good,
         {"params": {"service": ["must be one of nova, glance, generic"]}}),
        ("/v1/notifications?deployment=d&routing_key=a%20b", good,
         {"params": {"routing_key": ["must be 1-255 letters, digits or . _ - : # * / +"]}}),
        ("/v1/notifications?deployment=d", [], {"params": {"notifications": ["must not be empty"]}}),
        ("/v1/notifications?deployment=d", "text", {"request": [
            "The request body must be a notification (a JSON object) or a list of them"]}),
        ("/v1/notifications?deployment=d", {"oslo.message": "[1]"}, {"params": {
            "notification": ["a notification must be a JSON object"]}}),
    ]
    for path, body, errors in cases:
        response = await vigil.client.post(path, json=body)
        assert (response.status_code, response.json()) == (400, {"errors": errors}), path
    response = await vigil.client.post("/v1/notifications?deployment=d", content=b"{nope",
                                       headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["errors"]["request"][0]
    response = await vigil.client.post("/v1/notifications?deployment=d", content=b"a=b",
                                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert await stored(vigil) == []


async def test_limits(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(events_retention=KEEP, events_max_notifications_per_request=2, events_max_deployments=1,
                              max_body_bytes=4096)
    notes = [note("compute.instance.update", "10:00:00", instance=A) for _ in range(3)]
    response = await vigil.client.post("/v1/notifications?deployment=d", json=notes)
    assert response.json() == {"errors": {"params": {"notifications": ["at most 2 notifications per request"]}}}
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=notes[:2])).status_code == 202
    response = await vigil.client.post("/v1/notifications?deployment=other", json=notes[2])
    assert response.json() == {"errors": {"params": {"deployment": ["at most 1 deployments can exist"]}}}
    big = {**notes[2], "payload": {"blob": "x" * 5000}}
    assert (await vigil.client.post("/v1/notifications?deployment=d", json=big)).status_code == 413


async def test_roles(vigil: Vigil) -> None:
    body = note("compute.instance.update", "10:00:00", instance=A)
    viewer = await vigil.token(Role.VIEWER)
    assert (await vigil.as_token(viewer).post("/v1/notifications?deployment=d", json=body)).status_code == 403
    recorder = await vigil.token(Role.RECORDER)
    assert (await vigil.as_token(recorder).post("/v1/notifications?deployment=d", json=body)).status_code == 202
    assert (await vigil.as_token(None).post("/v1/notifications?deployment=d", json=body)).status_code == 401

