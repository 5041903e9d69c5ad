"""One symbol's limit order book: integer price levels, a FIFO per level, O(1) cancel.

Exports: ``Book``, ``PriceLevel`` (defined beside ``Order`` in ``orders``).

Layout (chosen for the matching hot path):

* ``bids``/``asks``: ``dict[price, PriceLevel]``; each ``PriceLevel`` is an intrusive doubly linked
  list of resting ``Order`` objects (head = oldest), so adding at the tail, taking from the
  head and unlinking any order by reference are all O(1).
* ``bid_prices`` ascending and ``ask_keys`` (negated ask prices) ascending: the best price
  is always the *last* element, so consuming the touch is ``list.pop()``; a new level is
  placed with ``bisect.insort``.
* ``changed_bids``/``changed_asks``: the prices whose total quantity changed since the
  last :meth:`Book.take_changes`, for the per-command ``BookDelta``.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, insort
from collections.abc import Iterable

from exchange.engine.orders import Order, PriceLevel

__all__ = ["Book", "PriceLevel"]


class Book:
    """The resting orders of one symbol. The engine keeps it uncrossed at rest."""

    __slots__ = (
        "_checksum",
        "ask_keys",
        "asks",
        "bid_prices",
        "bids",
        "changed_asks",
        "changed_bids",
        "symbol",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[int, PriceLevel] = {}
        self.asks: dict[int, PriceLevel] = {}
        self.bid_prices: list[int] = []
        self.ask_keys: list[int] = []
        self.changed_bids: dict[int, None] = {}
        self.changed_asks: dict[int, None] = {}
        self._checksum: int | None = None  # of the book as of the last take_delta

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return -self.ask_keys[-1] if self.ask_keys else None

    def best_level(self, is_bid: bool) -> PriceLevel | None:
        if is_bid:
            return self.bids[self.bid_prices[-1]] if self.bid_prices else None
        return self.asks[-self.ask_keys[-1]] if self.ask_keys else None

    def levels(self, is_bid: bool, depth: int | None = None) -> tuple[tuple[int, int], ...]:
        """(price, qty) levels of one side, best first, at most ``depth`` of them."""
        if is_bid:
            keys = self.bid_prices if depth is None else self.bid_prices[-depth:] if depth else []
            side = self.bids
            return tuple((p, side[p].qty) for p in reversed(keys))
        keys = self.ask_keys if depth is None else self.ask_keys[-depth:] if depth else []
        side = self.asks
        return tuple((-k, side[-k].qty) for k in reversed(keys))

    def iter_levels(self, is_bid: bool) -> Iterable[PriceLevel]:
        """Levels of one side, best first (do not mutate the book while iterating)."""
        if is_bid:
            for p in reversed(self.bid_prices):
                yield self.bids[p]
        else:
            for k in reversed(self.ask_keys):
                yield self.asks[-k]

    def checksum(self) -> int:
        """PROTOCOL.md section 4 CRC32 over the 10 best levels a side: the same value as
        ``shared.checksum.book_checksum`` over the rendered levels (the canonical decimal
        with ``.`` removed and leading zeros stripped is the integer units' decimal form, so
        no formatting is needed)."""
        asks = self.asks
        bids = self.bids
        parts = [f"{-k}{asks[-k].qty}" for k in self.ask_keys[:-11:-1]]
        parts += [f"{p}{bids[p].qty}" for p in self.bid_prices[:-11:-1]]
        return zlib.crc32("".join(parts).encode())

    # ------------------------------------------------------------------ mutation
    def add(self, order: Order) -> None:
        """Append a resting order (``price`` set, ``leaves`` > 0) at the tail of its level."""
        price = order.price
        assert price is not None
        if order.is_buy:
            side = self.bids
            level = side.get(price)
            if level is None:
                level = side[price] = PriceLevel(price)
                insort(self.bid_prices, price)
            self.changed_bids[price] = None
        else:
            side = self.asks
            level = side.get(price)
            if level is None:
                level = side[price] = PriceLevel(price)
                insort(self.ask_keys, -price)
            self.changed_asks[price] = None
        tail = level.tail
        order.prev = tail
        order.next = None
        if tail is None:
            level.head = order
        else:
            tail.next = order
        level.tail = order
        level.qty += order.leaves
        level.count += 1
        order.level = level

    def remove(self, order: Order) -> None:
        """Unlink a resting order; its remaining ``leaves`` leave the level's total."""
        level = order.level
        assert level is not None
        prev, nxt = order.prev, order.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt.prev = prev
        order.prev = order.next = None
        order.level = None
        level.qty -= order.leaves
        level.count -= 1
        price = level.price
        if order.is_buy:
            self.changed_bids[price] = None
            if level.count == 0:
                del self.bids[price]
                prices = self.bid_prices
                if prices[-1] == price:
                    prices.pop()
                else:
                    del prices[bisect_left(prices, price)]
        else:
            self.changed_asks[price] = None
            if level.count == 0:
                del self.asks[price]
                keys = self.ask_keys
                if keys[-1] == -price:
                    keys.pop()
                else:
                    del keys[bisect_left(keys, -price)]

    def reduce(self, order: Order, qty: int) -> None:
        """Lower a resting order's level total by ``qty`` (the caller lowers its leaves)."""
        level = order.level
        assert level is not None
        level.qty -= qty
        if order.is_buy:
            self.changed_bids[level.price] = None
        else:
            self.changed_asks[level.price] = None

    def take_changes(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """(bids, asks) changed since the last call, as (price, qty-now) with 0 = removed."""
        bids = self.bids
        asks = self.asks
        cb = tuple((p, lv.qty if (lv := bids.get(p)) else 0) for p in self.changed_bids)
        ca = tuple((p, lv.qty if (lv := asks.get(p)) else 0) for p in self.changed_asks)
        self.changed_bids = {}
        self.changed_asks = {}
        self._checksum = None
        return cb, ca

    def take_delta(
        self,
    ) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...], int, bool]:
        """(bids, asks, checksum, touch) for the changes since the last call, then forget them.

        ``bids``/``asks`` are as in :meth:`take_changes`. The checksum is recomputed only
        when a change reaches the 10 best levels of a side (a level removed from the top 10
        was at or above the new 10th price, so the test also sees removals). ``touch`` is
        True when a change reached the best price of a side (ticker bid/ask may differ).
        """
        bids, asks = self.bids, self.asks
        prices, keys = self.bid_prices, self.ask_keys
        bid_edge = prices[-10] if len(prices) >= 10 else None
        ask_edge = -keys[-10] if len(keys) >= 10 else None
        best_bid = prices[-1] if prices else None
        best_ask = -keys[-1] if keys else None
        top = touch = False
        out_b = []
        for p in self.changed_bids:
            lv = bids.get(p)
            out_b.append((p, lv.qty if lv is not None else 0))
            if bid_edge is None or p >= bid_edge:
                top = True
                if best_bid is None or p >= best_bid:
                    touch = True
        out_a = []
        for p in self.changed_asks:
            lv = asks.get(p)
            out_a.append((p, lv.qty if lv is not None else 0))
            if ask_edge is None or p <= ask_edge:
                top = True
                if best_ask is None or p <= best_ask:
                    touch = True
        self.changed_bids = {}
        self.changed_asks = {}
        checksum = self._checksum
        if top or checksum is None:
            checksum = self._checksum = self.checksum()
        return tuple(out_b), tuple(out_a), checksum, touch

    def has_changes(self) -> bool:
        return bool(self.changed_bids or self.changed_asks)
