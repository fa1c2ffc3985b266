"""Per-app rings of recent lines in memory: instant "recent" and the start of every tail.

Bounded three ways: lines per app, bytes per app (message bytes plus a fixed per-line overhead), and
the number of apps (the app written least recently loses its ring first). Whatever falls out is
counted in `evicted`; it is still in the telemetry store's history.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import attrgetter

import pyarrow as pa

from vigil.logs.columns import SETTLE_AFTER, ColumnLines, own_columns
from vigil.logs.model import LINE_OVERHEAD, LogLine

_message = attrgetter("message")
CUT_AFTER = 256  # lines gone from the front of the oldest batch before it is cut (see _Ring)
# A ring compacts the worker report slices it holds (`ColumnLines`, each pinning its whole report)
# once they have been in it this long: one copy per run of batches, before `columns.settle_columns`
# would copy them one by one.
COMPACT_AFTER = SETTLE_AFTER / 2
COMPACT_BUDGET = 0.005  # seconds of compaction per call (a full ring of 1,000 lines takes ~0.3 ms)


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

    __slots__ = ("bytes", "chunks", "count", "lengths", "pending", "skip", "times", "weights")

    def __init__(self) -> None:
        self.chunks: deque[Sequence[LogLine]] = deque()
        self.lengths: deque[list[int]] = deque()  # each chunk's message lengths
        self.weights: deque[int] = deque()  # each chunk's weight (of its lines not yet gone)
        self.times: deque[float] = deque()  # when each chunk came (monotonic)
        self.skip = 0  # lines of the oldest chunk already gone
        self.count = 0
        self.bytes = 0
        self.pending = False  # holds report slices, a compaction is due (RecentLines._due)


class RecentLines:
    def __init__(self, max_lines: int, max_bytes: int, max_apps: int) -> None:
        if min(max_lines, max_bytes, max_apps) < 1:
            raise ValueError("ring limits must be positive")
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.max_apps = max_apps
        self._rings: OrderedDict[str, _Ring] = OrderedDict()
        self._due: deque[tuple[float, str]] = deque()  # (when, app): rings holding report slices
        self.compacted = 0  # batches merged into batches of their own
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
        now = time.monotonic()
        ring.chunks.append(lines)
        ring.lengths.append(lengths)
        ring.weights.append(weight)
        ring.times.append(now)
        if not ring.pending and isinstance(lines, ColumnLines) and lines.origin is not None:
            ring.pending = True
            self._due.append((now + COMPACT_AFTER, app))
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
                ring.times.popleft()
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

    def compact_due(self, now: float, budget: float = COMPACT_BUDGET) -> int:
        """Give the batches that worker report slices have been in a ring for COMPACT_AFTER seconds
        columns of their own, for about `budget` seconds at most (the rest wait for the next call,
        so that the event loop never stalls on it); returns how many rings were looked at."""
        done = 0
        due = self._due
        stop = time.perf_counter() + budget
        while due and due[0][0] <= now and (done == 0 or time.perf_counter() < stop):
            app = due.popleft()[1]
            ring = self._rings.get(app)
            if ring is not None and ring.pending:
                later = self._compact(ring, now - COMPACT_AFTER)
                if later is not None:
                    due.append((later + COMPACT_AFTER, app))
                done += 1
        return done

    def _compact(self, ring: _Ring, cutoff: float) -> float | None:
        """The batches that came by `cutoff` (a prefix: they come in order), each run of Arrow ones
        merged into one batch with columns of its own (one copy of the rows, the lines already gone
        from the oldest left out), so that the ring stops pinning reports. A busy app's batches
        are evicted before they are due, and cost nothing here. Returns when the oldest report
        slice left came, if one is left."""
        chunks, lengths, weights, times = ring.chunks, ring.lengths, ring.weights, ring.times
        old = 0
        while old < len(times) and times[old] <= cutoff:
            old += 1
        out: list[tuple[Sequence[LogLine], list[int], int, float]] = []
        run: list[tuple[pa.Table, list[int], int, float]] = []

        def close_run() -> None:
            if run:
                table = own_columns(pa.concat_tables([part for part, _, _, _ in run]))
                out.append((ColumnLines(table, settles=False), [n for _, sizes, _, _ in run for n in sizes],
                            sum(weight for _, _, weight, _ in run), run[-1][3]))
                self.compacted += len(run)
                run.clear()

        skip = ring.skip
        for _ in range(old):
            chunk, sizes, weight, came = chunks.popleft(), lengths.popleft(), weights.popleft(), times.popleft()
            if isinstance(chunk, ColumnLines) and chunk.table is not None:
                run.append((chunk.table.slice(skip) if skip else chunk.table, sizes[skip:] if skip else sizes,
                            weight, came))
            else:
                close_run()
                out.append((chunk[skip:] if skip else chunk, sizes[skip:] if skip else sizes, weight, came))
            skip = 0
        close_run()
        if old:
            ring.skip = 0
        for chunk, sizes, weight, came in reversed(out):
            chunks.appendleft(chunk)
            lengths.appendleft(sizes)
            weights.appendleft(weight)
            times.appendleft(came)
        left = next((came for chunk, came in zip(chunks, times, strict=True)
                     if isinstance(chunk, ColumnLines) and chunk.origin is not None), None)
        ring.pending = left is not None
        return left

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
