"""Akkeris log sessions: create (with Akkeris's 422s), then stream from the unauthenticated, single-use,
expiring URL over a real HTTP server."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.conftest import StartVigil, Vigil
from tests.logs.conftest import LiveServer, eventually, post_lines
from vigil.auth.roles import Role
from vigil.logs.sessions import LINES_NOT_A_NUMBER, LINES_TOO_LARGE

AKKERIS_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ \S+: .*")


async def session(client: httpx.AsyncClient, path: str, **body: object) -> str:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()["logplex_url"]


async def read_lines(url: str, n: int) -> list[str]:
    """Open the URL without credentials and read n lines."""
    out: list[str] = []
    async with httpx.AsyncClient(timeout=10) as anon, anon.stream("GET", url) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/plain; charset=utf-8"
        async for text in resp.aiter_lines():
            out.append(text)
            if len(out) == n:
                break
    return out


async def test_create_answers_like_akkeris(vigil: Vigil) -> None:
    await post_lines(vigil.client, {"app": "web-space", "message": "x"})
    r = await vigil.client.post("/apps/web-space/log-sessions", json={"lines": 10, "tail": True})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"created_at", "id", "logplex_url", "updated_at"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["created_at"])
    assert body["created_at"] == body["updated_at"]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["id"])
    match = re.fullmatch(r"http://vigil\.test/apps/web-space/log-sessions/([A-Za-z0-9_-]+)", body["logplex_url"])
    assert match and len(match.group(1)) == 43  # token_urlsafe(32): 256 random bits
    other = (await vigil.client.post("/apps/web-space/log-sessions", json={})).json()
    assert other["logplex_url"] != body["logplex_url"] and other["id"] != body["id"]


async def test_public_url_sets_the_base_of_session_urls(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(public_url="https://logs.example.com/")
    await post_lines(vigil.client, {"app": "pub", "message": "x"})
    url = await session(vigil.client, "/apps/pub/log-sessions")
    assert url.startswith("https://logs.example.com/apps/pub/log-sessions/")


@pytest.mark.parametrize(("lines", "message"), [
    (0, LINES_NOT_A_NUMBER), (-3, LINES_NOT_A_NUMBER), (1.5, LINES_NOT_A_NUMBER), ("10", LINES_NOT_A_NUMBER),
    (True, LINES_NOT_A_NUMBER), (251, LINES_TOO_LARGE), (10**6, LINES_TOO_LARGE),
])
async def test_bad_lines_is_422_with_the_akkeris_message(vigil: Vigil, lines: object, message: str) -> None:
    await post_lines(vigil.client, {"app": "lines", "message": "x"})
    r = await vigil.client.post("/apps/lines/log-sessions", json={"lines": lines})
    assert r.status_code == 422
    assert r.json() == {"errors": {"params": {"lines": [message]}}}
    assert await vigil.services.logs.sessions.pending() == 0


async def test_bad_tail_and_bad_bodies(vigil: Vigil) -> None:
    await post_lines(vigil.client, {"app": "tails", "message": "x"})
    r = await vigil.client.post("/apps/tails/log-sessions", json={"tail": "yes"})
    assert r.status_code == 422 and "tail" in r.json()["errors"]["params"]
    r = await vigil.client.post("/apps/tails/log-sessions", content=b"{nope",
                                headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await vigil.client.post("/apps/tails/log-sessions", json=[1, 2])
    assert r.status_code == 400
    assert (await vigil.client.post("/apps/tails/log-sessions", json={"lines": 250})).status_code == 201
    assert (await vigil.client.post("/apps/tails/log-sessions", json={"lines": 1.0})).status_code == 201


async def test_unknown_apps_and_sites_are_404(vigil: Vigil) -> None:
    r = await vigil.client.post("/apps/nobody/log-sessions", json={})
    assert r.status_code == 404
    assert r.json() == {"errors": {"request": ["The specified application nobody does not exist."]}}
    assert (await vigil.client.post("/apps/Bad_Name/log-sessions", json={})).status_code == 404
    assert (await vigil.client.post("/sites/www.nowhere.com/log-sessions", json={})).status_code == 404


async def test_creating_needs_read_access(vigil: Vigil) -> None:
    await post_lines(vigil.client, {"app": "acl", "message": "x"})
    viewer = vigil.as_token(await vigil.token(Role.VIEWER))
    recorder = vigil.as_token(await vigil.token(Role.RECORDER))
    assert (await viewer.post("/apps/acl/log-sessions", json={})).status_code == 201
    assert (await recorder.post("/apps/acl/log-sessions", json={})).status_code == 403
    assert (await vigil.as_token(None).post("/apps/acl/log-sessions", json={})).status_code == 401


async def test_the_url_streams_the_newest_lines_once(vigil: Vigil, live) -> None:  # type: ignore[no-untyped-def]
    server: LiveServer = await live(vigil)
    async with server.client() as client:
        await post_lines(client, *({"app": "shop-prod", "message": f"line {i}", "instance": "web.1",
                                    "time": 1_700_000_000 + i} for i in range(5)))
        await post_lines(client, {"app": "shop-prod", "message": "  padded  ", "source": "akkeris/router",
                                  "time": 1_700_000_010})
        url = await session(client, "/apps/shop-prod/log-sessions", lines=3)
    assert url.startswith(server.url)
    async with httpx.AsyncClient(timeout=10) as anon:
        r = await anon.get(url)  # no credentials
        assert r.status_code == 200
        assert r.text == ("2023-11-14T22:13:23Z shop-prod app[web.1]: line 3\n"
                          "2023-11-14T22:13:24Z shop-prod app[web.1]: line 4\n"
                          "2023-11-14T22:13:30Z shop-prod akkeris/router: padded\n")
        again = await anon.get(url)
        assert again.status_code == 404  # single use
        assert (await anon.get(server.url + "/apps/shop-prod/log-sessions/not-a-session")).status_code == 404


async def test_a_session_url_only_works_for_its_app(vigil: Vigil, live) -> None:  # type: ignore[no-untyped-def]
    server: LiveServer = await live(vigil)
    async with server.client() as client:
        await post_lines(client, {"app": "mine", "message": "secret"}, {"app": "theirs", "message": "x"})
        url = await session(client, "/apps/mine/log-sessions")
    async with httpx.AsyncClient(timeout=10) as anon:
        assert (await anon.get(url.replace("/apps/mine/", "/apps/theirs/"))).status_code == 404
        assert (await anon.get(url)).text.endswith("mine app: secret\n")  # still unused, so it works


async def test_an_unused_url_expires(start_vigil: StartVigil, live) -> None:  # type: ignore[no-untyped-def]
    vigil = await start_vigil(log_session_ttl=1)
    server: LiveServer = await live(vigil)
    async with server.client() as client:
        await post_lines(client, {"app": "exp", "message": "x"})
        url = await session(client, "/apps/exp/log-sessions")
    await asyncio.sleep(1.1)
    async with httpx.AsyncClient(timeout=10) as anon:
        assert (await anon.get(url)).status_code == 404


async def test_tail_streams_new_lines_as_they_come(vigil: Vigil, live) -> None:  # type: ignore[no-untyped-def]
    server: LiveServer = await live(vigil)
    async with server.client() as client:
        await post_lines(client, {"app": "live", "message": "old"})
        url = await session(client, "/apps/live/log-sessions", lines=1, tail=True)
        reader = asyncio.create_task(read_lines(url, 3))
        await eventually(lambda: "live" in vigil.services.logs.pipeline.feeds.by_app)
        await post_lines(client, {"app": "live", "message": "new 1", "stream": "stderr"})
        await post_lines(client, {"app": "other", "message": "not mine"})
        await post_lines(client, {"app": "live", "message": "new 2"})
        got = await asyncio.wait_for(reader, 10)
    assert [line.split(": ", 1)[1] for line in got] == ["old", "new 1", "new 2"]
    assert all(AKKERIS_LINE.fullmatch(line) for line in got)
    # The reader went away: its feed is gone.
    await eventually(lambda: "live" not in vigil.services.logs.pipeline.feeds.by_app)
    assert vigil.services.logs.readers.active == 0


async def test_site_sessions_merge_their_apps(vigil: Vigil, live) -> None:  # type: ignore[no-untyped-def]
    server: LiveServer = await live(vigil)
    async with server.client() as client:
        assert (await client.put("/sites/www.example.com", json={"apps": ["api", "ui"]})).status_code == 200
        await post_lines(client, {"app": "api", "message": "a1", "time": 1_700_000_001},
                         {"app": "ui", "message": "u1", "time": 1_700_000_002},
                         {"app": "other", "message": "o1", "time": 1_700_000_003},
                         {"app": "api", "message": "a2", "time": 1_700_000_004})
        url = await session(client, "/sites/www.example.com/log-sessions", lines=3, tail=True)
        assert "/sites/www.example.com/log-sessions/" in url
        reader = asyncio.create_task(read_lines(url, 4))
        await eventually(lambda: "ui" in vigil.services.logs.pipeline.feeds.by_app)
        await post_lines(client, {"app": "ui", "message": "u2"})
        got = await asyncio.wait_for(reader, 10)
    assert [line.split(" ", 2)[1:] for line in got] == [
        ["api", "app: a1"], ["ui", "app: u1"], ["api", "app: a2"], ["ui", "app: u2"]]


async def test_unopened_sessions_are_bounded(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(log_sessions_max=2)
    await post_lines(vigil.client, {"app": "many", "message": "x"})
    for _ in range(2):
        assert (await vigil.client.post("/apps/many/log-sessions", json={})).status_code == 201
    r = await vigil.client.post("/apps/many/log-sessions", json={})
    assert r.status_code == 503 and r.json()["errors"]["system"]


async def test_streaming_readers_are_bounded(start_vigil: StartVigil, live) -> None:  # type: ignore[no-untyped-def]
    vigil = await start_vigil(log_tails_max=1)
    server: LiveServer = await live(vigil)
    async with server.client() as client:
        await post_lines(client, {"app": "busy", "message": "x"})
        first = await session(client, "/apps/busy/log-sessions", tail=True)
        second = await session(client, "/apps/busy/log-sessions", tail=True)
        reader = asyncio.create_task(read_lines(first, 2))
        await eventually(lambda: vigil.services.logs.readers.active == 1)
        async with httpx.AsyncClient(timeout=10) as anon:
            r = await anon.get(second)
            assert r.status_code == 503
        await post_lines(client, {"app": "busy", "message": "y"})
        assert len(await asyncio.wait_for(reader, 10)) == 2
    await eventually(lambda: vigil.services.logs.readers.active == 0)

