"""The log-cache read API (/api/v1/info, /read, /meta) and the RLP gateway stream (/v2/read)."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import orjson
import pytest

from tests.conftest import ADMIN, StartVigil, Vigil
from tests.logs.conftest import LiveServer, eventually, post_lines
from vigil.auth.roles import Role

T0 = int(time.time()) - 60  # a minute ago: inside the kept window
GO_ZERO_TIME = -6795364578871345152  # time.Time{}.UnixNano(), what `cf logs --recent` sends


async def seed(vigil: Vigil) -> None:
    await post_lines(vigil.client,
                     {"app": "cfapp", "source": "APP/PROC/WEB", "instance": "0", "message": "one", "time": T0 + 1},
                     {"app": "cfapp", "source": "RTR", "instance": "1", "message": "two", "time": T0 + 2,
                      "stream": "stderr"},
                     {"app": "cfapp", "source": "APP/PROC/WEB", "instance": "0", "message": "three ü", "time": T0 + 3},
                     {"app": "else", "message": "other app", "time": T0 + 2})


def payloads(body: dict) -> list[str]:
    return [base64.b64decode(e["log"]["payload"]).decode() for e in body["envelopes"]["batch"]]


async def test_info(vigil: Vigil) -> None:
    r = await vigil.client.get("/api/v1/info")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "3.0.0" and int(body["vm_uptime"]) >= 0


async def test_read_returns_envelopes_as_log_cache_does(vigil: Vigil) -> None:
    await seed(vigil)
    r = await vigil.client.get("/api/v1/read/cfapp")
    assert r.status_code == 200
    batch = r.json()["envelopes"]["batch"]
    assert batch[1] == {
        "timestamp": str((T0 + 2) * 10**9), "source_id": "cfapp", "instance_id": "1", "deprecated_tags": {},
        "tags": {"source_type": "RTR"}, "log": {"payload": base64.b64encode(b"two").decode(), "type": "ERR"}}
    assert payloads(r.json()) == ["one", "two", "three ü"]
    assert batch[0]["log"]["type"] == "OUT"


async def test_read_parameters(vigil: Vigil) -> None:
    await seed(vigil)
    c = vigil.client
    ns = 10**9

    async def read(**params: object) -> list[str]:
        r = await c.get("/api/v1/read/cfapp", params=params)
        assert r.status_code == 200, r.text
        return payloads(r.json())

    # cf logs --recent: from the beginning, newest first, logs only.
    assert await read(start_time=GO_ZERO_TIME, descending="true", limit=2, envelope_types="LOG") == \
        ["three ü", "two"]
    assert await read(start_time=(T0 + 2) * ns) == ["two", "three ü"]  # start is inclusive
    assert await read(start_time=(T0 + 1) * ns, end_time=(T0 + 3) * ns) == ["one", "two"]  # end is not
    assert await read(start_time=(T0 + 1) * ns + 1) == ["two", "three ü"]
    assert await read(limit=1) == ["one"]
    assert await read(limit=1000, descending="false") == ["one", "two", "three ü"]
    assert await read(envelope_types="COUNTER") == []
    assert await read(envelope_types=["GAUGE", "log"]) == ["one", "two", "three ü"]
    assert await read(start_time=(T0 + 3) * ns, end_time=(T0 + 1) * ns) == []
    assert payloads((await c.get("/api/v1/read/nobody")).json()) == []


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"start_time": "yesterday"}, {"end_time": "1.5"},
    {"envelope_types": "LOGS"}, {"descending": "maybe"},
])
async def test_bad_read_parameters_are_400(vigil: Vigil, params: dict) -> None:
    r = await vigil.client.get("/api/v1/read/cfapp", params=params)
    assert r.status_code == 400
    assert set(r.json()["errors"]["params"]) == {next(iter(params))}


async def test_meta_lists_each_source(vigil: Vigil) -> None:
    await seed(vigil)
    r = await vigil.client.get("/api/v1/meta")
    assert r.status_code == 200
    assert r.json()["meta"]["cfapp"] == {"count": "3", "oldestTimestamp": str((T0 + 1) * 10**9),
                                         "newestTimestamp": str((T0 + 3) * 10**9)}
    assert r.json()["meta"]["else"]["count"] == "1"


async def test_meta_is_bounded(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(log_read_max_apps=1)
    await seed(vigil)
    assert list((await vigil.client.get("/api/v1/meta")).json()["meta"]) == ["cfapp"]


async def test_reading_needs_read_rights(vigil: Vigil) -> None:
    recorder = vigil.as_token(await vigil.token(Role.RECORDER))
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    for path in ("/api/v1/info", "/api/v1/read/cfapp", "/api/v1/meta", "/v2/read?log"):
        assert (await recorder.get(path)).status_code == 403, path
        assert (await vigil.as_token(None).get(path)).status_code == 401, path
    assert (await viewer.get("/api/v1/read/cfapp")).status_code == 200


async def events(url: str, count: int, *, auth: tuple[str, str],
                 skip: tuple[str, ...] = ()) -> list[tuple[str, dict | str]]:
    """Read `count` server-sent events (except those named in `skip`): (event name, parsed data)."""
    out: list[tuple[str, dict | str]] = []
    name, data = "message", ""
    async with httpx.AsyncClient(timeout=10, auth=auth) as client, client.stream("GET", url) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                if name not in skip:
                    out.append((name, orjson.loads(data) if data.startswith("{") else data))
                name, data = "message", ""
                if len(out) == count:
                    break
    return out


async def test_v2_read_streams_new_log_envelopes(vigil: Vigil, live) -> None:  # type: ignore[no-untyped-def]
    server: LiveServer = await live(vigil)
    auth = (ADMIN, "")
    reader = asyncio.create_task(events(f"{server.url}/v2/read?log&source_id=sse1&source_id=sse2", 2, auth=auth))
    await eventually(lambda: vigil.services.broker.has_subscribers("logs:sse2"))
    async with server.client() as c:
        await post_lines(c, {"app": "sse1", "message": "hello", "source": "APP/PROC/WEB", "instance": "0"})
        await post_lines(c, {"app": "nope", "message": "not asked for"})
        await post_lines(c, {"app": "sse2", "message": "world", "stream": "stderr"})
    got = await asyncio.wait_for(reader, 10)
    assert [name for name, _ in got] == ["message", "message"]
    envelopes = [e for _, data in got for e in data["batch"]]  # type: ignore[index]
    assert [(e["source_id"], base64.b64decode(e["log"]["payload"]).decode(), e["log"]["type"]) for e in envelopes] \
        == [("sse1", "hello", "OUT"), ("sse2", "world", "ERR")]
    assert envelopes[0]["tags"] == {"source_type": "APP/PROC/WEB"} and envelopes[0]["instance_id"] == "0"


async def test_v2_read_without_source_gets_every_app_and_heartbeats(start_vigil: StartVigil,  # type: ignore[no-untyped-def]
                                                                    live) -> None:
    vigil = await start_vigil(log_sse_heartbeat=0.2)
    server: LiveServer = await live(vigil)
    auth = (ADMIN, "")
    got = await asyncio.wait_for(events(f"{server.url}/v2/read?log", 1, auth=auth), 10)
    assert got[0][0] == "heartbeat"
    await eventually(lambda: vigil.services.broker.subscriptions == 0)
    reader = asyncio.create_task(events(f"{server.url}/v2/read?log", 1, auth=auth, skip=("heartbeat",)))
    await eventually(lambda: vigil.services.broker.subscriptions == 1)
    async with server.client() as c:
        await post_lines(c, {"app": "anyapp", "message": "seen"})
    (name, data), = await asyncio.wait_for(reader, 10)
    assert name == "message" and data["batch"][0]["source_id"] == "anyapp"  # type: ignore[index]


async def test_v2_read_bad_requests(vigil: Vigil) -> None:
    r = await vigil.client.get("/v2/read?source_id=x")
    assert r.status_code == 400 and r.json()["errors"]["request"]
    r = await vigil.client.get("/v2/read?log&source_id=Bad_Name")
    assert r.status_code == 400 and "source_id" in r.json()["errors"]["params"]
