"""What a bounded drop-oldest queue lost: in all, and since its reader last asked — how many and
since when, which is what Logplex's L10 notice reports ("N messages dropped since …")."""

from __future__ import annotations

import time


class Drops:
    __slots__ = ("_since", "pending", "total")

    def __init__(self) -> None:
        self.total = 0
        self.pending = 0  # not yet reported
        self._since = 0  # µs: the first of the pending drops

    def add(self, n: int, since: int = 0) -> None:
        """`n` more lost, the first of them at `since` (µs; 0: now)."""
        if n <= 0:
            return
        if not self.pending:
            self._since = since or time.time_ns() // 1000
        elif since:
            self._since = min(self._since, since)
        self.pending += n
        self.total += n

    def take(self) -> tuple[int, int]:
        """(lost since the last call, time of the first of those in µs), and start over."""
        pending, since = self.pending, self._since
        self.pending = 0
        return pending, since
