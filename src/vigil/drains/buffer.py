"""A drain's own bounded buffer, and the hub that hands every app's lines to its drains' buffers.

This runs in the delivery process (`child.py`). Lines arrive in chunks: one per app per message from
the main process, shared by every drain of that app. A buffer holds references to chunks (with an
offset into the first), so handing a chunk to a drain, and dropping the oldest lines of a drain that
cannot keep up, cost a few operations per chunk whatever its size: a dead drain costs nothing per
line. The limits are Logplex's: at most `capacity` lines (1,024) and `max_bytes` of weight (a line
weighs its message + LINE_OVERHEAD); beyond them the *oldest* lines are dropped and counted, and
`take_dropped` tells the drain how many and since when (the L10 notice).

`DrainBuffer` has the `Subscription` interface of `vigil.broker.base` (`get` gives lines), and
`get_pieces` gives the same as pieces of chunks: a syslog drain writes a chunk's frames, made once for
all the app's syslog drains (`Chunk.frames`), without touching its lines.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from operator import attrgetter

from vigil.broker.drops import Drops
from vigil.broker.waiting import wait_for_items
from vigil.drains.frames import SharedFrames, placeholder_frames
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD

_message = attrgetter("message")


class Chunk:
    """Consecutive lines of one app and their weight. The running total of the weights (for drops
    and reads that cut a chunk) is made only when something cuts it.

    A chunk also keeps its syslog frames once a drain asks for them (`frames`), made once for every
    syslog drain of the app: the frames differ between drains only by the HOSTNAME (the drain token),
    which they hold as a placeholder, so a drain's batch is slices of them with its token put in."""

    __slots__ = ("_cum", "_frames", "lines", "weight")

    def __init__(self, lines: Sequence[LogLine], message_chars: int | None = None) -> None:
        self.lines = lines
        if message_chars is None:
            message_chars = sum(map(len, map(_message, lines)))
        self.weight = message_chars + LINE_OVERHEAD * len(lines)
        self._cum: list[int] | None = None
        self._frames: SharedFrames | None = None

    def frames(self, host_len: int, messages: str | None = None) -> SharedFrames:
        """The lines' octet-counted frames for a hostname of `host_len` characters (made on first use;
        one length kept, which is every drain's: tokens are all alike). `messages`: the lines'
        messages joined, if the caller has them."""
        made = self._frames
        if made is None or made.host_len != host_len:
            made = self._frames = placeholder_frames(self.lines, host_len, messages)
        return made

    @property
    def cum(self) -> list[int]:
        """cum[i] = the weight of lines[:i]."""
        if self._cum is None:
            self._cum = list(accumulate((len(line.message) + LINE_OVERHEAD for line in self.lines), initial=0))
        return self._cum

    def weigh(self, start: int, end: int) -> int:
        if start == 0 and end == len(self.lines):
            return self.weight
        cum = self.cum
        return cum[end] - cum[start]


Piece = tuple[Chunk, int, int]  # lines chunk.lines[start:end]


def lines_of(pieces: Sequence[Piece]) -> list[LogLine]:
    out: list[LogLine] = []
    for chunk, start, end in pieces:
        lines = chunk.lines
        out.extend(lines if start == 0 and end == len(lines) else lines[start:end])
    return out


def count(pieces: Sequence[Piece]) -> int:
    return sum(end - start for _, start, end in pieces)


def first_app(pieces: Sequence[Piece]) -> str:
    chunk, start, _ = pieces[0]
    return chunk.lines[start].app


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
                 "on_half_full", "stalled", "topics")

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
        self.last_read = time.monotonic()  # when the drain last took lines: is it consuming?
        self.stalled = False  # found not reading by LineHub.busy; cleared by the next read
        # Set by a syslog drain (its hostname's length): the hub frames a chunk for it as it arrives,
        # while its lines are still in the CPU's caches.
        self.frame_host_len = 0

    def push(self, chunk: Chunk) -> None:
        n = len(chunk.lines)
        if not n or self._closed:
            return
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
            avail = len(chunk.lines) - off
            weight = chunk.weight if not off else chunk.weigh(off, len(chunk.lines))
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
            avail = len(chunk.lines) - off
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
            avail = len(chunk.lines) - off
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


class LineHub:
    """App → the buffers of the drains that deliver its lines (a site drain's buffer is under every
    member app)."""

    def __init__(self) -> None:
        self._by_app: dict[str, list[DrainBuffer]] = {}
        self.filling: set[DrainBuffer] = set()  # buffers at least half full (kept up to date lazily)

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
        buf = DrainBuffer(self, frozenset(apps), capacity, max_bytes)
        for app in buf.topics or ():
            self._by_app.setdefault(app, []).append(buf)
        return buf

    def remove(self, buf: DrainBuffer) -> None:
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
            chunk = Chunk(lines, len(messages))
            host_len = 0
            for buf in bufs:
                buf.push(chunk)
                if buf.frame_host_len and not buf.stalled:
                    host_len = buf.frame_host_len
            if host_len:
                chunk.frames(host_len, messages)

    def gap(self, app: str, count: int, since: int) -> None:
        """`count` lines of `app` were lost before they reached this process: every drain of the app
        counts them as dropped (and reports them with its next L10 notice)."""
        for buf in self._by_app.get(app, ()):
            buf.count_dropped(count, since)
