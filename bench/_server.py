"""Shared by the benchmarks: start `vigil serve` on a fresh data dir, read its CPU time and memory."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

TOKEN = "bench-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """A process's CPU seconds so far (user + system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(self, **env: str) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="vigil-bench-")
        self.port = free_port()
        self.env = {**os.environ, "VIGIL_ADMIN_TOKEN": TOKEN, "VIGIL_DATA_DIR": self.dir.name,
                    "VIGIL_PORT": str(self.port), "VIGIL_LISTENERS": "ephemeral", **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.tail: deque[bytes] = deque(maxlen=1_000)  # the server's last log lines

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--log-level", "warning"],
                                     env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        deadline = time.time() + 60
        for line in self.proc.stdout:
            if b"listening on" in line:
                # Its log from now on is kept (the last lines) by a thread: a pipe nobody reads fills
                # up, and a server writing its log into a full pipe stops (a long drains run did).
                threading.Thread(target=self.tail.extend, args=(self.proc.stdout,), daemon=True).start()
                return
            if time.time() > deadline:
                break
        raise RuntimeError("server did not start")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def peak_rss_mib(self) -> float:
        assert self.proc is not None
        return peak_rss_mib(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        self.dir.cleanup()


async def post_all(url: str, path: str, bodies: list[bytes], connections: int, token: str = TOKEN,
                   content_type: str = "application/json") -> list[float]:
    """POST every body over `connections` keep-alive connections; returns each request's latency.

    A raw HTTP/1.1 client: a full client library would spend more CPU than the server under test
    on this 2-core machine and blur the figures.
    """
    import base64

    host, port = url.removeprefix("http://").split(":")
    auth = base64.b64encode(f"{token}:".encode()).decode()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while not queue.empty():
            body = queue.get_nowait()
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(head + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status.startswith((b"HTTP/1.1 2",)):
                raise RuntimeError(f"{status!r}")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies
