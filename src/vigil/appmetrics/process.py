"""App metrics of a plain process (what `vigil run` reports for the program it runs), read from
/proc (Linux) every 10 s and sent as measurements with the cAdvisor names, tagged `app` and
`instance`, so that GET /apps/{app}/metrics treats them like a container's.

What each name means for a process tree (the program and its descendants):
- cpu_{user,system,usage}_seconds_total: CPU time, including children already waited for;
- fs_io_time_seconds_total: time spent waiting for block I/O (delay accounting);
- memory_rss: anonymous resident memory; memory_cache: file-backed and shared resident memory;
  memory_usage_bytes and memory_working_set_bytes: the whole resident set;
- network_*: the counters of the program's network namespace, loopback left out — the host's
  unless the program runs in a namespace of its own (as a container does);
- fs_usage_bytes is not reported: a process has no file system of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
INTERVAL = 10.0
MAX_PROCESSES = 10_000  # a process tree larger than this is read in part
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_KB = 1024


def process_tree(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """The process and its descendants (through each thread's `children` list)."""
    seen: list[int] = []
    queue = [pid]
    while queue and len(seen) < MAX_PROCESSES:
        current = queue.pop()
        if current in seen:
            continue
        seen.append(current)
        with contextlib.suppress(OSError):
            for task in (proc / str(current) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    queue.extend(int(c) for c in (task / "children").read_text().split())
    return seen


def _stat(pid: int, proc: Path) -> tuple[float, float, float] | None:
    """(user, system, block-I/O wait) seconds of a process, its waited-for children included."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    # Fields 14-17 (1-based): utime, stime, cutime, cstime; 42: delayacct_blkio_ticks.
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    blkio = int(fields[39]) if len(fields) > 39 else 0
    return (utime + cutime) / _TICKS, (stime + cstime) / _TICKS, blkio / _TICKS


def _status_kb(pid: int, proc: Path) -> dict[str, int]:
    out = {}
    with contextlib.suppress(OSError):
        for line in (proc / str(pid) / "status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(rest.split()[0])
    return out


def _network(pid: int, proc: Path) -> tuple[int, int, int, int]:
    """Received bytes and errors, transmitted bytes and errors of the process' network namespace."""
    rx = rx_err = tx = tx_err = 0
    with contextlib.suppress(OSError):
        for line in (proc / str(pid) / "net" / "dev").read_text().splitlines()[2:]:
            name, _, data = line.partition(":")
            if name.strip() == "lo":
                continue
            f = data.split()
            rx, rx_err, tx, tx_err = rx + int(f[0]), rx_err + int(f[2]), tx + int(f[8]), tx_err + int(f[10])
    return rx, rx_err, tx, tx_err


def sample(pid: int, proc: Path = Path("/proc")) -> dict[str, float] | None:
    """The metrics of the process tree under `pid`, by cAdvisor name; None once the process is gone."""
    if _stat(pid, proc) is None:
        return None
    user = system = blkio = 0.0
    kb = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0, "RssShmem": 0}
    for member in process_tree(pid, proc):
        cpu = _stat(member, proc)
        if cpu is None:
            continue
        user, system, blkio = user + cpu[0], system + cpu[1], blkio + cpu[2]
        for key, value in _status_kb(member, proc).items():
            kb[key] += value
    rx, rx_err, tx, tx_err = _network(pid, proc)
    rss = kb["VmRSS"] * _PAGE_KB
    return {
        "container_cpu_user_seconds_total": user,
        "container_cpu_system_seconds_total": system,
        "container_cpu_usage_seconds_total": user + system,
        "container_fs_io_time_seconds_total": blkio,
        "container_memory_rss": float(kb["RssAnon"] * _PAGE_KB),
        "container_memory_cache": float((kb["RssFile"] + kb["RssShmem"]) * _PAGE_KB),
        "container_memory_usage_bytes": float(rss),
        "container_memory_working_set_bytes": float(rss),
        "container_network_receive_bytes_total": float(rx),
        "container_network_receive_errors_total": float(rx_err),
        "container_network_transmit_bytes_total": float(tx),
        "container_network_transmit_errors_total": float(tx_err),
    }


def measurements(values: dict[str, float], app: str, instance: str, at: float) -> dict[str, Any]:
    """A POST /v1/measurements body."""
    return {"time": int(at), "tags": {"app": app, "instance": instance},
            "measurements": [{"name": name, "value": value} for name, value in values.items()]}


class ProcessReporter:
    """Samples a process every `interval` seconds and hands each body to `send` (which posts it; a
    failed send is logged and the next sample goes on, so reporting never holds up the program)."""

    def __init__(self, pid: int, app: str, instance: str, send: Callable[[dict[str, Any]], Awaitable[None]], *,
                 interval: float = INTERVAL, proc: Path = Path("/proc")) -> None:
        self.pid = pid
        self.app = app
        self.instance = instance
        self.send = send
        self.interval = interval
        self.proc = proc
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        while True:
            values = await asyncio.to_thread(sample, self.pid, self.proc)
            if values is None:
                return
            try:
                await self.send(measurements(values, self.app, self.instance, time.time()))
            except Exception as exc:  # the server may be down: the program must not notice
                log.debug("app metrics not sent: %s", exc)
            await asyncio.sleep(self.interval)
