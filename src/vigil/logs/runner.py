"""`vigil run`: run a program, pass its output through unchanged, and ship every line to the server.

Collection must never hurt the program (Loggregator's first rule):
- The program's stdout and stderr are pipes that vigil reads as fast as the program writes and
  copies at once, byte for byte, to its own stdout and stderr. Shipping happens beside that and
  never delays a copy.
- Lines wait for the server in a bounded buffer (`buffer_lines`); when it is full the oldest go and
  are counted, and the server later receives Logplex's L10 notice saying how many and since when.
- A batch that cannot be sent (server down, 5xx, 429) is retried with exponential backoff (capped);
  shipping resumes by itself when the server is back. A batch the server refuses (other 4xx) is
  dropped, and vigil says so once on stderr (a bad token or app name will not fix itself).
- When the program exits, vigil makes one more attempt at once and waits at most `flush_timeout`
  seconds to ship what is left; a refused connection ends that at once. Then it exits with the
  program's exit code (128+N if a signal N ended it, as shells report it).

The program's CPU, memory and network use are reported too, as measurements every 10 s
(`appmetrics/process.py`, the Akkeris app metrics); `--no-metrics` turns that off.

Signals: Ctrl-C reaches the program directly from the terminal (same process group), so vigil
ignores SIGINT rather than deliver it twice; SIGTERM, SIGHUP and SIGQUIT sent to vigil are passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx

from vigil.appmetrics.process import ProcessReporter
from vigil.broker.drops import Drops
from vigil.logs.logplex import overflow_message
from vigil.logs.model import STDERR, STDOUT

MAX_BACKOFF = 10.0


@dataclass
class RunOptions:
    app: str
    server: str
    token: str | None
    instance: str = "web.1"
    source: str = "app"
    buffer_lines: int = 10_000
    batch_lines: int = 1_000
    max_line_bytes: int = 64 * 1024
    flush_timeout: float = 2.0
    metrics: bool = True  # also report the program's CPU, memory and network (appmetrics/process.py)


class Shipper:
    """Sends buffered lines to POST /v1/logs in batches, from one task."""

    def __init__(self, options: RunOptions, client: httpx.AsyncClient) -> None:
        self.options = options
        self.client = client
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # set by close(): cuts a backoff pause short for one last attempt
        self._task: asyncio.Task[None] | None = None
        self.healthy = True  # the last attempt reached the server (or none was made yet)
        self.shipped = 0
        self.drops = Drops()  # lost to a full buffer
        self.refused = 0  # lost to a 4xx answer
        self._warned = False

    def add(self, stream: str, message: str) -> None:
        queue = self._queue
        queue.append({"app": self.options.app, "source": self.options.source, "instance": self.options.instance,
                      "stream": stream, "time": time.time(), "message": message})
        if len(queue) > self.options.buffer_lines:
            queue.popleft()
            self.drops.add(1)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def dropped(self) -> int:
        return self.drops.total

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def _next_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        if self.drops.pending:
            batch.append({"app": self.options.app, "source": "vigil", "instance": "run", "stream": STDOUT,
                          "time": time.time(), "message": overflow_message(*self.drops.take())})
        queue = self._queue
        while queue and len(batch) < self.options.batch_lines:
            batch.append(queue.popleft())
        return batch

    async def _run(self) -> None:
        backoff = 0.25
        batch: list[dict[str, Any]] = []
        while True:
            if not batch:
                if not self._queue and not self.drops.pending:
                    if self._stop.is_set():
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = self._next_batch()
            outcome = await self._send(batch)
            if outcome == "retry":
                self.healthy = False
                if self._stop.is_set():
                    return  # the program has ended and the server is away: give up, do not hold it up
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self.healthy = True
            backoff = 0.25
            batch = []

    async def _send(self, batch: list[dict[str, Any]]) -> str:
        try:
            r = await self.client.post("/v1/logs", json=batch)
        except httpx.HTTPError:
            return "retry"
        if r.status_code < 300:
            self.shipped += len(batch)
            return "ok"
        if r.status_code == 429 or r.status_code >= 500:
            return "retry"
        self.refused += len(batch)
        if not self._warned:
            self._warned = True
            print(f"vigil: the server refused the log lines ({r.status_code}): {r.text[:200]}", file=sys.stderr,
                  flush=True)
        return "ok"

    async def close(self, wait: float) -> None:
        """Ship what is left for up to `wait` seconds. A pause between retries ends at once for one
        last attempt; if that fails too (the server is away), vigil stops trying."""
        self._stop.set()
        self._wake.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), wait)
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _pump(pipe: asyncio.StreamReader, out: BinaryIO, stream: str, shipper: Shipper, max_line: int) -> None:
    """Copy the program's output to ours as it comes, and hand each complete line to the shipper."""
    partial = b""
    while True:
        data = await pipe.read(65536)
        if not data:
            break
        try:
            out.write(data)
            out.flush()
        except (BrokenPipeError, ValueError):
            pass  # our own output went away (e.g. `| head`): the program still runs, lines still ship
        chunk = partial + data if partial else data
        parts = chunk.split(b"\n")
        partial = parts.pop()
        for part in parts:
            shipper.add(stream, part.removesuffix(b"\r")[:max_line].decode("utf-8", "replace"))
        if len(partial) > max_line:
            shipper.add(stream, partial[:max_line].decode("utf-8", "replace"))
            partial = b""
    if partial:
        shipper.add(stream, partial.removesuffix(b"\r")[:max_line].decode("utf-8", "replace"))


async def run(command: list[str], options: RunOptions) -> int:
    loop = asyncio.get_running_loop()
    try:
        child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError:
        print(f"vigil: {command[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"vigil: {command[0]}: permission denied", file=sys.stderr)
        return 126

    def forward(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(sig)

    loop.add_signal_handler(signal.SIGINT, lambda: None)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        loop.add_signal_handler(sig, forward, sig)
    auth = (options.token, "") if options.token else None
    async with httpx.AsyncClient(base_url=options.server, auth=auth, timeout=5.0) as client:
        shipper = Shipper(options, client)
        shipper.start()

        async def send_metrics(body: dict[str, Any]) -> None:
            (await client.post("/v1/measurements", json=body)).raise_for_status()

        reporter = ProcessReporter(child.pid, options.app, options.instance, send_metrics)
        if options.metrics:
            reporter.start()
        assert child.stdout is not None and child.stderr is not None
        await asyncio.gather(_pump(child.stdout, sys.stdout.buffer, STDOUT, shipper, options.max_line_bytes),
                             _pump(child.stderr, sys.stderr.buffer, STDERR, shipper, options.max_line_bytes))
        code = await child.wait()
        await reporter.stop()
        await shipper.close(options.flush_timeout)
    return 128 - code if code < 0 else code
