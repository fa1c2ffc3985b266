"""POST /v1/logs: JSON lines and application/logplex-1 bodies, with their bad inputs."""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.conftest import StartVigil, Vigil
from vigil.auth.roles import Role
from vigil.logs.framing import octet_frames
from vigil.logs.model import STDERR, STDOUT

LOGPLEX = {"Content-Type": "application/logplex-1"}


async def stored(vigil: Vigil, app: str) -> list[tuple[str, str, str, str, int, str]]:
    lines = await vigil.services.logs.store.read([app], limit=1000)
    return [(x.source, x.instance, x.stream, x.message, x.timestamp, x.host) for x in lines]


async def test_json_lines_with_every_field_and_defaults(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/logs", json=[
        {"app": "shop", "source": "router", "instance": "web.2", "stream": "stderr", "time": 1_700_000_000.25,
         "message": "GET /", "host": "h1"},
        {"app": "shop", "message": "plain", "time": "2023-11-14T22:13:21.5Z"},
    ])
    assert r.status_code == 204
    assert vigil.services.logs.ring.count("shop") == 2
    ring = vigil.services.logs.ring.last("shop", 2)
    assert (ring[0].source, ring[0].instance, ring[0].stream, ring[0].timestamp, ring[0].host) == \
        ("router", "web.2", STDERR, 1_700_000_000_250_000, "h1")
    assert (ring[1].source, ring[1].instance, ring[1].stream, ring[1].timestamp) == \
        ("app", "", STDOUT, 1_700_000_001_500_000)


async def test_one_object_without_time_is_stamped_on_receipt(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/logs", json={"app": "one", "message": "hello\n"})
    assert r.status_code == 204
    (got,) = await stored(vigil, "one")
    assert got[:4] == ("app", "", STDOUT, "hello\n")


@pytest.mark.parametrize(("body", "param"), [
    ([{"app": "Bad_Name", "message": "x"}], "[0].app"),
    ([{"app": "ok", "message": "x"}, {"app": "ok", "message": "y", "stream": "stdin"}], "[1].stream"),
    ([{"app": "ok", "message": "x", "time": "yesterday"}], "[0].time"),
    ([{"app": "ok", "message": "x", "time": 1_700_000_000_000}], "[0].time"),  # milliseconds
])
async def test_a_bad_line_refuses_the_whole_body(vigil: Vigil, body: list[dict], param: str) -> None:
    r = await vigil.client.post("/v1/logs", json=body)
    assert r.status_code == 400
    assert param in r.json()["errors"]["params"]
    assert await stored(vigil, "ok") == [] and vigil.services.logs.ring.count("ok") == 0


@pytest.mark.parametrize("body", [b"{not json", b'{"app": "x"}', b'[{"app": "x", "message": 5}]', b"42"])
async def test_malformed_json_is_a_400(vigil: Vigil, body: bytes) -> None:
    r = await vigil.client.post("/v1/logs", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errors"]["request"]


async def test_other_content_types_are_refused(vigil: Vigil) -> None:
    r = await vigil.client.post("/v1/logs", content=b"hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


async def test_roles_and_credentials(vigil: Vigil) -> None:
    body = {"app": "roles", "message": "x"}
    recorder = vigil.as_token(await vigil.token(Role.RECORDER))
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    assert (await recorder.post("/v1/logs", json=body)).status_code == 204
    assert (await viewer.post("/v1/logs", json=body)).status_code == 403
    assert (await vigil.as_token(None).post("/v1/logs", json=body)).status_code == 401
    assert vigil.services.logs.ring.count("roles") == 1


async def test_bodies_over_the_limit_are_413_also_after_gunzip(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(max_body_bytes=1000)
    big = orjson.dumps([{"app": "big", "message": "x" * 2000}])
    r = await vigil.client.post("/v1/logs", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = await vigil.client.post("/v1/logs", content=gzip.compress(big),
                                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 413


async def test_long_messages_are_cut_to_the_line_limit(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(log_max_line_bytes=10)
    assert (await vigil.client.post("/v1/logs", json={"app": "cut", "message": "0123456789abcdef"})).status_code == 204
    assert vigil.services.logs.ring.last("cut", 1)[0].message == "0123456789"


def frame(app: str, msg: str, pri: int = 14, procid: str = "web.1") -> bytes:
    return f"<{pri}>1 2023-11-14T22:13:20.000001+00:00 {app} app {procid} - {msg}\n".encode()


async def test_logplex_frames_become_lines(vigil: Vigil) -> None:
    body = octet_frames([frame("lp", "first"), frame("lp", "second", pri=11, procid="web.2")])
    r = await vigil.client.post("/v1/logs", content=body, headers={**LOGPLEX, "Logplex-Msg-Count": "2"})
    assert r.status_code == 204
    lines = vigil.services.logs.ring.last("lp", 5)
    assert [(x.message, x.stream, x.instance, x.timestamp) for x in lines] == [
        ("first", STDOUT, "web.1", 1_700_000_000_000_001),
        ("second", STDERR, "web.2", 1_700_000_000_000_001)]


async def test_logplex_app_from_the_query_overrides_hostname(vigil: Vigil) -> None:
    body = octet_frames([frame("host", "drained")])  # Heroku HTTPS drains write the HOSTNAME "host"
    r = await vigil.client.post("/v1/logs?app=drained", content=body, headers=LOGPLEX)
    assert r.status_code == 204
    assert vigil.services.logs.ring.count("drained") == 1 and vigil.services.logs.ring.count("host") == 0
    r = await vigil.client.post("/v1/logs?app=Not_Valid", content=body, headers=LOGPLEX)
    assert r.status_code == 400 and "app" in r.json()["errors"]["params"]


async def test_logplex_count_mismatch_and_bad_framing_are_400(vigil: Vigil) -> None:
    body = octet_frames([frame("mm", "a"), frame("mm", "b")])
    r = await vigil.client.post("/v1/logs", content=body, headers={**LOGPLEX, "Logplex-Msg-Count": "3"})
    assert r.status_code == 400
    r = await vigil.client.post("/v1/logs", content=b"99 <14>1 short", headers=LOGPLEX)
    assert r.status_code == 400
    assert vigil.services.logs.ring.count("mm") == 0


async def test_logplex_malformed_frames_are_skipped_and_counted(vigil: Vigil) -> None:
    body = octet_frames([frame("mf", "good"), b"this is not syslog", frame("mf", "also good")])
    r = await vigil.client.post("/v1/logs", content=body, headers={**LOGPLEX, "Logplex-Msg-Count": "3"})
    assert r.status_code == 204
    assert [x.message for x in vigil.services.logs.ring.last("mf", 5)] == ["good", "also good"]
    assert vigil.services.logs.malformed == 1


async def test_a_retried_logplex_frame_id_is_stored_once(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(logplex_frame_ids=2)
    logs = vigil.services.logs

    async def send(frame_id: str, msg: str, count: str = "1") -> int:
        headers = {**LOGPLEX, "Logplex-Frame-Id": frame_id, "Logplex-Msg-Count": count}
        return (await vigil.client.post("/v1/logs", content=octet_frames([frame("dup", msg)]),
                                        headers=headers)).status_code

    assert await send("A", "one") == 204
    assert await send("A", "one again") == 204  # acknowledged, not stored
    assert [x.message for x in logs.ring.last("dup", 5)] == ["one"]
    assert await send("B", "bad", count="7") == 400  # refused: its id is not remembered
    assert await send("B", "two") == 204
    assert await send("C", "three") == 204  # the window holds 2 ids: A falls out
    assert await send("A", "four") == 204
    assert [x.message for x in logs.ring.last("dup", 5)] == ["one", "two", "three", "four"]
    assert len(logs.frame_ids) == 2


async def test_a_json_body_holds_a_bounded_number_of_lines(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(max_measurements_per_request=2)
    two = [{"app": "few", "message": "x"}] * 2
    assert (await vigil.client.post("/v1/logs", json=two)).status_code == 204
    r = await vigil.client.post("/v1/logs", json=[*two, {"app": "few", "message": "y"}])
    assert r.status_code == 400 and "at most 2 lines" in r.json()["errors"]["request"][0]
    assert vigil.services.logs.ring.count("few") == 2
