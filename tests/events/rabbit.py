"""A real RabbitMQ broker for tests: Debian's rabbitmq-server on free loopback ports, with its own node
name, data, config and port mapper (epmd), so that it clashes with nothing else on the machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import in_ci

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the script itself, not the wrapper that changes user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"vigiltest{self.port}@localhost"
        self.epmd: subprocess.Popen[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "rabbit.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                                               "loopback_users = none\n")
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "env.conf").write_text("")
        self.env = {**os.environ, "HOME": str(directory), "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(directory / "log"), "RABBITMQ_LOGS": str(directory / "log" / "rabbit.log"),
                    "RABBITMQ_CONFIG_FILE": str(directory / "rabbit"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
                    "RABBITMQ_CONF_ENV_FILE": str(directory / "env.conf"),
                    "RABBITMQ_PID_FILE": str(directory / "rabbit.pid"), "ERL_EPMD_PORT": str(self.epmd_port)}

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 90) -> Broker:
        if self.epmd is None:
            self.epmd = subprocess.Popen([shutil.which("epmd") or "epmd", "-port", str(self.epmd_port)],
                                         env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = open(self.dir / "server.out", "ab")  # noqa: SIM115 (the broker writes to it while it runs)
        self.proc = subprocess.Popen([str(SERVER)], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {(self.dir / 'server.out').read_text()[-3000:]}")
            if _listening(self.port):
                return self
            time.sleep(0.25)
        raise RuntimeError("rabbitmq-server did not start in time")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the broker (SIGKILL to its process group with `kill`, a clean shutdown otherwise)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # helpers the VM left behind
        deadline = time.monotonic() + 30
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self.stop()
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.terminate()
            self.epmd.wait(10)


@contextlib.contextmanager
def broker_or_skip(directory: Path) -> Iterator[Broker]:
    if not SERVER.exists() or shutil.which("epmd") is None:
        if in_ci():
            pytest.fail("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    broker = Broker(directory)
    try:
        yield broker.start()
    finally:
        broker.close()
