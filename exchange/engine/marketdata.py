"""Per-symbol market-data state: book ``seq``, ``trade_id``, ticker statistics, candles.

Exports: ``SymbolMarket``, ``INTERVALS``.

Contract: the engine calls :meth:`SymbolMarket.on_trade` for every trade of a command and
:meth:`SymbolMarket.close_candles` at the start of every command (after advancing its
clock), so a candle is always the one of the current interval when a trade updates it.
Ticker ``open``/``high``/``low``/``volume`` cover the engine's session (since the engine
was created; they survive snapshots), not a rolling 24 h window.
"""

from __future__ import annotations

from typing import Any

from exchange.engine.types import Candle

__all__ = ["INTERVALS", "SymbolMarket"]

#: (name, length in ns) of the candle intervals, shortest first.
INTERVALS: tuple[tuple[str, int], ...] = (("1s", 1_000_000_000), ("1m", 60_000_000_000))


class SymbolMarket:
    """Counters and statistics of one symbol's public feed."""

    __slots__ = (
        "candles",
        "high",
        "last",
        "low",
        "next_close",
        "open",
        "seq",
        "state",
        "symbol",
        "trade_id",
        "volume",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.state = "open"
        self.seq = 0
        self.trade_id = 0
        self.last: int | None = None
        self.open: int | None = None
        self.high: int | None = None
        self.low: int | None = None
        self.volume = 0
        #: interval name -> [t, o, h, l, c, v] of the current (unclosed) candle, or absent.
        self.candles: dict[str, list[int]] = {}
        #: the earliest end of a current candle (None without candles), kept by on_trade
        self.next_close: int | None = None

    def on_trade(self, price: int, qty: int, now: int) -> None:
        self.last = price
        if self.open is None:
            self.open = self.high = self.low = price
        else:
            if price > self.high:  # type: ignore[operator]
                self.high = price
            if price < self.low:  # type: ignore[operator]
                self.low = price
        self.volume += qty
        candles = self.candles
        for name, length in INTERVALS:
            c = candles.get(name)
            if c is None:
                start = now - now % length
                candles[name] = [start, price, price, price, price, qty]
                if self.next_close is None or start + length < self.next_close:
                    self.next_close = start + length
            else:
                if price > c[2]:
                    c[2] = price
                if price < c[3]:
                    c[3] = price
                c[4] = price
                c[5] += qty

    def candle_events(self, closed: bool) -> list[Candle]:
        """The current candles as events (``closed=False`` after a trade updated them)."""
        return [
            Candle(self.symbol, name, c[0], c[1], c[2], c[3], c[4], c[5], closed)  # type: ignore[arg-type]
            for name, _ in INTERVALS
            if (c := self.candles.get(name)) is not None
        ]

    def close_candles(self, now: int) -> list[Candle]:
        """Close (and forget) every candle whose interval ended at or before ``now``."""
        out: list[Candle] = []
        candles = self.candles
        for name, length in INTERVALS:
            c = candles.get(name)
            if c is not None and c[0] + length <= now:
                out.append(Candle(self.symbol, name, c[0], c[1], c[2], c[3], c[4], c[5], True))  # type: ignore[arg-type]
                del candles[name]
        if out:
            ends = [c[0] + length for name, length in INTERVALS if (c := candles.get(name))]
            self.next_close = min(ends) if ends else None
        return out

    def to_record(self) -> list[Any]:
        return [
            self.state,
            self.seq,
            self.trade_id,
            self.last,
            self.open,
            self.high,
            self.low,
            self.volume,
            self.candles,
        ]

    @classmethod
    def from_record(cls, symbol: str, rec: list[Any]) -> SymbolMarket:
        m = cls(symbol)
        (m.state, m.seq, m.trade_id, m.last, m.open, m.high, m.low, m.volume, candles) = rec
        m.candles = {name: list(c) for name, c in candles.items()}
        ends = [c[0] + length for name, length in INTERVALS if (c := m.candles.get(name))]
        m.next_close = min(ends) if ends else None
        return m
