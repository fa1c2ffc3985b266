"""Fixtures for the log tests: a real HTTP server (uvicorn on a free port) around an in-process Vigil,
for the streaming endpoints (the ASGI test transport buffers whole responses), and helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import ADMIN, Vigil
from vigil.server import build_app


class LiveServer:
    def __init__(self, vigil: Vigil, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self.vigil = vigil
        self.server = server
        self.task = task
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = ADMIN) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, auth=(token, "") if token else None, timeout=10)


@pytest.fixture
async def live() -> AsyncIterator[Callable[[Vigil], Any]]:
    started: list[LiveServer] = []

    async def start(vigil: Vigil) -> LiveServer:
        config = uvicorn.Config(build_app(vigil.services), host="127.0.0.1", port=0, lifespan="off",
                                log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.01)
        live_server = LiveServer(vigil, server, task)
        started.append(live_server)
        return live_server

    yield start
    for s in started:
        await s.vigil.services.logs.stop_readers()
        s.server.should_exit = True
        await asyncio.wait_for(s.task, 30)


async def post_lines(client: httpx.AsyncClient, *lines: dict[str, Any]) -> None:
    r = await client.post("/v1/logs", json=list(lines))
    assert r.status_code == 204, r.text


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
