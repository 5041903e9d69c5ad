"""What the simulator may see of the market: a small read-only ``MarketView`` Protocol.

Exports ``MarketView`` and ``EngineMarketView`` (the view backed by an in-process engine).

The simulator never mutates anything through a view; its only way to act is the commands it
returns. A view must answer from the state *after* every command already submitted (the
runner awaits each submission before the next step), so agents see their own orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from exchange.engine.types import BookSnapshot, OrderView

__all__ = ["EngineMarketView", "MarketView"]


class MarketView(Protocol):
    """Read-only market state for the agents."""

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        """Best bid and best ask price (price units) of ``symbol``; ``None`` for an empty side."""
        ...

    def open_orders(self, account: str, symbol: str) -> Sequence[OrderView]:
        """The open (``open`` or ``partially_filled``) orders of ``account`` in ``symbol``."""
        ...


class _EngineQueries(Protocol):
    def book_snapshot(self, symbol: str, depth: int | None = None) -> BookSnapshot: ...

    def open_orders(self, account: str, symbol: str | None = None) -> list[OrderView]: ...


class EngineMarketView:
    """A ``MarketView`` answering from an in-process ``Engine`` (its read-only queries)."""

    __slots__ = ("_engine",)

    def __init__(self, engine: _EngineQueries) -> None:
        self._engine = engine

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        snap = self._engine.book_snapshot(symbol, 1)
        bid = snap.bids[0][0] if snap.bids else None
        ask = snap.asks[0][0] if snap.asks else None
        return bid, ask

    def open_orders(self, account: str, symbol: str) -> Sequence[OrderView]:
        return self._engine.open_orders(account, symbol)
