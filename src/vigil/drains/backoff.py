"""Exponential backoff, capped, with jitter: how long a drain waits before reconnecting or retrying."""

from __future__ import annotations

import random


class Backoff:
    """`first`, then twice as long each time up to `cap`; each wait is drawn from [½, 1] of that so
    that drains failing together (a receiver restarting) do not come back in lock step."""

    def __init__(self, first: float, cap: float, rng: random.Random | None = None) -> None:
        if first <= 0 or cap < first:
            raise ValueError("backoff needs 0 < first <= cap")
        self.first = first
        self.cap = cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The longest the next wait can be."""
        return min(self.cap, self.first * 2 ** min(self.attempts, 62))

    def next(self) -> float:
        wait = self.ceiling() * (0.5 + self._rng.random() / 2)
        self.attempts += 1
        return wait

    def reset(self) -> None:
        self.attempts = 0
