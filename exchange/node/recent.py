"""Recent trades and candles per symbol, kept for REST (``GET /api/trades``, ``/api/candles``).

Exports: ``RecentMarket``.

The single node keeps them from what it publishes (``core._PublishTap``), a cluster gateway
from the market events of the commands it replicates; both keep them here, rendered.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["RecentMarket"]

Rendered = dict[str, Any]


class RecentMarket:
    """The last ``kept`` trades of each symbol and the last ``kept`` candles of each (symbol,
    interval); a candle updated in place replaces its previous form (same open time ``t``)."""

    def __init__(self, kept: int = 1000) -> None:
        self.kept = kept
        self._trades: dict[str, deque[Rendered]] = {}
        self._candles: dict[tuple[str, str], deque[Rendered]] = {}

    def keep(self, name: str, symbol: str | None, data: Rendered) -> None:
        """Keep one rendered market event if it is a trade or a candle (others are ignored)."""
        if symbol is None:
            return
        if name == "trade":
            q = self._trades.get(symbol)
            if q is None:
                q = self._trades[symbol] = deque(maxlen=self.kept)
            q.append(data)
        elif name == "candle":
            key = (symbol, data["interval"])
            q = self._candles.get(key)
            if q is None:
                q = self._candles[key] = deque(maxlen=self.kept)
            if q and q[-1]["t"] == data["t"]:
                q[-1] = data
            else:
                q.append(data)

    def trades(self, symbol: str, limit: int) -> list[Rendered]:
        return list(self._trades.get(symbol, ()))[-limit:]

    def candles(self, symbol: str, interval: str, limit: int) -> list[Rendered]:
        return list(self._candles.get((symbol, interval), ()))[-limit:]

    def clear(self) -> None:
        """Forget everything (a replay seek: what was kept is from another time)."""
        self._trades.clear()
        self._candles.clear()
