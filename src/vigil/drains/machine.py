"""How busy the machine is, as the delivery process sees it: the share of all CPUs that *other*
processes used lately (Linux `/proc/stat`, less this process's own CPU time).

`SCHED_IDLE` already gives the delivery process only CPU that nobody else wants, but during a burst
of ingest the machine has short idle gaps, and the delivery process running in them still costs ingest
(its wake-ups, its copies through the shared caches): 5–10 % of a burst on two cores. So the process
holds lines back while the machine is busy (`child._Input`), for a bounded time.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable

WINDOW = 0.1  # seconds the share is measured over: /proc/stat counts in 10 ms ticks
SAMPLE_EVERY = 0.01  # seconds: asked more often, the last share is the answer (and at most ~12 samples are kept)


def _machine_busy_seconds() -> float | None:
    """CPU seconds all CPUs were busy since boot (not idle, not waiting for I/O); None off Linux."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class MachineLoad:
    """`others()`: the share (0..1) of the machine's CPUs that other processes kept busy over about the
    last `WINDOW` seconds, measured when asked (no timer); None while it cannot be known yet (the
    first look after a pause spans too little time): the start of a burst is judged on what follows."""

    def __init__(self, busy: Callable[[], float | None] = _machine_busy_seconds,
                 own: Callable[[], float] = _own_seconds, clock: Callable[[], float] = time.monotonic,
                 cpus: int | None = None) -> None:
        self._busy, self._own, self._clock = busy, own, clock
        self.cpus = cpus or os.cpu_count() or 1  # (all of them: /proc/stat's first line counts them all)
        self._samples: deque[tuple[float, float, float]] = deque()  # (time, machine busy, own)
        self._last: float | None = None

    def others(self) -> float | None:
        now = self._clock()
        samples = self._samples
        if samples and now - samples[-1][0] < SAMPLE_EVERY:
            return self._last
        busy = self._busy()
        if busy is None:
            return 0.0
        samples.append((now, busy, self._own()))
        # The window: from the newest sample at least WINDOW old, but none older than 2 × WINDOW (a
        # sample from before a pause would average the pause in, and a burst would be seen late).
        while len(samples) > 1 and (now - samples[1][0] >= WINDOW or now - samples[0][0] > 2 * WINDOW):
            samples.popleft()
        t0, busy0, own0 = samples[0]
        if now - t0 < WINDOW / 2:  # shorter spans are mostly tick rounding
            self._last = None
        else:
            used = (busy - busy0) - (samples[-1][2] - own0)
            self._last = min(1.0, max(0.0, used / ((now - t0) * self.cpus)))
        return self._last
