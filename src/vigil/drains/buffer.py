"""A drain's own bounded buffer, and the hub that hands every app's lines to its drains' buffers.

This runs in the delivery process (`child.py`). Lines arrive in chunks: one per app per message from
the main process, shared by every drain of that app. A buffer holds references to chunks (with an
offset into the first), so handing a chunk to a drain, and dropping the oldest lines of a drain that
cannot keep up, cost a few operations per chunk whatever its size: a dead drain costs nothing per
line. The limits are Logplex's: at most `capacity` lines (1,024) and `max_bytes` of weight (a line
weighs its message + LINE_OVERHEAD); beyond them the *oldest* lines are dropped and counted, and
`take_dropped` tells the drain how many and since when (the L10 notice).

A message's lines come as one Arrow table (`LineHub.publish_table`): its chunks are made from the
table's columns in a few vectorised passes for all apps at once — the syslog frames
(`column_frames.table_frames`), the weights — and only drains that need `LogLine`s (HTTP, UDP) get
them made. `DrainBuffer` has the `Subscription` interface of `vigil.broker.base` (`get` gives lines),
and `get_pieces` gives the same as pieces of chunks: a syslog drain writes a chunk's frames, made once
for all the app's syslog drains (`Chunk.frames`), without touching its lines.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from operator import attrgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.broker.drops import Drops
from vigil.broker.waiting import wait_for_items
from vigil.drains.column_frames import SMALL_TABLE, table_frames
from vigil.drains.frames import SharedFrames, placeholder_frames
from vigil.logs.columns import table_lines
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD

_message = attrgetter("message")


class Chunk:
    """Consecutive lines of one app and their weight. The running total of the weights (for drops
    and reads that cut a chunk) is made only when something cuts it.

    A chunk also keeps its syslog frames once a drain asks for them (`frames`), made once for every
    syslog drain of the app: the frames differ between drains only by the HOSTNAME (the drain token),
    which they hold as a placeholder, so a drain's batch is slices of them with its token put in.

    Made from `LogLine`s (`Chunk(lines)`), or from rows of a message's table (`Chunk.of_rows`): then it
    holds what its drains need and nothing more — the frames if the app has syslog drains, the lines
    if it has drains that read lines (HTTP, UDP), the messages' lengths — as copies of its own, never
    views into the message's table: a chunk that a dead drain keeps for a long time keeps only itself."""

    __slots__ = ("_cum", "_frames", "_lengths", "_lines", "app", "n", "weight")

    def __init__(self, lines: Sequence[LogLine], message_chars: int | None = None, app: str | None = None) -> None:
        self._lines: Sequence[LogLine] | None = lines
        self.n = len(lines)
        self.app = app if app is not None else lines[0].app if lines else ""
        if message_chars is None:
            message_chars = sum(map(len, map(_message, lines)))
        self.weight = message_chars + LINE_OVERHEAD * len(lines)
        self._cum: list[int] | None = None
        self._frames: SharedFrames | None = None
        self._lengths: bytes | None = None

    @classmethod
    def of_rows(cls, app: str, n: int, weight: int, lengths: bytes, frames: SharedFrames | None,
                lines: Sequence[LogLine] | None) -> Chunk:
        """A chunk of `n` rows of a message: `lengths` their messages' lengths in characters (int32),
        `frames` (or None: no syslog drain) and `lines` (or None: no drain reads lines)."""
        chunk = cls.__new__(cls)
        chunk.app, chunk.n, chunk.weight = app, n, weight
        chunk._lines, chunk._frames, chunk._lengths, chunk._cum = lines, frames, lengths, None
        return chunk

    @property
    def lines(self) -> Sequence[LogLine]:
        if self._lines is None:  # (a drain that reads lines says so when it subscribes: `wants_lines`)
            raise LookupError("this chunk was made without its lines: no drain of its app reads lines")
        return self._lines

    def frames(self, host_len: int, messages: str | None = None) -> SharedFrames:
        """The lines' octet-counted frames for a hostname of `host_len` characters (made on first use;
        one length kept, which is every drain's: tokens are all alike). `messages`: the lines'
        messages joined, if the caller has them."""
        made = self._frames
        if made is None or made.host_len != host_len:
            if self._lines is not None:
                made = placeholder_frames(self._lines, host_len, messages)
            elif made is not None:
                made = made.for_host_len(host_len)
            else:
                raise LookupError("this chunk was made without frames: its app had no syslog drain")
            self._frames = made
        return made

    @property
    def cum(self) -> list[int]:
        """cum[i] = the weight of lines[:i]."""
        if self._cum is None:
            if self._lengths is not None:
                weights = np.frombuffer(self._lengths, np.int32).astype(np.int64) + LINE_OVERHEAD
                self._cum = [0, *np.cumsum(weights).tolist()]
            else:
                self._cum = list(accumulate((len(line.message) + LINE_OVERHEAD for line in self.lines), initial=0))
        return self._cum

    def weigh(self, start: int, end: int) -> int:
        if start == 0 and end == self.n:
            return self.weight
        cum = self.cum
        return cum[end] - cum[start]


Piece = tuple[Chunk, int, int]  # lines chunk.lines[start:end]


def lines_of(pieces: Sequence[Piece]) -> list[LogLine]:
    out: list[LogLine] = []
    for chunk, start, end in pieces:
        lines = chunk.lines
        out.extend(lines if start == 0 and end == chunk.n else lines[start:end])
    return out


def count(pieces: Sequence[Piece]) -> int:
    return sum(end - start for _, start, end in pieces)


def first_app(pieces: Sequence[Piece]) -> str:
    return pieces[0][0].app


def now_us() -> int:
    return time.time_ns() // 1000


class DrainBuffer:
    """Drop-oldest within both limits. A push drops only whole chunks from the front (arithmetic);
    the cut inside the first chunk that the limits may still ask for is settled at the next look —
    a read, or a question about the counts. What a read returns is the same as if every push had cut
    exactly (the newest lines that fit), but a drain that does not read pays a few operations per
    chunk and nothing per line: no running weights of the lines it drops."""

    __slots__ = ("_bytes", "_chunks", "_closed", "_drops", "_event", "_hub",
                 "_len", "_over_since", "capacity", "delivered", "frame_host_len", "last_read", "max_bytes",
                 "on_half_full", "stalled", "topics", "wants_lines")

    def __init__(self, hub: LineHub | None, topics: frozenset[str], capacity: int, max_bytes: int | None) -> None:
        if capacity < 1 or (max_bytes is not None and max_bytes < 1):
            raise ValueError("capacity and max_bytes must be positive")
        self._hub = hub
        self.topics: frozenset[str] | None = topics
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._chunks: deque[list] = deque()  # [Chunk, offset of its first unread line]
        self._len = 0  # lines held, the cut not yet settled included
        self._bytes = 0  # their weight, likewise
        self._over_since = 0  # µs: when the limits were first exceeded by a cut not yet settled
        self._event = asyncio.Event()
        self._closed = False
        self.delivered = 0
        self._drops = Drops()
        # Called when a push leaves the buffer at least half full (by lines or bytes): a drain that
        # lingers to gather lines writes now instead of dropping them.
        self.on_half_full: Callable[[], None] | None = None
        self.last_read = time.monotonic()  # when the drain last took lines or had none: is it consuming?
        self.stalled = False  # found not reading by LineHub.busy; cleared by the next read
        # Set by a syslog drain (its hostname's length): the hub frames a chunk for it as it arrives,
        # while its lines are still in the CPU's caches.
        self.frame_host_len = 0
        # Cleared by a drain that reads only frames: chunks made from a message's table then need no
        # `LogLine`s for it.
        self.wants_lines = True

    def push(self, chunk: Chunk) -> None:
        n = chunk.n
        if not n or self._closed:
            return
        if not self._len:
            # A drain that had nothing to read was keeping up: it is not stalled because it did not
            # read while the delivery process yielded, or nothing came (a backlog handed on after it
            # would otherwise overflow it at once, unpaced).
            self.last_read = time.monotonic()
        self._chunks.append([chunk, 0])
        self._len += n
        self._bytes += chunk.weight
        max_bytes = self.max_bytes
        if self._len > self.capacity or (max_bytes is not None and self._bytes > max_bytes):
            self._drop_whole()
        self._event.set()
        if self.half_full:
            if self.on_half_full is not None:
                self.on_half_full()
            if self._hub is not None and not self.stalled:
                self._hub.filling.add(self)

    @property
    def half_full(self) -> bool:
        return 2 * self._len >= self.capacity or (self.max_bytes is not None and 2 * self._bytes >= self.max_bytes)

    def _drop_whole(self) -> None:
        """Drop the chunks at the front that the limits drop entirely (those whose remaining lines or
        weight the excess covers); what is left to cut stays for `_settle`."""
        chunks, max_bytes = self._chunks, self.max_bytes
        dropped = 0
        while len(chunks) > 1:  # (the newest chunk alone is never over both limits entirely)
            chunk, off = chunks[0]
            avail = chunk.n - off
            weight = chunk.weight if not off else chunk.weigh(off, chunk.n)
            if (self._len - self.capacity < avail
                    and (max_bytes is None or self._bytes - max_bytes < weight)):
                break
            chunks.popleft()
            self._len -= avail
            self._bytes -= weight
            dropped += avail
        self.count_dropped(dropped, self._over_since)
        if (self._len > self.capacity or (max_bytes is not None and self._bytes > max_bytes)) \
                and not self._over_since:
            self._over_since = now_us()

    def _settle(self) -> None:
        """Drop the oldest lines until both limits hold: whole chunks at once, at most one cut."""
        if not self._over_since:
            return
        chunks, max_bytes = self._chunks, self.max_bytes
        dropped = 0
        while chunks:
            over_lines = self._len - self.capacity
            over_bytes = self._bytes - max_bytes if max_bytes is not None else 0
            if over_lines <= 0 and over_bytes <= 0:
                break
            entry = chunks[0]
            chunk, off = entry
            avail = chunk.n - off
            k = max(over_lines, 0)
            if over_bytes > 0:  # the fewest lines from the front whose weight covers the excess
                cum = chunk.cum
                k = max(k, bisect_left(cum, cum[off] + over_bytes, off) - off)
            k = min(k, avail)
            weight = chunk.weigh(off, off + k)
            if k == avail:
                chunks.popleft()
            else:
                entry[1] = off + k
            self._len -= k
            self._bytes -= weight
            dropped += k
        self.count_dropped(dropped, self._over_since)
        self._over_since = 0

    def count_dropped(self, n: int, since: int = 0) -> None:
        """Count `n` lines lost for this drain (dropped here, or before they reached it) since `since`
        (µs; 0: now)."""
        self._drops.add(n, since)

    @property
    def pending(self) -> int:
        self._settle()
        return self._len

    @property
    def bytes(self) -> int:
        self._settle()
        return self._bytes

    @property
    def dropped(self) -> int:
        self._settle()
        return self._drops.total

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(self, max_items: int, wait: float | None = None) -> list[LogLine]:
        """Up to `max_items` of the oldest lines, waiting up to `wait` seconds (None: until there are
        some; [] when the wait passed or the buffer is closed and empty)."""
        return lines_of(await self.get_pieces(max_items, wait))

    async def get_pieces(self, max_items: int, wait: float | None = None) -> list[Piece]:
        """`get` as pieces of chunks, (chunk, start, end): the lines are chunk.lines[start:end]."""
        if not self._len and not self._closed and not await wait_for_items(self._event, wait):
            return []
        self._settle()
        out: list[Piece] = []
        chunks = self._chunks
        want = min(max_items, self._len)
        taken = want
        while want > 0:
            entry = chunks[0]
            chunk, off = entry
            avail = chunk.n - off
            take = min(avail, want)
            out.append((chunk, off, off + take))
            self._bytes -= chunk.weigh(off, off + take)
            if take == avail:
                chunks.popleft()
            else:
                entry[1] = off + take
            want -= take
        self._len -= taken
        self.delivered += taken
        self.last_read = time.monotonic()
        self.stalled = False
        return out

    def take_dropped(self) -> tuple[int, int]:
        self._settle()
        return self._drops.take()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._hub is not None:
                self._hub.remove(self)
            self._event.set()


def _rows(ranges: list[tuple[int, int]], table: pa.Table) -> pa.Table:
    """The rows `ranges` ((first row, count), in order) of `table` as one table (`table` itself when they
    are all of it)."""
    if sum(n for _, n in ranges) == table.num_rows:
        return table
    return pa.concat_tables([table.slice(row, n) for row, n in ranges])


class LineHub:
    """App → the buffers of the drains that deliver its lines (a site drain's buffer is under every
    member app)."""

    def __init__(self) -> None:
        self._by_app: dict[str, list[DrainBuffer]] = {}
        self.filling: set[DrainBuffer] = set()  # buffers at least half full (kept up to date lazily)
        # app -> (its buffers, the syslog hostname length to frame for or 0, whether a drain reads lines),
        # worked out at the first message after the buffers changed (a drain sets what it needs right
        # after it subscribes).
        self._needs: dict[str, tuple[list[DrainBuffer], int, bool]] = {}

    def busy(self, stalled_after: float) -> bool:
        """True while a drain that is still taking lines (it read within `stalled_after` seconds) has its
        buffer at least half full: more lines now would overflow a drain that can keep up. Drains
        that do not read (dead, refusing, reconnecting) do not count."""
        if not self.filling:
            return False
        now = time.monotonic()
        for buf in list(self.filling):
            if buf.closed or not buf.half_full:
                self.filling.discard(buf)
            elif now - buf.last_read < stalled_after:
                return True
            else:  # a dead drain: not looked at again (nor re-added by pushes) until it reads
                buf.stalled = True
                self.filling.discard(buf)
        return False

    def subscribe(self, apps: Iterable[str], capacity: int, max_bytes: int | None = None) -> DrainBuffer:
        self._needs.clear()
        buf = DrainBuffer(self, frozenset(apps), capacity, max_bytes)
        for app in buf.topics or ():
            self._by_app.setdefault(app, []).append(buf)
        return buf

    def remove(self, buf: DrainBuffer) -> None:
        self._needs.clear()
        self.filling.discard(buf)
        for app in buf.topics or ():
            bufs = self._by_app.get(app)
            if bufs is not None and buf in bufs:
                bufs.remove(buf)
                if not bufs:
                    del self._by_app[app]

    def publish(self, app: str, lines: Sequence[LogLine]) -> None:
        """Hand `lines` of `app` to the buffers of its drains: one chunk, shared. If a syslog drain that
        is taking lines is among them, the chunk's frames are made now, once for all of them, while the
        lines just decoded may still be in the CPU's caches. Drains that do not read cost no framing."""
        bufs = self._by_app.get(app)
        if bufs:
            messages = "".join(map(_message, lines))  # (for the weight, and the framing's checks)
            chunk = Chunk(lines, len(messages), app)
            host_len = 0
            for buf in bufs:
                buf.push(chunk)
                if buf.frame_host_len and not buf.stalled:
                    host_len = buf.frame_host_len
            if host_len:
                chunk.frames(host_len, messages)

    def publish_table(self, groups: Sequence[tuple[str, int]], table: pa.Table) -> None:
        """Hand a message's lines to the buffers of their apps' drains: `groups` are (app, rows) of
        `table` (`columns.SCHEMA`), in order, one chunk each, shared by the app's drains.

        What the chunks need is made for all of them at once, from the columns: the frames of every
        app that has a syslog drain (one `table_frames` call; a drain that has stopped reading gets
        them too, since its chunks must not hold on to the table), the `LogLine`s of apps whose
        drains read lines, the weights. A small table (a quiet moment: vectorised calls cost more
        than they save) goes line by line instead, as `publish`."""
        needs = self._needs
        targets: list[tuple[str, int, int, list[DrainBuffer], int, bool]] = []
        row = 0
        host_len = 0
        for app, n in groups:
            need = needs.get(app)
            if need is None:
                need = needs[app] = self._needs_of(app)
            bufs, frame_len, wants = need
            if bufs and n:
                host_len = host_len or frame_len
                targets.append((app, row, n, bufs, frame_len, wants))
            row += n
        if row != table.num_rows:
            raise ValueError(f"broken drain channel: groups of {row} lines for a table of {table.num_rows}")
        if not targets:
            return
        if table.num_rows < SMALL_TABLE:
            lines = table_lines(table)
            for app, row, n, _, _, _ in targets:
                self.publish(app, lines[row:row + n])
            return
        message = table.column("message")
        lengths = pc.utf8_length(message.fill_null("") if message.null_count else message).to_numpy()
        lengths_bytes = lengths.astype(np.int32).tobytes()
        cum = np.concatenate((np.zeros(1, np.int64), np.cumsum(lengths + LINE_OVERHEAD, dtype=np.int64)))
        bounds = np.array([(row, row + n) for _, row, n, _, _, _ in targets], np.int64)
        weights = (cum[bounds[:, 1]] - cum[bounds[:, 0]]).tolist()
        framed = [(row, n) for _, row, n, _, frame_len, _ in targets if frame_len]
        frames = table_frames(_rows(framed, table), host_len) if framed else None
        # Where each framed chunk's frames start (and the last one ends) in `frames.data`.
        cuts = frames.starts[np.cumsum([0] + [n for _, n in framed])].tolist() if frames is not None else []
        wanted = [(row, n) for _, row, n, _, _, wants in targets if wants]
        lines = table_lines(_rows(wanted, table)) if wanted else []
        at_frame = at_line = 0
        for (app, row, n, bufs, frame_len, wants), weight in zip(targets, weights, strict=True):
            shared = None
            if frame_len:
                assert frames is not None
                data = frames.data
                a, b = cuts[at_frame], cuts[at_frame + 1]
                shared = SharedFrames(data if b - a == len(data) else data[a:b], n, host_len)
                at_frame += 1
            chunk_lines = None
            if wants:
                chunk_lines = lines[at_line:at_line + n]
                at_line += n
            chunk = Chunk.of_rows(app, n, weight, lengths_bytes[4 * row:4 * (row + n)], shared, chunk_lines)
            for buf in bufs:
                buf.push(chunk)

    def _needs_of(self, app: str) -> tuple[list[DrainBuffer], int, bool]:
        bufs = self._by_app.get(app, [])
        frame_len = next((buf.frame_host_len for buf in bufs if buf.frame_host_len), 0)
        return bufs, frame_len, any(buf.wants_lines for buf in bufs)

    def gap(self, app: str, count: int, since: int) -> None:
        """`count` lines of `app` were lost before they reached this process: every drain of the app
        counts them as dropped (and reports them with its next L10 notice)."""
        for buf in self._by_app.get(app, ()):
            buf.count_dropped(count, since)
