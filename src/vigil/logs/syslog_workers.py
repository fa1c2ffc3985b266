"""The server's side of the syslog worker processes (`syslog_child.py`): start, hand over, hear, stop.

The listener accepts a connection and hands its socket to the worker serving the fewest
connections (`hand`); the worker serves it from then on. Each worker's reports arrive on a stream
socket and go to `on_report` in the event loop, one report per call.

A worker that dies is started again after `RESTART_DELAY` seconds (its connections are gone: their
senders reconnect, as syslog senders do); `restarts` counts it. `close` stops every worker and waits
for its last report and its exit (status 0), killing one that does not finish within `STOP_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Callable

import msgspec

from vigil.logs.syslog_child import ChildConfig
from vigil.logs.syslog_wire import STOP, Report, ReportReader, hand, tails_message

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
STOP_TIMEOUT = 10.0


class _Reports(asyncio.Protocol):
    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.reader = ReportReader()
        self.lost = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        try:
            reports = self.reader.feed(data)
        except (ValueError, msgspec.DecodeError):
            log.exception("syslog worker %d sent a broken report; stopping it", self.worker.index)
            self.worker.kill()
            return
        for report in reports:
            self.worker.pool.received(self.worker, report)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


class _Worker:
    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.ctrl: socket.socket | None = None
        self.reports: _Reports | None = None
        self.transport: asyncio.BaseTransport | None = None  # the report stream's
        self.connections: set[int] = set()
        self.task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.ctrl is not None

    async def spawn(self) -> None:
        loop = asyncio.get_running_loop()
        ctrl, child_ctrl = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        data, child_data = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            config = msgspec.structs.replace(self.pool.config, ctrl_fd=child_ctrl.fileno(),
                                             data_fd=child_data.fileno())
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vigil.logs.syslog_child", msgspec.json.encode(config).decode(),
                pass_fds=(child_ctrl.fileno(), child_data.fileno()), stdin=asyncio.subprocess.DEVNULL)
            self.transport, self.reports = await loop.connect_accepted_socket(lambda: _Reports(self), data)
        except BaseException:
            ctrl.close()
            data.close()
            raise
        finally:
            child_ctrl.close()
            child_data.close()
        ctrl.setblocking(False)
        self.ctrl = ctrl
        self.tell(self.pool.tails)

    def hand(self, sock: socket.socket, conn_id: int, host: str) -> bool:
        if self.ctrl is None:
            return False
        try:
            socket.send_fds(self.ctrl, [hand(conn_id, host)], [sock.fileno()])
        except OSError:  # the worker's queue is full or it is gone: refuse this connection
            return False
        self.connections.add(conn_id)
        return True

    def tell(self, msg: bytes) -> None:
        """Send a control message; if the worker's queue is full it is lost (the next change says it
        again, and until then the server renders what the worker did not)."""
        if self.ctrl is not None:
            with contextlib.suppress(OSError):
                self.ctrl.send(msg)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def watch(self) -> None:
        """Wait for the process to end; start it again unless the pool is closing."""
        while True:
            assert self.proc is not None and self.reports is not None
            code = await self.proc.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reports.lost.wait(), 1.0)  # its last reports
            self._gone()
            if self.pool.closing:
                if code:
                    log.warning("syslog worker %d exited with status %d", self.index, code)
                return
            log.warning("syslog worker %d exited with status %s; starting it again", self.index, code)
            self.pool.restarts += 1
            await asyncio.sleep(RESTART_DELAY)
            if self.pool.closing:
                return
            try:
                await self.spawn()
            except OSError:
                log.exception("could not start syslog worker %d", self.index)
                return

    def _gone(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None
        if self.connections:
            self.pool.lost(self.connections)
            self.connections = set()

    async def stop(self) -> None:
        if self.ctrl is not None:
            with contextlib.suppress(OSError):
                self.ctrl.send(STOP)
        proc = self.proc
        if proc is None or self.task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.task), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("syslog worker %d did not stop in time; killing it", self.index)
            self.kill()
            await self.task


class WorkerPool:
    def __init__(self, count: int, config: ChildConfig, on_report: Callable[[Report], None],
                 on_lost: Callable[[set[int]], None]) -> None:
        if count < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.config = config
        self.on_report = on_report
        self.on_lost = on_lost
        self.workers = [_Worker(self, i) for i in range(count)]
        self.closing = False
        self.restarts = 0
        self.tails = tails_message(frozenset())  # the last tails message, for workers started later

    async def start(self) -> None:
        try:
            for worker in self.workers:
                await worker.spawn()
                worker.task = asyncio.create_task(worker.watch(), name=f"syslog-worker-{worker.index}")
        except BaseException:
            await self.close()
            raise

    def hand(self, sock: socket.socket, conn_id: int, host: str) -> bool:
        """Give an accepted connection to the least busy worker; False if none could take it."""
        alive = [w for w in self.workers if w.alive]
        alive.sort(key=lambda w: len(w.connections))
        return any(w.hand(sock, conn_id, host) for w in alive)

    def set_tailed(self, apps: frozenset[str]) -> None:
        """Tell every worker which apps log sessions follow (it renders only their groups)."""
        self.tails = tails_message(apps)
        for worker in self.workers:
            worker.tell(self.tails)

    def received(self, worker: _Worker, report: Report) -> None:
        if report.closed:
            worker.connections.difference_update(report.closed)
        self.on_report(report)

    def lost(self, connections: set[int]) -> None:
        self.on_lost(connections)

    @property
    def pids(self) -> list[int]:
        """The running workers' process ids (those that can take connections)."""
        return [w.proc.pid for w in self.workers if w.alive and w.proc is not None and w.proc.returncode is None]

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(w.stop() for w in self.workers))
