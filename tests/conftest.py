"""Shared fixtures: an in-process server on the real engines (chDB + SQLite), and token helpers.

chDB opens one data path per process, so in-process tests share one chDB directory and each test
gets its own database in it; end-to-end tests (tests/e2e) run `vigil serve` as a subprocess.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.auth.roles import Role
from vigil.config import Settings
from vigil.server import build_app
from vigil.services import Services
from vigil.storage.telemetry import ChdbTelemetry, close_engine

ADMIN = "test-admin-token-0123456789"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # As `vigil serve` does: left open, chDB's teardown at interpreter exit races its own threads
    # and can kill the test process with SIGSEGV after every test passed (docs/wal.md).
    close_engine()


class Vigil:
    """An in-process server and clients for it."""

    def __init__(self, services: Services, client: httpx.AsyncClient) -> None:
        self.services = services
        self.client = client

    def as_token(self, token: str | None) -> httpx.AsyncClient:
        auth = (token, "") if token is not None else None
        return httpx.AsyncClient(transport=self.client._transport, base_url="http://vigil.test", auth=auth)

    async def token(self, role: Role, *, active: bool = True, environment: str | None = None) -> str:
        _, secret = await self.services.tokens.create(name=f"{role.value} token", role=role, active=active,
                                                      environment=environment)
        return secret

    async def post_measurements(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await self.client.post("/v1/measurements", json=payload, **kwargs)


StartVigil = Callable[..., Any]


@pytest.fixture
async def start_vigil(chdb_path: Path, tmp_path: Path) -> AsyncIterator[StartVigil]:
    started: list[tuple[Services, httpx.AsyncClient]] = []

    async def start(**overrides: Any) -> Vigil:
        settings = replace(Settings(data_dir=tmp_path / f"data-{len(started)}", admin_token=ADMIN), **overrides)
        telemetry = ChdbTelemetry(chdb_path, database=f"t_{uuid.uuid4().hex}")
        services = Services(settings, telemetry=telemetry)
        app = build_app(services)
        await services.start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                   auth=(ADMIN, ""))
        started.append((services, client))
        return Vigil(services, client)

    yield start
    for services, client in started:
        await client.aclose()
        await services.close()
        await services.telemetry.execute(f"DROP DATABASE IF EXISTS {services.telemetry.database}")


@pytest.fixture
async def vigil(start_vigil: StartVigil) -> Vigil:
    return await start_vigil()


def _postgres_bin(name: str) -> str | None:
    import glob
    import shutil

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """A real PostgreSQL server on a free loopback port, for the scale-out metadata engine."""
    import socket
    import subprocess

    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        if in_ci():
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    import shutil
    import tempfile

    # Not under pytest's temporary directory: that one is private to root, and the server runs as
    # the `postgres` user.
    base = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # PostgreSQL refuses to run as root: run it as the `postgres` system user when we are root.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(base, "postgres")
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "vigil", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "start", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"],
                   check=True, capture_output=True)
    yield f"postgresql+asyncpg://vigil@127.0.0.1:{port}"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def postgres_url(postgres_server: str) -> str:
    """A fresh database on the server for one test."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(postgres_server.replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{postgres_server}/{name}"
