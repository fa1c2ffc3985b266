"""The server's side of drain delivery: the delivery process (`child.py`) and the channel feeding it.

Why a process: formatting and writing a line costs a healthy drain ~3 µs, and every line of an app
goes to each of its drains; on the ingest event loop that halved ingest with three drains per app.
Here the event loop pays, per turn, one message of the lines of apps that have drains and one pipe
write, whatever the number of drains, and a dead drain costs it nothing.

- `tap` is the log pipeline's hook: it keeps the groups of lines of apps with drains as they come
  (`handoff.Outbox`: a syslog worker's group is noted as its report's bytes and rows, nothing is
  done per line) and schedules one `flush` per event-loop turn, which sends them as a `Lines`
  message; a turn beyond `drain_feed_lines` lines or `drain_message_bytes` of reports sends a
  message each time it reaches them.
- The channel (the process's stdin) holds at most `drain_channel_bytes` unwritten: beyond that a
  turn's lines are not sent but counted per app, and sent later as a `Gap`, so the drains of those
  apps count them as dropped and report them in the app's log (the L10 notice). Lines that come
  while the process is down are counted the same way.
- The process is restarted (with backoff) when it dies; the drains' counters carry on from where
  they were (`DrainManager` adds the old process's totals).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from vigil.config import Settings
from vigil.drains.backoff import Backoff
from vigil.drains.channel import (
    Deframer,
    Drains,
    DrainSpec,
    Encoder,
    Finish,
    Gap,
    Init,
    Log,
    Notice,
    Ready,
    Stats,
    StatsRequest,
    ToServer,
)
from vigil.drains.handoff import Outbox
from vigil.logs.model import LogLine, now_us

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # seconds for a new process to say it is ready
REFRESH_TIMEOUT = 5.0  # seconds for the counters asked for
STOP_MARGIN = 3.0  # seconds past the shutdown grace before the process is terminated


def drain_settings(settings: Settings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name.startswith("drain")}


class DeliveryProcess:
    def __init__(self, settings: Settings, on_notice: Callable[[list[LogLine]], None],
                 on_stats: Callable[[dict[str, list[int]]], None], on_exit: Callable[[], None]) -> None:
        self.settings = settings
        self.on_notice = on_notice
        self.on_stats = on_stats
        self.on_exit = on_exit
        self.apps: frozenset[str] = frozenset()  # apps with drains: the lines to send
        self.encoder = Encoder()
        self.proc: asyncio.subprocess.Process | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._outbox = Outbox(settings.drain_feed_lines, settings.drain_message_bytes)
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gaps: dict[str, list[int]] = {}  # app -> [lines not sent, since µs]
        self._specs: list[DrainSpec] = []
        self._config_due = False
        self._ready: asyncio.Event = asyncio.Event()
        self._seq = 0
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self.backoff = Backoff(settings.drain_backoff_min, max(settings.drain_backoff_max, 5.0))
        # Counters for /metrics.
        self.restarts = 0
        self.gapped = 0  # lines of drained apps not sent to the process (channel full, process down)

    # ------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the process (once; a server without drains never starts it)."""
        if self._loop is not None or self._closing:
            return
        self._loop = asyncio.get_running_loop()
        try:
            await self._spawn()
        except OSError:  # the watcher tries again, with backoff
            log.exception("cannot start the drain delivery process; retrying")
            self.proc = None
        self._tasks.append(asyncio.create_task(self._watch(), name="drain delivery watch"))

    async def _spawn(self) -> None:
        self._ready = asyncio.Event()
        self._tasks = [t for t in self._tasks if not t.done()]
        self.proc = proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vigil.drains.child", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        self._stdin = proc.stdin.transport  # type: ignore[assignment]
        self._tasks.append(asyncio.create_task(self._read(proc), name="drain delivery reader"))
        self._write(Init(drain_settings(self.settings), logging.getLogger().getEffectiveLevel()))
        self._config_due = True
        self.pump()
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await self._ready.wait()
        except TimeoutError:
            log.error("the drain delivery process did not start within %.0f s", START_TIMEOUT)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def _watch(self) -> None:
        while True:
            proc = self.proc
            if proc is not None:
                code = await proc.wait()
                if self._closing:
                    return
                log.error("the drain delivery process ended (status %s); restarting it", code)
                self.restarts += 1
                self._stdin = None
                self.on_exit()
                await asyncio.sleep(self.backoff.next())
            try:
                await self._spawn()
                self.backoff.reset()
            except OSError:
                log.exception("cannot start the drain delivery process; retrying")
                self.proc = None
                await asyncio.sleep(self.backoff.next())

    async def close(self, grace: float) -> None:
        self._closing = True
        self.flush()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            self._write(Finish(grace))
            try:
                async with asyncio.timeout(grace + STOP_MARGIN):
                    await proc.wait()
            except TimeoutError:
                log.error("the drain delivery process did not stop; terminating it")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._stdin is not None:
            self._stdin.close()

    # --------------------------------------------------------------------------------------- sending

    def _write(self, msg: Any, *, limited: bool = False) -> bool:
        if not self._room(limited=limited):
            return False
        assert self._stdin is not None
        self._stdin.write(self.encoder.frame(msg))
        return True

    def _room(self, *, limited: bool) -> bool:
        """Can a message be written now (`limited`: and is the channel under `drain_channel_bytes`)?"""
        out = self._stdin
        if out is None or out.is_closing():
            return False
        return not limited or out.get_write_buffer_size() <= self.settings.drain_channel_bytes

    def configure(self, specs: list[DrainSpec]) -> None:
        """Run exactly these drains from now on. Lines accepted before go out first, so a new drain
        starts with the next line."""
        self.flush()
        self._specs = specs
        self.apps = frozenset(app for spec in specs for app in spec.apps)
        self._config_due = True
        self.pump()

    def pump(self) -> bool:
        """Send what waits besides lines (the drains, gaps); False while the channel is full."""
        if self._config_due:
            if not self._write(Drains(self._specs), limited=True):
                return False
            self._config_due = False
        while self._gaps:
            app, (count, since) = next(iter(self._gaps.items()))
            if not self._write(Gap(app, count, since), limited=True):
                return False
            del self._gaps[app]
        return True

    def _gap(self, app: str, count: int) -> None:
        self.gapped += count
        gap = self._gaps.get(app)
        if gap is None:
            self._gaps[app] = [count, now_us()]
        else:
            gap[0] += count

    def tap(self, app: str, lines: Sequence[LogLine]) -> None:
        """The log pipeline's hook: called for every app's lines as they are accepted (a list, or
        `columns.ColumnLines` from the syslog workers: kept as it is, not read). Whenever the lines
        kept reach `drain_feed_lines` (or their reports `drain_message_bytes`) they go at once, as a
        message of their own: a busy turn makes several messages, each bounded, and loses nothing."""
        if app not in self.apps:
            return
        box = self._outbox
        left = len(lines)
        if box.count + left < box.max_lines:  # (the usual case: the group fits)
            if box.add(app, lines, 0, left):
                self._send()
        else:
            start = 0
            while left:
                rows = min(left, box.room())
                if box.add(app, lines, start, rows):
                    self._send()
                start += rows
                left -= rows
        if not self._scheduled and box.groups:
            self._scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Send the lines kept this turn."""
        self._scheduled = False
        self._send()

    def _send(self) -> None:
        box = self._outbox
        if not box.groups:
            return
        # (The room is checked first: lines that cannot be sent are not encoded either.)
        if self.pump() and self._room(limited=True) and self._write(box.message()):
            return
        for app, _, _, rows, _, _ in box.take():
            self._gap(app, rows)

    @property
    def channel_bytes(self) -> int:
        out = self._stdin
        return out.get_write_buffer_size() if out is not None and not out.is_closing() else 0

    async def refresh(self) -> bool:
        """Ask for every drain's counters now and wait for them (False if no answer came)."""
        if not self.alive:
            return False
        self.flush()  # the answer then counts every line accepted before the question
        self.pump()  # (and every line counted as not sent, if the channel has room for the gaps now)
        self._seq += 1
        seq = self._seq
        fut = asyncio.get_running_loop().create_future()
        self._waiting[seq] = fut
        try:
            if not self._write(StatsRequest(seq)):
                return False
            async with asyncio.timeout(REFRESH_TIMEOUT):
                await fut
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting.pop(seq, None)

    # ------------------------------------------------------------------------------------- receiving

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        reader = proc.stdout
        assert reader is not None
        deframer = Deframer(ToServer)
        try:
            while data := await reader.read(1 << 16):
                for msg in deframer.feed(data):
                    self._handle(msg)
        except Exception:  # a broken channel: the process is killed and restarted by the watcher
            log.exception("the drain delivery channel broke")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    def _handle(self, msg: Any) -> None:
        if isinstance(msg, Notice):
            self.on_notice(msg.lines)
        elif isinstance(msg, Stats):
            self.on_stats(msg.drains)
            fut = self._waiting.get(msg.seq)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif isinstance(msg, Log):
            logging.getLogger(msg.name).log(msg.level, "%s", msg.text)
        elif isinstance(msg, Ready):
            self._ready.set()

