"""The replay orders of one LOBSTER symbol, as the engine will hold them.

Exports ``LobsterBook``. Internal to ``exchange.replay.lobster``.

Every method returns the commands that make the engine do the same thing, and updates the
model the way the engine will (FIFO queues per price, price-time fills, amend-down keeps
priority), so later commands refer to orders that exist with the quantities they have.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque

from exchange.engine.types import CancelOrder, Command, NewOrder, PriceQty, ReplaceOrder
from exchange.replay.source import MAKER, TAKER

__all__ = ["LobsterBook"]


def _px(units: int) -> str:
    return f"{units // 10000}.{units % 10000:04d}"


class _Order:
    __slots__ = ("cid", "filled", "price", "qty", "side")

    def __init__(self, cid: str, side: str, price: int, qty: int) -> None:
        self.cid, self.side, self.price, self.qty, self.filled = cid, side, price, qty, 0

    @property
    def leaves(self) -> int:
        return self.qty - self.filled


class LobsterBook:
    """FIFO queues per ``(side, price)`` plus sorted price lists per side."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.levels: dict[tuple[str, int], deque[_Order]] = {}
        self.totals: dict[tuple[str, int], int] = {}  # leaves per level
        self.by_id: dict[int, _Order] = {}
        # ascending prices; the best bid is the last, the best ask the first
        self.prices: dict[str, list[int]] = {"buy": [], "sell": []}
        self._keys: set[str] = set()
        self._serial = 0
        self.corrections = 0  # commands emitted to follow the orderbook file

    # ------------------------------------------------------------------ keys and levels

    def _key(self, base: str) -> str:
        cid = base
        while cid in self._keys:
            self._serial += 1
            cid = f"{base}.{self._serial}"
        self._keys.add(cid)
        return cid

    def _queue(self, side: str, price: int) -> deque[_Order]:
        queue = self.levels.get((side, price))
        if queue is None:
            queue = self.levels[(side, price)] = deque()
            self.totals[(side, price)] = 0
            insort(self.prices[side], price)
        return queue

    def _drop_level(self, side: str, price: int) -> None:
        del self.levels[(side, price)]
        del self.totals[(side, price)]
        lst = self.prices[side]
        del lst[bisect_left(lst, price)]

    def level_qty(self, side: str, price: int) -> int:
        return self.totals.get((side, price), 0)

    def best(self, side: str, n: int) -> list[PriceQty]:
        """The ``n`` best levels of ``side``, best first."""
        lst = self.prices[side]
        chosen = lst[: -n - 1 : -1] if side == "buy" else lst[:n]
        return [(p, self.level_qty(side, p)) for p in chosen]

    # ------------------------------------------------------------------ operations

    def add(
        self, base: str, side: str, price: int, qty: int, ts: int
    ) -> tuple[_Order, list[Command]]:
        """A new resting order. Opposite levels it would cross are stale: taken down first
        (the engine would otherwise cancel the new order as a self-trade)."""
        out: list[Command] = []
        other = "sell" if side == "buy" else "buy"
        lst = self.prices[other]
        while lst and (lst[0] <= price if side == "buy" else lst[-1] >= price):
            p = lst[0] if side == "buy" else lst[-1]
            out += self.remove(other, p, self.level_qty(other, p), None, ts)
            self.corrections += 1
        order = _Order(self._key(base), side, price, qty)
        self._queue(side, price).append(order)
        self.totals[(side, price)] += qty
        out.append(
            NewOrder(
                MAKER,
                order.cid,
                self.symbol,
                side,
                "limit",
                str(qty),
                price=_px(price),
                tif="gtc",
                ts=ts,
            )
        )
        return order, out

    def remove(
        self,
        side: str,
        price: int,
        size: int,
        prefer: _Order | None,
        ts: int,
        *,
        newest_first: bool = False,
    ) -> list[Command]:
        """Take ``size`` off the level: from ``prefer`` first, then in queue order (or from
        the back with ``newest_first``). Cancels orders it empties, amends the others down."""
        out: list[Command] = []
        queue = self.levels.get((side, price))
        if not queue:
            return out
        rest = [o for o in (reversed(queue) if newest_first else queue) if o is not prefer]
        candidates = (
            [prefer]
            if prefer is not None
            and prefer.price == price
            and prefer.side == side
            and prefer in queue
            else []
        ) + rest
        for order in candidates:
            if size <= 0:
                break
            take = min(size, order.leaves)
            size -= take
            self.totals[(side, price)] -= take
            if take == order.leaves:
                out.append(CancelOrder(MAKER, client_order_id=order.cid, ts=ts))
                queue.remove(order)
            else:
                order.qty -= take
                new = self._key(order.cid.split(".")[0] + ".r")
                out.append(ReplaceOrder(MAKER, new, order.cid, qty=str(order.qty), ts=ts))
                order.cid = new
        if not queue:
            self._drop_level(side, price)
        return out

    def execute(self, side: str, price: int, size: int, line: int, ts: int) -> Command:
        """An IOC against resting ``side`` at ``price`` (prints the trade); fills like the engine."""
        buy = side == "sell"  # the taker buys from resting sells
        lst = self.prices[side]
        left = size
        while left > 0 and lst:
            p = lst[0] if buy else lst[-1]
            if (p > price) if buy else (p < price):
                break
            queue = self.levels[(side, p)]
            while queue and left > 0:
                order = queue[0]
                take = min(left, order.leaves)
                order.filled += take
                self.totals[(side, p)] -= take
                left -= take
                if order.leaves == 0:
                    queue.popleft()
            if not queue:
                self._drop_level(side, p)
        cid = self._key(f"X{line}")
        taker_side = "buy" if buy else "sell"
        return NewOrder(
            TAKER,
            cid,
            self.symbol,
            taker_side,
            "limit",
            str(size),
            price=_px(price),
            tif="ioc",
            ts=ts,
        )

    def follow(
        self, bids: tuple[PriceQty, ...], asks: tuple[PriceQty, ...], depth: int, line: int, ts: int
    ) -> list[Command]:
        """Make the visible levels equal the orderbook file's row (``depth`` levels shown).

        Levels the model has inside the visible range but the file does not are taken down;
        missing quantity is added as ``D<line>`` orders at the back of the queue. Needed where
        the messages cannot tell: depth beyond the file's levels coming into view, and orders
        that rested before the open. Removals come first, so nothing crosses."""
        removals: list[Command] = []
        additions: list[Command] = []
        for side, rows in (("buy", bids), ("sell", asks)):
            lst = self.prices[side]
            if (len(rows) >= depth or len(lst) <= len(rows)) and tuple(
                self.best(side, depth)
            ) == rows:
                continue  # the usual case: the messages already explain this row
            want = dict(rows)
            if len(rows) >= depth:  # a full row hides everything beyond its last level
                edge = rows[-1][0]
                visible = (
                    lst[bisect_left(lst, edge) :]
                    if side == "buy"
                    else lst[: bisect_right(lst, edge)]
                )
            else:
                visible = list(lst)
            for p in visible:
                have = self.level_qty(side, p)
                target = want.get(p, 0)
                if have > target:
                    removals += self.remove(side, p, have - target, None, ts, newest_first=True)
            for p, q in rows:
                have = self.level_qty(side, p)
                if have < q:
                    order = _Order(self._key(f"D{line}"), side, p, q - have)
                    self._queue(side, p).append(order)
                    self.totals[(side, p)] += q - have
                    additions.append(
                        NewOrder(
                            MAKER,
                            order.cid,
                            self.symbol,
                            side,
                            "limit",
                            str(q - have),
                            price=_px(p),
                            tif="gtc",
                            ts=ts,
                        )
                    )
        self.corrections += len(removals) + len(additions)
        return removals + additions
