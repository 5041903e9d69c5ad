"""The hub's mirror of every symbol's full book, kept from the events it publishes.

Exports: ``BookMirror``.

Built on ``shared.book.L2Book`` with ``verify=False``: the engine already checked seq and
checksum, and this runs once per published delta. ``version(symbol)`` rises on every change
to a symbol's book or last trade id, so callers can cache encoded snapshots.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.book import L2Book

__all__ = ["BookMirror"]

log = logging.getLogger("tickwire.hub")


class BookMirror:
    """``apply`` book/snapshot/trade payloads; ``snapshot(symbol)`` gives the full book."""

    __slots__ = ("_books", "_versions")

    def __init__(self) -> None:
        self._books: dict[str, L2Book] = {}
        self._versions: dict[str, int] = {}

    @property
    def symbols(self) -> list[str]:
        return sorted(self._books)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._books

    def version(self, symbol: str) -> int:
        return self._versions.get(symbol, 0)

    def apply(self, name: str, symbol: str, payload: dict[str, Any]) -> None:
        """Apply a ``book``, ``snapshot`` or ``trade`` payload of ``symbol``."""
        book = self._books.get(symbol)
        if book is None:
            # Unseeded symbol: start from an empty book at seq 0.
            book = self._books[symbol] = L2Book(symbol, verify=False)
            empty = {"symbol": symbol, "seq": 0, "bids": [], "asks": [], "last_trade_id": 0}
            book.apply_snapshot({**empty, "checksum": 0})
        self._versions[symbol] = self._versions.get(symbol, 0) + 1
        if name == "book":
            # apply_levels, not apply_delta: apply_delta's checks cost about 2x here.
            if payload["first_seq"] != (book.seq or 0) + 1:
                log.error("book delta for %s does not follow the hub's book", symbol)
            book.apply_levels(payload["bids"], payload["asks"])
            book.seq = payload["seq"]
        elif name == "trade":
            book.last_trade_id = int(payload["trade_id"])
        else:
            book.apply_snapshot(payload)

    def snapshot(self, symbol: str) -> dict[str, Any]:
        """The ``snapshot`` payload (every level). ``KeyError`` for an unknown symbol."""
        return self._books[symbol].to_snapshot()
