"""Reading logs: the newest lines of some apps, then (for a tail) every new line as it arrives.

The newest lines come from the in-memory rings when every app's ring holds enough of them, and
from history otherwise (after a restart, or for a small ring). A tail subscribes *before* it reads
the newest lines, so nothing falls between the two; a line that arrived in that moment is in both,
and is dropped from the live side.

A busy tail writes in batches: after a write it waits until `linger` seconds have passed before
the next, gathering what arrives meanwhile; an idle tail writes a line the moment it comes. Many
tiny writes (one per ingest read per tail) would cost more than the lines themselves.

A tail that falls behind loses its oldest queued lines (the broker's rule) and then reads
Logplex's L10 notice, `Error L10 (output buffer overflow): N messages dropped since …`, before the
lines that follow the gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from vigil.broker.base import Subscription
from vigil.logs.feeds import Chunk, TextFeed, render
from vigil.logs.logplex import overflow_notice
from vigil.logs.model import LogLine
from vigil.logs.pipeline import LogPipeline


async def newest(pipeline: LogPipeline, apps: Sequence[str], n: int) -> list[LogLine]:
    """The newest `n` lines across `apps`, oldest first."""
    if n <= 0 or not apps:
        return []
    ring = pipeline.ring
    recent = ring.last_of(apps, n)
    if all(ring.count(app) >= n for app in apps):
        return recent
    # History has what the rings lost; the rings have what history does not keep (lines outside
    # its time window). Merge both, each line once, in time order (stable: arrival order on ties).
    kept = await pipeline.store.last(apps, n)
    merged = sorted(dict.fromkeys([*kept, *recent]), key=lambda line: line.timestamp)
    return merged[-n:]


class Tail:
    """The newest lines, then live ones. Use `start()`, then `next()` until it returns None."""

    def __init__(self, pipeline: LogPipeline, apps: Sequence[str] | None, *, lines: int, follow: bool,
                 capacity: int, max_bytes: int | None = None, linger: float = 0.0) -> None:
        self.pipeline = pipeline
        self.max_bytes = max_bytes
        self.linger = linger
        self._last = 0.0
        self.apps = apps
        self.lines = lines
        self.follow = follow
        self.capacity = capacity
        self.sub: Subscription | None = None
        self._seen: set[LogLine] | None = None
        self._dedupe_left = 0

    async def start(self) -> list[LogLine]:
        if self.follow:
            self.sub = self.pipeline.subscribe(self.apps, self.capacity, self.max_bytes)
        if self.apps is None or self.lines <= 0:
            return []
        try:
            first = await newest(self.pipeline, self.apps, self.lines)
        except BaseException:
            self.close()
            raise
        if self.sub is not None and self.sub.pending and first:
            # Lines queued while `first` was read may be in both: filter that many live lines.
            self._seen = set(first)
            self._dedupe_left = self.sub.pending
        return first

    async def next(self, max_items: int = 1_000, wait: float | None = None) -> list[LogLine] | None:
        """The next live lines (waiting up to `wait` seconds; [] when that passes), or None at the end."""
        sub = self.sub
        if sub is None or sub.closed:
            return None
        batch = await sub.get(max_items, wait)
        if batch and self.linger:
            loop = asyncio.get_running_loop()
            since = loop.time() - self._last
            if since < self.linger and len(batch) < max_items:
                await asyncio.sleep(self.linger - since)
                batch += await sub.get(max_items - len(batch), 0)
            self._last = loop.time()
        if self._seen is not None:
            seen = self._seen
            self._dedupe_left -= len(batch)
            if self._dedupe_left <= 0:
                self._seen = None
            batch = [line for line in batch if line not in seen]
        dropped, since = sub.take_dropped()
        if dropped:
            app = batch[0].app if batch else (self.apps[0] if self.apps else "")
            batch.insert(0, overflow_notice(app, dropped, since))
        return batch

    def close(self) -> None:
        if self.sub is not None:
            self.sub.close()


class TextTail:
    """`Tail` for log sessions, whose stream is Akkeris text: the same newest lines, live lines,
    linger, de-duplication and L10 notice, but the live side is a `feeds.TextFeed` of chunks that are
    already rendered (by the syslog workers, or once per group for every session of the app), so a
    chunk costs a join, not a pass over its lines. `start()`, then `next()` until it returns None."""

    def __init__(self, pipeline: LogPipeline, apps: Sequence[str], *, lines: int, follow: bool, capacity: int,
                 max_bytes: int, linger: float = 0.0) -> None:
        self.pipeline = pipeline
        self.apps = apps
        self.lines = lines
        self.follow = follow
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.linger = linger
        self._last = 0.0
        self.feed: TextFeed | None = None
        self._seen: set[LogLine] | None = None
        self._dedupe_left = 0

    async def start(self) -> bytes:
        if self.follow:
            self.feed = self.pipeline.subscribe_text(self.apps, self.capacity, self.max_bytes)
        if not self.apps or self.lines <= 0:
            return b""
        try:
            first = await newest(self.pipeline, self.apps, self.lines)
        except BaseException:
            self.close()
            raise
        if self.feed is not None and self.feed.pending and first:
            # Lines queued while `first` was read may be in both: filter that many live lines.
            self._seen = set(first)
            self._dedupe_left = self.feed.pending
        return render(first) if first else b""

    async def next(self, max_lines: int = 1_000, wait: float | None = None) -> bytes | None:
        """The next live lines as text (waiting up to `wait` seconds; b"" when that passes), or None at
        the end. At most `max_lines` lines and one chunk."""
        feed = self.feed
        if feed is None or feed.closed:
            return None
        if self.linger:
            # Right after a write, sleep the linger out first and then take whatever came: a busy
            # session wakes once per write (waking for the first line and then sleeping cost two).
            loop = asyncio.get_running_loop()
            rest = self._last + self.linger - loop.time()
            if rest > 0:
                await asyncio.sleep(rest)
                if wait is not None:
                    wait = max(0.0, wait - rest)
        chunks = await feed.get(max_lines, wait)
        if chunks and self.linger:
            self._last = asyncio.get_running_loop().time()
        if self._seen is not None:
            chunks = self._dedupe(chunks, self._seen)
        dropped, since_us = feed.take_dropped()
        texts = [text for _, text in chunks]
        if dropped:
            app = next((lines[0].app for lines, _ in chunks if lines), self.apps[0])
            texts.insert(0, render([overflow_notice(app, dropped, since_us)]))
        return b"".join(texts)

    def _dedupe(self, chunks: list[Chunk], seen: set[LogLine]) -> list[Chunk]:
        out: list[Chunk] = []
        for lines, text in chunks:
            if self._dedupe_left > 0:
                self._dedupe_left -= len(lines)
                kept = [line for line in lines if line not in seen]
                if len(kept) != len(lines):
                    lines, text = kept, render(kept)
            out.append((lines, text))
        if self._dedupe_left <= 0:
            self._seen = None
        return out

    def close(self) -> None:
        if self.feed is not None:
            self.feed.close()
