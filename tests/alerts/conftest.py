"""Alert test helpers: real HTTP and SMTP receivers on loopback, a movable clock, request helpers.

Slack, PagerDuty and the mail recipients cannot run here, so they are real servers the tests
start: an HTTP server (uvicorn + Starlette) that records every POST, and an SMTP server
(aiosmtpd) that keeps every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import ADMIN, StartVigil, Vigil
from vigil.config import Settings
from vigil.server import build_app
from vigil.services import Services
from vigil.storage.telemetry import ChdbTelemetry

FAST = {"alert_delivery_backoff": 0.05, "alert_delivery_timeout": 5.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    """An HTTP server that records POSTs; `statuses` are answered in turn, then 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self._queue: asyncio.Queue[Received] = asyncio.Queue()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def _handle(self, request: Request) -> Response:
        item = Received(request.url.path, dict(request.headers), await request.body())
        self.requests.append(item)
        self._queue.put_nowait(item)
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(b'{"status":"ok"}', status, media_type="application/json")

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> Receiver:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                                     lifespan="off", access_log=False))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def next(self, wait: float = 10.0) -> Received:
        return await asyncio.wait_for(self._queue.get(), wait)

    async def nothing_more(self, wait: float = 0.3) -> None:
        """Assert that no further request arrives within `wait` seconds."""
        await asyncio.sleep(wait)
        assert self._queue.empty(), [r.json() for r in self._queue._queue]  # type: ignore[attr-defined]


class _Keep:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        self.arrived.set()
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.handler = _Keep()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    async def message(self, index: int = 0, wait: float = 10.0) -> EmailMessage:
        deadline = time.monotonic() + wait
        # The SMTP server runs on its own thread: poll its list rather than share an asyncio event.
        while len(self.handler.messages) <= index:
            if time.monotonic() > deadline:
                raise TimeoutError("no mail arrived")
            await asyncio.sleep(0.02)
        return self.handler.messages[index]


class Clock:
    """The evaluator's clock, moved by hand (absent, duration and rearm tests)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture
async def alerting(start_vigil: StartVigil) -> Vigil:
    return await start_vigil(**FAST)


def engine(vigil: Vigil) -> Any:
    return vigil.services.alerts.engine


def use_clock(vigil: Vigil) -> Clock:
    clock = Clock()
    engine(vigil).clock = clock
    return clock


async def settle(vigil: Vigil) -> None:
    await engine(vigil).barrier()


async def advance(vigil: Vigil, clock: Clock, seconds: float) -> None:
    clock.now += seconds
    engine(vigil).wake()
    await settle(vigil)


async def post(vigil: Vigil, metric: str, value: float | None = None, tags: dict[str, str] | None = None,
               at: int | None = None, **summary: float) -> None:
    """One measurement (a plain value, or summary fields such as count/sum), then wait for its evaluation."""
    measurement: dict[str, Any] = {"name": metric, "tags": tags or {"host": "a"},
                                   "time": at if at is not None else int(time.time()), **summary}
    if value is not None:
        measurement["value"] = value
    r = await vigil.post_measurements({"measurements": [measurement]})
    assert r.status_code == 202, r.text
    await settle(vigil)


async def service(vigil: Vigil, kind: str, settings: dict[str, Any], title: str = "svc") -> int:
    r = await vigil.client.post("/v1/services", json={"type": kind, "title": title, "settings": settings})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def create_alert(vigil: Vigil, name: str, conditions: list[dict[str, Any]], services: list[int] | None = None,
                       **fields: Any) -> dict[str, Any]:
    r = await vigil.client.post("/v1/alerts", json={"name": name, "conditions": conditions,
                                                    "services": services or [], **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def status(vigil: Vigil, alert_id: int | str) -> dict[str, Any]:
    r = await vigil.client.get(f"/v1/alerts/{alert_id}/status")
    assert r.status_code == 200, r.text
    return r.json()


class Restartable:
    """A server that can be stopped and started again on the same data dir and telemetry database."""

    def __init__(self, chdb_path: Path, data_dir: Path, **overrides: Any) -> None:
        self.chdb_path = chdb_path
        self.database = f"t_{uuid.uuid4().hex}"
        self.settings = replace(Settings(data_dir=data_dir, admin_token=ADMIN), **FAST, **overrides)
        self.vigil: Vigil | None = None

    async def start(self) -> Vigil:
        services = Services(self.settings, telemetry=ChdbTelemetry(self.chdb_path, database=self.database))
        await services.start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(services)),
                                   base_url="http://vigil.test", auth=(ADMIN, ""))
        self.vigil = Vigil(services, client)
        return self.vigil

    async def stop(self) -> None:
        if self.vigil is not None:
            await self.vigil.client.aclose()
            await self.vigil.services.close()
            self.vigil = None


@pytest.fixture
async def restartable(chdb_path: Path, tmp_path: Path) -> AsyncIterator[Restartable]:
    server = Restartable(chdb_path, tmp_path / "restartable")
    yield server
    await server.stop()
    with contextlib.suppress(Exception):
        await ChdbTelemetry(chdb_path, database=server.database).execute(f"DROP DATABASE IF EXISTS {server.database}")
