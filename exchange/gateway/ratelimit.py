"""Token buckets for per-connection and per-account rate limits.

Exports: ``TokenBucket``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take()`` is False when empty.

    The clock is injectable so tests control time.
    """

    __slots__ = ("_clock", "_stamp", "burst", "rate", "tokens")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self._clock = clock
        self._stamp = clock()

    def take(self, cost: float = 1.0) -> bool:
        now = self._clock()
        elapsed = now - self._stamp
        self._stamp = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
