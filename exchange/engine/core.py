"""Engine state and the matching hot path (the base class of ``Engine``).

Exports: ``EngineCore``, ``DAY_NS``.

``EngineCore`` holds every piece of state and the per-command scratch lists; its methods
match an accepted order against the book, settle fills into accounts and keep the
reservations right. ``exchange.engine.engine.Engine`` adds command dispatch and queries.

Reservation rule (see ``accounts``): a buy holds ``notional(limit, leaves) + fee at the
larger bps + 2 cash units per lot`` (the last term absorbs the per-fill ceiling of fees, so
available cash can never go negative however an order is split into fills); a market buy
holds what walking the book costs plus the same fee terms and spends it down.
"""

from __future__ import annotations

from collections import deque

from exchange.engine.accounts import Account, fee_for
from exchange.engine.book import Book
from exchange.engine.marketdata import SymbolMarket
from exchange.engine.orders import CANCEL, Order
from exchange.engine.stops import StopBook
from exchange.engine.types import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    SymbolSpec,
    Trade,
)

__all__ = ["DAY_NS", "EngineCore", "KeyQueue"]

DAY_NS = 24 * 3600 * 1_000_000_000


#: (ts of first use, account, client_order_id) in first-use order, for purging old keys
KeyQueue = deque[tuple[int, str, str]]


class EngineCore:
    """All engine state; see the module docstring."""

    def __init__(
        self,
        symbols: list[SymbolSpec] | tuple[SymbolSpec, ...],
        maker_fee_bps: int,
        taker_fee_bps: int,
        idempotency_ttl_ns: int,
        exec_history: int,
    ) -> None:
        if not symbols:
            raise ValueError("an engine needs at least one symbol")
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in symbols}
        self.cash_decimals: int = max(s.price_decimals + s.qty_decimals for s in symbols)
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self.idempotency_ttl_ns = idempotency_ttl_ns
        self.exec_history = exec_history
        self.scale: dict[str, int] = {
            s.symbol: 10 ** (self.cash_decimals - s.price_decimals - s.qty_decimals)
            for s in symbols
        }
        self.books: dict[str, Book] = {s.symbol: Book(s.symbol) for s in symbols}
        self.markets: dict[str, SymbolMarket] = {s.symbol: SymbolMarket(s.symbol) for s in symbols}
        self.accounts: dict[str, Account] = {}
        #: every order still remembered (open ones always), by order_id
        self.orders: dict[str, Order] = {}
        self.order_seq = 0
        self.now = 0
        self.fees_collected = 0
        #: (ts, account, client_order_id) in first-use order, for purging old keys
        self.key_queue: KeyQueue = deque()
        #: the same for accounts with their own key TTL, by TTL (ns)
        self.key_queues: dict[int, KeyQueue] = {}
        self.next_candle_close: int | None = None
        self._fee_slack = 2 if max(maker_fee_bps, taker_fee_bps) > 0 else 0
        #: waiting stop orders per symbol (a symbol has an entry only while it has some)
        self.stops: dict[str, StopBook] = {}
        #: symbols with waiting stops that traded in this command: their stops are looked at
        #: once the command's own matching is done
        self._stops_due: dict[str, None] = {}
        # per-command scratch (reset by Engine.handle); with market batches the market-data
        # parts (trades, touched symbols, closed candles) run to the next Publish instead
        self._priv: list[Event] = []
        self._trades: list[Trade] = []
        self._touched: dict[str, None] = {}
        self._closed: list[Event] = []

    # ------------------------------------------------------------------ events
    def key_queue_of(self, acct: Account) -> KeyQueue:
        """The purge queue ``acct``'s keys go to (its own TTL's, or the engine's)."""
        if not acct.key_ttl:
            return self.key_queue
        queue = self.key_queues.get(acct.key_ttl)
        if queue is None:
            queue = self.key_queues[acct.key_ttl] = deque()
        return queue

    def _exec(self, acct: Account, event: Event) -> None:
        """Append an execution-stream event (its exec_seq already taken) to reply + history."""
        acct.exec_history.append(event)
        self._priv.append(event)

    def _account(self, name: object) -> Account | None:
        """The account a client command names (None for an unknown or non-string name)."""
        return self.accounts.get(name) if type(name) is str else None

    def _reject(self, account: object, coid: object, code: str, message: str) -> None:
        """A reject; ``account`` and ``coid`` as the client sent them. One that is not a
        string is named ``""`` / None in the event (no account has the name ``""``, so the
        reject reaches only the connection that sent it)."""
        self._priv.append(
            OrderRejected(
                account if type(account) is str else "",
                coid if type(coid) is str else None,
                code,
                message,
            )
        )

    def _accepted(self, acct: Account, order: Order) -> None:
        acct.exec_seq += 1
        self._exec(acct, OrderAccepted(acct.name, order.view(), acct.exec_seq))

    def _canceled(self, acct: Account, order: Order, reason: str) -> None:
        acct.exec_seq += 1
        self._exec(
            acct,
            OrderCanceled(
                acct.name,
                acct.exec_seq,
                order.order_id,
                order.client_order_id,
                order.symbol,
                reason,
                order.filled,
                self.now,
            ),
        )

    # ------------------------------------------------------------------ reservations
    def buy_reservation(self, symbol: str, price: int, qty: int) -> int:
        """Cash a buy of ``qty`` at limit ``price`` must hold (see the module docstring)."""
        return self.cash_reservation(symbol, price * qty * self.scale[symbol], qty)

    def cash_reservation(self, symbol: str, notional: int, qty: int) -> int:
        """Cash to hold for buying ``qty`` worth at most ``notional``, fees included."""
        fee = fee_for(notional, max(self.maker_fee_bps, self.taker_fee_bps))
        return notional + fee + self._fee_slack * (qty // self.specs[symbol].lot_size)

    def walk(
        self, book: Book, account: str, is_buy: bool, limit: int | None, qty: int
    ) -> tuple[int, int]:
        """(fillable qty, its notional) for an incoming order, stopping where STP would."""
        want = qty
        notional = 0
        scale = self.scale[book.symbol]
        for level in book.iter_levels(not is_buy):
            price = level.price
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            node = level.head
            while node is not None:
                if node.account == account:
                    return qty - want, notional
                q = node.leaves if node.leaves < want else want
                want -= q
                notional += price * q * scale
                if not want:
                    return qty, notional
                node = node.next
        return qty - want, notional

    def _release(self, acct: Account, order: Order) -> None:
        """Give back what a closing order still holds."""
        if order.reserved:
            if order.is_buy:
                acct.reserved_cash -= order.reserved
            else:
                acct.position(order.symbol).reserved -= order.reserved
            order.reserved = 0

    # ------------------------------------------------------------------ matching
    def _execute(self, acct: Account, order: Order) -> None:
        """Match an accepted order, then rest it (gtc limit) or expire its remainder."""
        book = self.books[order.symbol]
        stp = self._match(acct, order, book)
        if order.leaves:
            if stp:
                self._cancel_incoming(acct, order, "self_trade")
            elif order.tif == "gtc" and order.price is not None:
                book.add(order)
                acct.open_orders[order.order_id] = order
                self._touched[order.symbol] = None
            else:
                self._cancel_incoming(
                    acct, order, "ioc_expired" if order.tif == "ioc" else "fok_unfilled"
                )
        else:
            self._release(acct, order)
            acct.open_orders.pop(order.order_id, None)

    def _cancel_incoming(self, acct: Account, order: Order, reason: str) -> None:
        order.transition(CANCEL)
        self._release(acct, order)
        acct.open_orders.pop(order.order_id, None)
        self._canceled(acct, order, reason)

    def _match(self, acct: Account, order: Order, book: Book) -> bool:
        """Trade ``order`` against the opposite side; True if stopped by self-trade prevention."""
        is_buy = order.is_buy
        limit = order.price
        account = order.account
        if is_buy:
            levels, keys, sign = book.asks, book.ask_keys, -1
        else:
            levels, keys, sign = book.bids, book.bid_prices, 1
        while order.leaves and keys:
            price = keys[-1] * sign
            if limit is not None and (price > limit if is_buy else price < limit):
                return False
            maker = levels[price].head
            while maker is not None and order.leaves:
                if maker.account == account:
                    return True
                nxt = maker.next
                self._fill(maker, order, price, book)
                maker = nxt
        return False

    def _fill(self, maker: Order, taker: Order, price: int, book: Book) -> None:
        """One execution between a resting ``maker`` and the incoming ``taker``."""
        qty = taker.leaves if taker.leaves < maker.leaves else maker.leaves
        symbol = taker.symbol
        market = self.markets[symbol]
        market.trade_id += 1
        trade_id = market.trade_id
        notional = price * qty * self.scale[symbol]
        maker_fee = fee_for(notional, self.maker_fee_bps) if self.maker_fee_bps else 0
        taker_fee = fee_for(notional, self.taker_fee_bps) if self.taker_fee_bps else 0
        maker.fill(qty)
        taker.fill(qty)
        book.reduce(maker, qty)
        accounts = self.accounts
        macct = accounts[maker.account]
        tacct = accounts[taker.account]
        self._settle(tacct, taker, qty, notional, taker_fee)
        self._settle(macct, maker, qty, notional, maker_fee)
        now = self.now
        tacct.exec_seq += 1
        self._exec(
            tacct,
            OrderFilled(
                tacct.name, tacct.exec_seq, taker.order_id, taker.client_order_id, trade_id,
                symbol, "buy" if taker.is_buy else "sell", price, qty, taker.leaves, "taker",
                taker_fee, now,
            ),
        )  # fmt: skip
        macct.exec_seq += 1
        self._exec(
            macct,
            OrderFilled(
                macct.name, macct.exec_seq, maker.order_id, maker.client_order_id, trade_id,
                symbol, "buy" if maker.is_buy else "sell", price, qty, maker.leaves, "maker",
                maker_fee, now,
            ),
        )  # fmt: skip
        self._trades.append(
            Trade(
                symbol, trade_id, price, qty, "buy" if taker.is_buy else "sell", now,
                maker.order_id, taker.order_id,
            )
        )  # fmt: skip
        market.on_trade(price, qty, now)
        end = market.next_close
        if end is not None and (self.next_candle_close is None or end < self.next_candle_close):
            self.next_candle_close = end
        self._touched[symbol] = None
        if self.stops and symbol in self.stops:
            self._stops_due[symbol] = None
        if not maker.leaves:
            book.remove(maker)
            del macct.open_orders[maker.order_id]

    # ------------------------------------------------------------------ stop orders
    def _add_stop(self, order: Order) -> None:
        stops = self.stops.get(order.symbol)
        if stops is None:
            stops = self.stops[order.symbol] = StopBook()
        stops.add(order)

    def _remove_stop(self, order: Order) -> None:
        stops = self.stops[order.symbol]
        stops.remove(order)
        if not len(stops):
            del self.stops[order.symbol]

    def _run_stops(self) -> None:
        """Trigger every stop order the command's trades reached, one at a time, in the
        order ``StopBook`` gives (each triggered order trades before the next is looked at,
        and its own trades may make more due)."""
        due = self._stops_due
        while due:
            symbol = next(iter(due))
            stops = self.stops.get(symbol)
            last = self.markets[symbol].last
            order = None if stops is None or last is None else stops.pop_triggered(last)
            if order is None:
                del due[symbol]
                continue
            assert stops is not None and last is not None
            if not len(stops):
                del self.stops[symbol]
            self._trigger(order, last)

    def _trigger(self, order: Order, last: int) -> None:
        """``order``'s stop price traded at ``last``: it becomes a market (``stop``) or limit
        (``stop_limit``) order and matches as one arriving now would. What would have refused
        that order at entry cancels it here (no liquidity, a fok not fillable, the funds of a
        market buy), with the reason said."""
        acct = self.accounts[order.account]
        symbol = order.symbol
        assert order.stop_price is not None
        order.triggered = True
        acct.exec_seq += 1
        self._exec(
            acct,
            OrderTriggered(
                acct.name, acct.exec_seq, order.order_id, order.client_order_id, symbol,
                "buy" if order.is_buy else "sell", order.order_type,  # type: ignore[arg-type]
                order.stop_price, last, self.now,
            ),
        )  # fmt: skip
        book = self.books[symbol]
        is_buy = order.is_buy
        if order.price is None and (book.best_ask() if is_buy else book.best_bid()) is None:
            self._cancel_incoming(acct, order, "no_liquidity")
            return
        if order.tif == "fok" or (order.price is None and is_buy and not acct.risk_exempt):
            fillable, notional = self.walk(book, acct.name, is_buy, order.price, order.leaves)
            if order.tif == "fok" and fillable < order.leaves:
                self._cancel_incoming(acct, order, "fok_unfilled")
                return
            if order.price is None and is_buy and not acct.risk_exempt:
                # the hold placed at entry was an estimate at the stop price: hold what
                # walking the book costs now, as a market buy arriving now would
                need = self.cash_reservation(symbol, notional, fillable)
                if need > acct.available_cash() + order.reserved:
                    self._cancel_incoming(acct, order, "insufficient_funds")
                    return
                acct.reserved_cash += need - order.reserved
                order.reserved = need
        self._execute(acct, order)

    def _settle(self, acct: Account, order: Order, qty: int, notional: int, fee: int) -> None:
        """Move cash and inventory for one fill of ``order`` and adjust its reservation."""
        pos = acct.position(order.symbol)
        acct.fees_paid += fee
        self.fees_collected += fee
        if order.is_buy:
            acct.cash -= notional + fee
            pos.apply(qty, notional)
            if acct.risk_exempt:
                return
            if order.price is None:  # market buy: spend the walked reservation down
                new = order.reserved - notional - fee
                new = new if new > 0 else 0
            else:
                new = (
                    self.buy_reservation(order.symbol, order.price, order.leaves)
                    if order.leaves
                    else 0
                )
            acct.reserved_cash += new - order.reserved
            order.reserved = new
        else:
            acct.cash += notional - fee
            pos.apply(-qty, notional)
            if acct.risk_exempt:
                return
            pos.reserved -= qty
            order.reserved -= qty
