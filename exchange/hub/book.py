"""The hub's own L2 book per symbol, kept from the deltas it publishes.

Exports: ``HubBook``.

It trusts its input (the engine's rendered payloads, already checked by the engine), so it
does no checksum work on the publish path: it stores levels as canonical strings and takes
``seq`` and ``checksum`` from the payloads. The full snapshot payload is built (sorted) only
when asked and cached until the next change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["HubBook"]


class HubBook:
    """Full-depth book of one symbol. ``snapshot_payload()`` is the §4 ``snapshot`` data."""

    __slots__ = ("_cache", "asks", "bids", "checksum", "last_trade_id", "seq", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = 0
        self.checksum = 0
        self.last_trade_id = 0
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self._cache: dict[str, Any] | None = None

    def apply_snapshot(self, payload: dict[str, Any]) -> None:
        self.seq = int(payload["seq"])
        self.checksum = int(payload.get("checksum", 0))
        self.bids = {p: q for p, q in payload["bids"]}
        self.asks = {p: q for p, q in payload["asks"]}
        if "last_trade_id" in payload:
            self.last_trade_id = int(payload["last_trade_id"])
        self._cache = None

    def apply_delta(self, payload: dict[str, Any]) -> bool:
        """Apply a ``book`` payload; ``False`` (and no change) if it does not follow ``seq``."""
        if payload["first_seq"] != self.seq + 1:
            return False
        for side, levels in ((self.bids, payload["bids"]), (self.asks, payload["asks"])):
            for price, qty in levels:
                if _is_zero(qty):
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.seq = payload["seq"]
        self.checksum = payload["checksum"]
        self._cache = None
        return True

    def note_trade(self, trade_id: int) -> None:
        self.last_trade_id = trade_id
        self._cache = None

    def snapshot_payload(self) -> dict[str, Any]:
        """The ``snapshot`` data: every level, best first. Do not mutate the result."""
        cached = self._cache
        if cached is None:
            cached = self._cache = {
                "symbol": self.symbol,
                "seq": self.seq,
                "bids": [[p, q] for p, q in sorted(self.bids.items(), key=_key, reverse=True)],
                "asks": [[p, q] for p, q in sorted(self.asks.items(), key=_key)],
                "last_trade_id": self.last_trade_id,
                "checksum": self.checksum,
            }
        return cached


def _key(item: tuple[str, str]) -> Decimal:
    return Decimal(item[0])


def _is_zero(qty: str) -> bool:
    return qty.strip("0.") == ""
