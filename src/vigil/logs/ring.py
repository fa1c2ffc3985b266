"""Per-app rings of recent lines in memory: instant "recent" and the start of every tail.

Bounded three ways: lines per app, bytes per app (message bytes plus a fixed per-line overhead), and
the number of apps (the app written least recently loses its ring first). Whatever falls out is
counted in `evicted`; it is still in the telemetry store's history.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from operator import attrgetter

from vigil.logs.model import LogLine

# What one line costs besides its message: the LogLine object and its short strings (measured
# with sys.getsizeof on typical lines: ~200 bytes; 256 keeps the bound on the safe side).
LINE_OVERHEAD = 256
_message = attrgetter("message")


def line_weight(line: LogLine) -> int:
    """What a line costs in memory, roughly: its message plus LINE_OVERHEAD."""
    return len(line.message) + LINE_OVERHEAD


class _Ring:
    __slots__ = ("bytes", "lines")

    def __init__(self) -> None:
        self.lines: deque[LogLine] = deque()
        self.bytes = 0


class RecentLines:
    def __init__(self, max_lines: int, max_bytes: int, max_apps: int) -> None:
        if min(max_lines, max_bytes, max_apps) < 1:
            raise ValueError("ring limits must be positive")
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.max_apps = max_apps
        self._rings: OrderedDict[str, _Ring] = OrderedDict()
        self.evicted = 0  # lines pushed out by the limits
        self.evicted_apps = 0

    def __contains__(self, app: str) -> bool:
        return app in self._rings

    def __len__(self) -> int:
        return len(self._rings)

    @property
    def total_lines(self) -> int:
        return sum(len(r.lines) for r in self._rings.values())

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self._rings.values())

    def extend(self, app: str, lines: Sequence[LogLine]) -> None:
        """Append lines of one app (in arrival order)."""
        rings = self._rings
        ring = rings.get(app)
        if ring is None:
            ring = rings[app] = _Ring()
            if len(rings) > self.max_apps:
                _, old = rings.popitem(last=False)
                self.evicted += len(old.lines)
                self.evicted_apps += 1
        else:
            rings.move_to_end(app)
        dq = ring.lines
        dq.extend(lines)
        ring.bytes += sum(map(len, map(_message, lines))) + LINE_OVERHEAD * len(lines)
        excess = len(dq) - self.max_lines
        if excess > 0 or ring.bytes > self.max_bytes:
            size = ring.bytes
            evicted = 0
            while dq and (excess > 0 or size > self.max_bytes):
                size -= len(dq.popleft().message) + LINE_OVERHEAD
                excess -= 1
                evicted += 1
            ring.bytes = size
            self.evicted += evicted

    def count(self, app: str) -> int:
        ring = self._rings.get(app)
        return len(ring.lines) if ring else 0

    def last(self, app: str, n: int) -> list[LogLine]:
        """The newest `n` lines of `app`, oldest first."""
        ring = self._rings.get(app)
        if ring is None or n <= 0:
            return []
        dq = ring.lines
        if n >= len(dq):
            return list(dq)
        return [dq[i] for i in range(len(dq) - n, len(dq))]

    def last_of(self, apps: Iterable[str], n: int) -> list[LogLine]:
        """The newest `n` lines across `apps`, merged in time order (oldest first)."""
        parts = [self.last(app, n) for app in apps]
        merged = list(heapq.merge(*parts, key=lambda line: line.timestamp))
        return merged[-n:] if n > 0 else []
