"""End-to-end fixtures: `vigil serve` as a real subprocess on a free port with its own data dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TOKEN = "e2e-admin-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {**os.environ, "VIGIL_ADMIN_TOKEN": TOKEN, "VIGIL_DATA_DIR": str(data_dir),
                    "VIGIL_PORT": str(self.port),
                    # Several servers run at once: log listeners take ports the OS picks.
                    "VIGIL_LISTENERS": "ephemeral", **env}
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ServerProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--log-level", "warning"],
                                     env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("listening on http://"):
                return self
        raise RuntimeError("vigil serve did not start:\n" + "".join(self.output))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(TOKEN, ""), timeout=30)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    started: list[ServerProcess] = []

    def make(data_dir: Path | None = None, **env: str) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / f"data-{len(started)}", **env)
        started.append(server)
        return server

    yield make
    for server in started:
        if server.proc and server.proc.poll() is None:
            server.stop()


@pytest.fixture
def server(server_factory) -> ServerProcess:
    return server_factory().start()
