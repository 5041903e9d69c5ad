"""Stop orders waiting for their trigger, per symbol, in the order they trigger.

Exports: ``StopBook``.

A buy stop triggers when a trade prints at or above its stop price, a sell stop at or
below. Of the stops a price triggers, the buy with the lowest stop price (the sell with the
highest) goes first, and at the same stop price the older one; when a buy and a sell are
both due (a trade crossing both), the older order goes first. A triggered order trades
before the next is looked at, so a cascade (one stop's fills triggering the next) runs in
that order too, one order at a time, and deterministically.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from exchange.engine.orders import Order

__all__ = ["StopBook"]

#: (sort key of the stop price, order seq, the order): buys sort by price, sells by -price
_Entry = tuple[int, int, Order]


class StopBook:
    """The waiting stop orders of one symbol (``Order.waiting``), buys and sells apart."""

    __slots__ = ("buys", "sells")

    def __init__(self) -> None:
        self.buys: list[_Entry] = []
        self.sells: list[_Entry] = []

    def __len__(self) -> int:
        return len(self.buys) + len(self.sells)

    def add(self, order: Order) -> None:
        stop = order.stop_price
        assert stop is not None
        if order.is_buy:
            insort(self.buys, (stop, order.seq, order))
        else:
            insort(self.sells, (-stop, order.seq, order))

    def remove(self, order: Order) -> None:
        """Take a waiting ``order`` out (a cancel); an order not here is a bug."""
        stop = order.stop_price
        assert stop is not None
        entries = self.buys if order.is_buy else self.sells
        key = stop if order.is_buy else -stop
        i = bisect_left(entries, (key, order.seq))  # a 2-tuple sorts before its 3-tuples
        if i == len(entries) or entries[i][2] is not order:
            raise KeyError(f"order {order.order_id} is not a waiting stop")
        del entries[i]

    def pop_triggered(self, last: int) -> Order | None:
        """The next stop order a trade at ``last`` triggers, taken out; None if none is due."""
        buy = self.buys[0] if self.buys and self.buys[0][0] <= last else None
        sell = self.sells[0] if self.sells and -self.sells[0][0] >= last else None
        if buy is not None and (sell is None or buy[1] < sell[1]):
            del self.buys[0]
            return buy[2]
        if sell is not None:
            del self.sells[0]
            return sell[2]
        return None

    def orders(self) -> list[Order]:
        """Every waiting order, oldest first."""
        return sorted((e[2] for e in self.buys + self.sells), key=lambda o: o.seq)
