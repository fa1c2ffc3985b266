"""Live log sessions' queues: each app's new lines as Akkeris text, rendered once for every reader.

A log session writes text, so its queue holds text: one chunk per accepted app group, the group's
lines (`LogLine`s, kept for the rare exact cuts and the start's de-duplication) with their Akkeris
rendering (`formats.format_akkeris_lines`). The syslog worker processes render the groups of the
apps that sessions follow (`watchers` tell them which), so for most lines the event loop only
appends a chunk to each session's queue and later writes the joined chunks; other groups are
rendered here, once per group however many sessions follow the app.

Bounded like the broker's subscriptions, in lines (`capacity`) and bytes (`max_bytes`, a line
weighing its rendered text plus `LINE_OVERHEAD`): when full the *oldest* lines go (whole chunks,
and the oldest remaining chunk cut to the exact line), are counted, and the reader learns how many
and since when (Logplex's L10 notice). A publish never waits: a slow reader only loses its own
oldest lines.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from vigil.broker.drops import Drops
from vigil.broker.waiting import wait_for_items
from vigil.logs.formats import format_akkeris_lines
from vigil.logs.model import LogLine
from vigil.logs.ring import LINE_OVERHEAD

Chunk = tuple[list[LogLine], bytes]  # lines and their Akkeris text (each line followed by LF)


def render(lines: list[LogLine]) -> bytes:
    return format_akkeris_lines(lines).encode()


def _weight(lines: list[LogLine], text: bytes) -> int:
    return len(text) + LINE_OVERHEAD * len(lines)


class TextFeed:
    """One reader's queue of rendered chunks (see the module's docstring)."""

    __slots__ = ("_chunks", "_closed", "_event", "_feeds", "apps", "bytes",
                 "capacity", "drops", "lines", "max_bytes")

    def __init__(self, feeds: TextFeeds, apps: frozenset[str], capacity: int, max_bytes: int) -> None:
        if capacity < 1 or max_bytes < 1:
            raise ValueError("capacity and max_bytes must be positive")
        self._feeds = feeds
        self.apps = apps
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._chunks: deque[Chunk] = deque()
        self._event = asyncio.Event()
        self._closed = False
        self.lines = 0  # queued
        self.bytes = 0  # their weight
        self.drops = Drops()  # lines dropped because the reader was too slow

    @property
    def pending(self) -> int:
        return self.lines

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, lines: list[LogLine], text: bytes) -> None:
        self._chunks.append((lines, text))
        self.lines += len(lines)
        self.bytes += _weight(lines, text)
        if self.lines > self.capacity or self.bytes > self.max_bytes:
            self._shed()
        self._event.set()

    def _shed(self) -> None:
        chunks = self._chunks
        dropped = 0
        while chunks and (self.lines > self.capacity or self.bytes > self.max_bytes):
            lines, text = chunks[0]
            weight = _weight(lines, text)
            lines_over = self.lines - self.capacity
            bytes_over = self.bytes - self.max_bytes
            if lines_over >= len(lines) or bytes_over >= weight:
                chunks.popleft()
                cut, cut_weight = len(lines), weight
            else:  # just enough of the oldest chunk (rare: only a reader that fell behind gets here)
                cut = max(lines_over, 0)
                cut_weight = len(render(lines[:cut])) + LINE_OVERHEAD * cut
                while cut_weight < bytes_over:
                    cut_weight += len(render(lines[cut:cut + 1])) + LINE_OVERHEAD
                    cut += 1
                rest = lines[cut:]
                chunks[0] = (rest, text[cut_weight - LINE_OVERHEAD * cut:])
            self.lines -= cut
            self.bytes -= cut_weight
            dropped += cut
        if dropped:
            self.drops.add(dropped)
            self._feeds.dropped += dropped

    async def get(self, max_lines: int, wait: float | None = None) -> list[Chunk]:
        """Queued chunks, oldest first, until they hold at least `max_lines` lines (a chunk is never
        split here); waits up to `wait` seconds (None: forever) for the first and returns [] when
        that passes or once closed."""
        chunks = self._chunks
        if not chunks and not self._closed and not await wait_for_items(self._event, wait):
            return []
        out: list[Chunk] = []
        taken = 0
        while chunks and taken < max_lines:
            chunk = chunks.popleft()
            out.append(chunk)
            taken += len(chunk[0])
            self.bytes -= _weight(*chunk)
        self.lines -= taken
        return out

    @property
    def dropped(self) -> int:
        return self.drops.total

    def take_dropped(self) -> tuple[int, int]:
        return self.drops.take()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._feeds._remove(self)
            self._event.set()


class TextFeeds:
    """Every log session's feed, by app."""

    def __init__(self) -> None:
        self.by_app: dict[str, list[TextFeed]] = {}
        self._all: set[TextFeed] = set()
        # Called with the set of followed apps when it changes (once per loop turn at most): the
        # syslog workers render only those apps' groups.
        self.watchers: list[Callable[[frozenset[str]], None]] = []
        self._notify_due = False
        self.dropped = 0  # lines dropped by all feeds since start

    def subscribe(self, apps: Iterable[str], capacity: int, max_bytes: int) -> TextFeed:
        feed = TextFeed(self, frozenset(apps), capacity, max_bytes)
        self._all.add(feed)
        for app in feed.apps:
            feeds = self.by_app.get(app)
            if feeds is None:
                self.by_app[app] = [feed]
                self._changed()
            else:
                feeds.append(feed)
        return feed

    def publish(self, app: str, lines: list[LogLine], text: bytes | None) -> None:
        """Hand an app's accepted lines to its feeds; `text` is their rendering if the source made it."""
        feeds = self.by_app.get(app)
        if not feeds or not lines:
            return
        if text is None:
            text = render(lines)
        for feed in feeds:
            feed.push(lines, text)

    def _remove(self, feed: TextFeed) -> None:
        self._all.discard(feed)
        for app in feed.apps:
            feeds = self.by_app[app]
            feeds.remove(feed)
            if not feeds:
                del self.by_app[app]
                self._changed()

    def _changed(self) -> None:
        if not self.watchers or self._notify_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): say it now
            self._notify()
            return
        self._notify_due = True
        loop.call_soon(self._notify)

    def _notify(self) -> None:
        self._notify_due = False
        apps = frozenset(self.by_app)
        for watch in self.watchers:
            watch(apps)

    @property
    def readers(self) -> int:
        return len(self._all)

    def close(self) -> None:
        """End every feed (server shutdown): their readers see [] and `closed`."""
        for feed in list(self._all):
            feed.close()
