"""Drive tickwire, orderly-chaos and pyorderbook over the same tape.

Exports: ``Runner`` (protocol), ``TickwireRunner``, ``OrderlyChaosRunner``,
``PyOrderbookRunner``, ``RUNNERS``, ``time_tape``, ``TradeRecord``.

Each runner turns tape ops into its engine's calls. ``prepare`` does the work a gateway
would do before the engine (building command objects); ``apply`` is what is timed. The
engines' semantics differ only where the tape does not reach them: orderly-chaos and
pyorderbook have no IOC limit or replace, so those are emulated (limit then cancel the
rest; cancel then a new limit) and cost what they cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from bench.engine_tapes import CANCEL, IOC, LIMIT, MARKET, REDUCE, REPLACE, Op
from exchange.engine import Engine
from exchange.engine.types import (
    CancelOrder,
    NewOrder,
    OpenAccount,
    Publish,
    ReplaceOrder,
    SymbolSpec,
    Trade,
)

__all__ = [
    "RUNNERS",
    "OrderlyChaosRunner",
    "PyOrderbookRunner",
    "Runner",
    "TickwireRunner",
    "TradeRecord",
    "time_tape",
]

#: (price, qty, maker tape id, taker tape id)
TradeRecord = tuple[int, int, int, int]


class Runner(Protocol):
    name: str

    def prepare(self, op: Op) -> Any: ...
    def apply(self, item: Any) -> None: ...
    def trades(self) -> list[TradeRecord]: ...


class TickwireRunner:
    """tickwire's ``Engine.handle`` with full event output (fills, book deltas, ticker...).

    ``accounts`` traders with ample balances (reservations checked, not risk-exempt);
    order ``i`` comes from account ``i % accounts``, or from its own account when
    ``accounts`` is 0 (no self-trade prevention ever applies: the correctness gate).
    ``batch`` > 0: market data per batch as the server makes it (``market_batches``), a
    ``Publish`` after every ``batch`` commands, its cost inside the timed command that
    ends the batch.
    """

    name = "tickwire"

    def __init__(
        self,
        accounts: int = 64,
        record: bool = False,
        price_decimals: int = 2,
        exec_history: int = 10_000,
        batch: int = 0,
    ) -> None:
        self.spec = SymbolSpec("X", price_decimals, 0, 1, 1, 1)
        self.engine = Engine([self.spec], exec_history=exec_history, market_batches=batch > 0)
        self.batch = batch
        self._left = batch
        if batch:
            self.name = f"tickwire/b{batch}"
        self.accounts = accounts
        self.record = record
        self.ts = 0
        self._trades: list[TradeRecord] = []
        self._tape_id: dict[str, int] = {}
        self._pd = price_decimals
        for i in range(max(accounts, 0)):
            self.engine.handle(OpenAccount(f"a{i}", 10**30, (("X", 10**15),)))

    def _account(self, oid: int) -> str:
        if self.accounts:
            return f"a{oid % self.accounts}"
        name = f"u{oid}"
        self.engine.handle(OpenAccount(name, 10**30, (("X", 10**15),)))
        return name

    def _price(self, ticks: int) -> str:
        text = str(ticks).rjust(self._pd + 1, "0")
        return f"{text[: -self._pd]}.{text[-self._pd :]}" if self._pd else text

    def prepare(self, op: Op) -> Any:
        kind, oid, is_buy, price, qty, new_id = op
        self.ts += 1000
        side = "buy" if is_buy else "sell"
        if kind in (LIMIT, IOC):
            tif = "ioc" if kind == IOC else "gtc"
            return NewOrder(
                self._account(oid),
                f"c{oid}",
                "X",
                side,
                "limit",
                str(qty),
                self._price(price),
                tif,
                False,
                self.ts,
            )
        if kind == MARKET:
            return NewOrder(
                self._account(oid),
                f"c{oid}",
                "X",
                side,
                "market",
                str(qty),
                None,
                None,
                False,
                self.ts,
            )
        account = f"a{oid % self.accounts}" if self.accounts else f"u{oid}"
        if kind == CANCEL:
            return CancelOrder(account, f"c{oid}", None, self.ts)
        if kind == REPLACE:
            return ReplaceOrder(
                account, f"c{new_id}", f"c{oid}", self._price(price), str(qty), self.ts
            )
        return ("reduce", account, oid, qty, self.ts)  # needs the order's state: at apply time

    def apply(self, item: Any) -> None:
        if type(item) is tuple:
            _, account, oid, by, ts = item
            view = self.engine.find_order(account, f"c{oid}")
            if view is None or view.leaves_qty < by:  # orderly-chaos: more than open is an error
                return
            if by == view.leaves_qty:
                item = CancelOrder(account, f"c{oid}", None, ts)
            else:
                item = ReplaceOrder(
                    account, f"r{oid}.{ts}", view.client_order_id, None, str(view.qty - by), ts
                )
        events = self.engine.handle(item)
        if self.record:
            self._note(item, events)
        if self.batch:
            self._left -= 1
            if not self._left:
                self._left = self.batch
                self.finish()

    def finish(self) -> None:
        """Publish what the current batch holds (no-op without batches)."""
        if self.batch:
            events = self.engine.handle(Publish(self.ts))
            if self.record:
                self._note(None, events)

    def _note(self, cmd: Any, events: list[Any]) -> None:
        for e in events:
            if type(e).__name__ == "OrderAccepted" and not e.duplicate:
                coid = e.order.client_order_id
                if coid.startswith("c"):
                    self._tape_id[e.order.order_id] = int(coid[1:])
            elif isinstance(e, Trade):
                self._trades.append(
                    (
                        e.price,
                        e.qty,
                        self._tape_id[e.maker_order_id],
                        self._tape_id[e.taker_order_id],
                    )
                )

    def trades(self) -> list[TradeRecord]:
        return self._trades


class OrderlyChaosRunner:
    """orderly-chaos ``LimitOrderBook`` (C++ via ctypes); errors for unknown ids are ignored."""

    name = "orderly-chaos"

    def __init__(self, record: bool = False) -> None:
        from orderly_chaos import LimitOrderBook, OrderlyChaosError, Side

        self._trades: list[TradeRecord] = []
        handler = self._on_trade if record else None
        self.book = LimitOrderBook(on_trade=handler)
        self.error = OrderlyChaosError
        self.buy, self.sell = Side.BUY, Side.SELL

    def _on_trade(self, t: Any) -> None:
        self._trades.append((t.price, t.quantity, t.maker_id, t.taker_id))

    def prepare(self, op: Op) -> Any:
        return op

    def apply(self, op: Op) -> None:
        kind, oid, is_buy, price, qty, new_id = op
        book = self.book
        side = self.buy if is_buy else self.sell
        try:
            if kind == LIMIT:
                book.limit(side, oid, qty, price)
            elif kind == CANCEL:
                book.cancel(oid)
            elif kind == MARKET:
                book.market(side, oid, qty)
            elif kind == REDUCE:
                book.reduce(oid, qty)
            elif kind == IOC:
                book.limit(side, oid, qty, price)
                if book.has(oid):
                    book.cancel(oid)
            else:  # REPLACE
                book.cancel(oid)
                book.limit(side, new_id, qty, price)
        except self.error:
            pass

    def trades(self) -> list[TradeRecord]:
        return self._trades


class PyOrderbookRunner:
    """pyorderbook ``Book`` (pure Python, Decimal prices, uuid ids)."""

    name = "pyorderbook"

    def __init__(self) -> None:
        import logging

        from pyorderbook import Book, Order, Side

        logging.getLogger("pyorderbook").setLevel(logging.WARNING)
        self.book = Book()
        self.order_cls = Order
        self.bid, self.ask = Side.BID, Side.ASK
        self.orders: dict[int, Any] = {}
        self.big = 10**9

    def prepare(self, op: Op) -> Any:
        return op

    def _cancel(self, oid: int) -> None:
        order = self.orders.pop(oid, None)
        if order is not None and order.id in self.book.order_map:
            self.book.cancel(order)

    def apply(self, op: Op) -> None:
        kind, oid, is_buy, price, qty, new_id = op
        side = self.bid if is_buy else self.ask
        if kind == LIMIT:
            order = self.order_cls(side, "X", price, qty)
            self.orders[oid] = order
            self.book.match(order)
        elif kind == CANCEL:
            self._cancel(oid)
        elif kind in (IOC, MARKET):
            limit = price if kind == IOC else (self.big if is_buy else 1)
            order = self.order_cls(side, "X", limit, qty)
            self.book.match(order)
            if order.id in self.book.order_map:
                self.book.cancel(order)
        elif kind == REDUCE:
            order = self.orders.get(oid)
            if order is not None and order.id in self.book.order_map:
                if qty == order.quantity:
                    self._cancel(oid)
                elif qty < order.quantity:
                    order.quantity -= qty
        else:  # REPLACE
            self._cancel(oid)
            order = self.order_cls(side, "X", price, qty)
            self.orders[new_id] = order
            self.book.match(order)

    def trades(self) -> list[TradeRecord]:
        return []


RUNNERS: dict[str, Callable[[], Runner]] = {
    "tickwire": TickwireRunner,
    "orderly-chaos": OrderlyChaosRunner,
    "pyorderbook": PyOrderbookRunner,
}


def time_tape(runner: Runner, tape: list[Op], wall: bool = False) -> tuple[float, list[int]]:
    """Run the tape; return (CPU seconds of the loop, per-op latencies in ns).

    Preparation (command objects) happens before timing. Latency is the thread's CPU time
    around each ``apply`` (``thread_time_ns``), so a busy machine's preemption does not
    show up as latency (``wall=True`` uses ``perf_counter_ns`` instead). Throughput is ops /
    process CPU time of the same loop, clock reads included.
    """
    items = [runner.prepare(op) for op in tape]
    apply = runner.apply
    clock = time.perf_counter_ns if wall else time.thread_time_ns
    lat = [0] * len(items)
    cpu0 = time.process_time()
    for i, item in enumerate(items):
        t0 = clock()
        apply(item)
        lat[i] = clock() - t0
    cpu = time.process_time() - cpu0
    return cpu, lat
