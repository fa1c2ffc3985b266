"""Fixed-window request counters per token ("std") and for the whole organization ("agg")."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    remaining: int
    reset: int  # epoch seconds when the window resets

    def header(self) -> str:
        return f"limit={self.limit},remaining={self.remaining},reset={self.reset}"


class RateLimiter:
    """In-process counters. Bounded: counters of past windows are dropped when a window turns."""

    def __init__(self, std_limit: int, agg_limit: int, window: int, max_tokens: int = 100_000) -> None:
        self.std_limit = std_limit
        self.agg_limit = agg_limit
        self.window = window
        self.max_tokens = max_tokens
        self._window_start = 0
        self._per_token: dict[int, int] = {}
        self._total = 0

    def hit(self, token_id: int, now: float | None = None) -> tuple[Quota, Quota, bool]:
        """Count one request; returns (std, agg, allowed)."""
        now = time.time() if now is None else now
        start = int(now) - int(now) % self.window
        if start != self._window_start:
            self._window_start = start
            self._per_token.clear()
            self._total = 0
        used = self._per_token.get(token_id, 0)
        allowed = used < self.std_limit and self._total < self.agg_limit
        if allowed:
            if token_id not in self._per_token and len(self._per_token) >= self.max_tokens:
                allowed = False  # more distinct tokens in one window than we track: refuse, stay bounded
            else:
                used += 1
                self._per_token[token_id] = used
                self._total += 1
        reset = start + self.window
        std = Quota(self.std_limit, max(0, self.std_limit - used), reset)
        agg = Quota(self.agg_limit, max(0, self.agg_limit - self._total), reset)
        return std, agg, allowed
