"""Per-app rings of recent lines in memory: instant "recent" and the start of every tail.

Bounded three ways: lines per app, bytes per app (message bytes plus a fixed per-line overhead), and
the number of apps (the app written least recently loses its ring first). Whatever falls out is
counted in `evicted`; it is still in the telemetry store's history.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import attrgetter

from vigil.logs.model import LogLine

# What one line costs besides its message: the LogLine object and its short strings (measured
# with sys.getsizeof on typical lines: ~200 bytes; 256 keeps the bound on the safe side).
LINE_OVERHEAD = 256
_message = attrgetter("message")
CUT_AFTER = 256  # lines gone from the front of the oldest batch before it is cut (see _Ring)


def line_weight(line: LogLine) -> int:
    """What a line costs in memory, roughly: its message plus LINE_OVERHEAD."""
    return len(line.message) + LINE_OVERHEAD


class _Ring:
    """One app's lines as the batches they came in (never changed: the same lists are queued for
    history and handed to live readers), so keeping and evicting cost a little per batch rather
    than per line. Each batch keeps its messages' lengths beside it (the syslog workers send
    them), so that cutting the oldest batch to the exact line is a sum over small ints rather than
    a second pass over the lines. A cut into the oldest batch only moves `skip` (its lines already
    gone); the batch itself is cut once more than half of it and CUT_AFTER lines are gone, so that
    a full ring costs no copy (nor Arrow slice) per new batch, and keeps at most that many lines
    it no longer counts."""

    __slots__ = ("bytes", "chunks", "count", "lengths", "skip", "weights")

    def __init__(self) -> None:
        self.chunks: deque[Sequence[LogLine]] = deque()
        self.lengths: deque[list[int]] = deque()  # each chunk's message lengths
        self.weights: deque[int] = deque()  # each chunk's weight (of its lines not yet gone)
        self.skip = 0  # lines of the oldest chunk already gone
        self.count = 0
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
        return sum(r.count for r in self._rings.values())

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self._rings.values())

    def extend(self, app: str, lines: Sequence[LogLine], lengths: list[int] | None = None) -> None:
        """Append lines of one app (in arrival order). The ring keeps a reference to `lines` (and to
        `lengths`, their messages' lengths if the caller has them): the caller must not change them
        afterwards."""
        if not lines:
            return
        rings = self._rings
        ring = rings.get(app)
        if ring is None:
            ring = rings[app] = _Ring()
            if len(rings) > self.max_apps:
                _, old = rings.popitem(last=False)
                self.evicted += old.count
                self.evicted_apps += 1
        else:
            rings.move_to_end(app)
        if lengths is None or len(lengths) != len(lines):
            lengths = list(map(len, map(_message, lines)))
        weight = sum(lengths) + LINE_OVERHEAD * len(lines)
        ring.chunks.append(lines)
        ring.lengths.append(lengths)
        ring.weights.append(weight)
        ring.count += len(lines)
        ring.bytes += weight
        if ring.count > self.max_lines or ring.bytes > self.max_bytes:
            self._trim(ring)

    def _trim(self, ring: _Ring) -> None:
        chunks, weights, lengths = ring.chunks, ring.weights, ring.lengths
        evicted = 0
        while chunks and (ring.count > self.max_lines or ring.bytes > self.max_bytes):
            first, weight, skip = chunks[0], weights[0], ring.skip
            lines_over = ring.count - self.max_lines
            bytes_over = ring.bytes - self.max_bytes
            if lines_over >= len(first) - skip or bytes_over >= weight:
                chunks.popleft()
                weights.popleft()
                lengths.popleft()
                cut, cut_weight, ring.skip = len(first) - skip, weight, 0
            else:  # just enough of the oldest chunk
                sizes = lengths[0]
                cut = max(lines_over, 0)
                cut_weight = sum(sizes[skip:skip + cut]) + LINE_OVERHEAD * cut
                while cut_weight < bytes_over:
                    cut_weight += sizes[skip + cut] + LINE_OVERHEAD
                    cut += 1
                weights[0] = weight - cut_weight
                ring.skip = skip = skip + cut
                if skip > CUT_AFTER and skip * 2 > len(first):  # new lists: others may hold the old ones
                    chunks[0], lengths[0], ring.skip = first[skip:], sizes[skip:], 0
            ring.count -= cut
            ring.bytes -= cut_weight
            evicted += cut
        self.evicted += evicted

    def count(self, app: str) -> int:
        ring = self._rings.get(app)
        return ring.count if ring else 0

    def last(self, app: str, n: int) -> list[LogLine]:
        """The newest `n` lines of `app`, oldest first."""
        ring = self._rings.get(app)
        if ring is None or n <= 0:
            return []
        parts: list[Sequence[LogLine]] = []
        need = n
        chunks = ring.chunks
        for i in range(len(chunks) - 1, -1, -1):
            chunk = chunks[i]
            have = len(chunk) - ring.skip if i == 0 else len(chunk)
            if have >= need:
                parts.append(chunk[len(chunk) - need:])
                break
            parts.append(chunk[len(chunk) - have:] if have != len(chunk) else chunk)
            need -= have
        parts.reverse()
        return list(chain.from_iterable(parts))

    def last_of(self, apps: Iterable[str], n: int) -> list[LogLine]:
        """The newest `n` lines across `apps`, merged in time order (oldest first)."""
        parts = [self.last(app, n) for app in apps]
        merged = list(heapq.merge(*parts, key=lambda line: line.timestamp))
        return merged[-n:] if n > 0 else []
