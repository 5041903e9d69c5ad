"""Token buckets for per-connection and per-account rate limits.

Exports: ``TokenBucket``, ``BucketMap``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["BucketMap", "TokenBucket"]


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


class BucketMap:
    """One :class:`TokenBucket` per key (a client address), made on first use.

    ``rate`` 0 switches the limit off (``take`` is always True). Bounded: past ``max_keys``
    the oldest tenth of the buckets is forgotten (such a key starts again with a full
    bucket), so a stream of new keys cannot grow memory without end.
    """

    __slots__ = ("_buckets", "_clock", "burst", "max_keys", "rate")

    def __init__(
        self,
        rate: float,
        burst: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, cost: float = 1.0) -> bool:
        if not self.rate:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                for old in list(self._buckets)[: max(1, self.max_keys // 10)]:
                    del self._buckets[old]
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
        return bucket.take(cost)
