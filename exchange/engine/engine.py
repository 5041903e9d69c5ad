"""The matching engine: ``Engine.handle(command) -> list[Event]`` and read-only queries.

Exports: ``Engine``.

Contract (see ``types`` and docs/architecture.md):

* ``handle`` is the only mutator. Every refusal is an ``OrderRejected`` event and changes
  nothing (no order, no key used, no reservation); an exception out of ``handle`` is a bug.
* Events of one command: the direct reply first (ack / reject / cancel), then fills and
  cancels in execution order, then the stop orders its trades reached (each
  ``OrderTriggered``, then that order's fills or cancel; see ``stops``), then market data:
  trades, one ``BookDelta`` per touched symbol, a ``Ticker`` per symbol that traded or
  whose best level changed, candles (closed ones first, then the ones a trade updated).
* ``market_batches=True`` (the server's setting): ``handle`` returns only the private events
  of a command, and market data waits for a ``Publish`` command, which returns the market
  data of every command since the previous one in the same shape, once per batch: all the
  trades, one ``BookDelta`` per changed symbol (``first_seq == seq``, ``seq`` rising by one
  per published delta; levels hold the quantity at the end of the batch, the checksum is
  computed once), a ``Ticker`` per symbol that traded or whose touch changed, closed
  candles, then the current candles of the symbols that traded. Book, ticker and candle
  state after a ``Publish`` equal what the per-command form reaches; only the number of
  deltas (and so ``seq``) differs. ``has_unpublished()`` says whether a ``Publish`` is due.
  A ``SetSymbolState`` ends the batch as a ``Publish`` would: its events are the batch's
  market data, then the ``SymbolStatus`` (a halt never overtakes the trades before it).
* The engine clock is ``max`` of the command ``ts`` values seen; nothing reads a real clock.

Choices left open by the protocol (documented in docs/architecture.md too):

* Unknown account on ``NewOrder``/``ReplaceOrder``: ``INSUFFICIENT_FUNDS`` ("unknown
  account"); on a cancel: ``UNKNOWN_ORDER``.
* ``ReplaceOrder`` amends the order in place: it keeps its ``order_id`` and takes the new
  ``client_order_id`` (both keys then find it). ``qty`` is the new *total* quantity; a
  ``qty`` at or below ``filled_qty`` is refused with ``INVALID_QTY``. The same price with a
  quantity not above the old one keeps queue priority; anything else re-queues (and may
  trade, as an incoming order would). A replace that would take liquidity from a
  post-only order is refused with ``POST_ONLY_WOULD_TAKE``.
* Idempotency keys (and the closed orders they point to) are purged once older than
  ``idempotency_ttl_ns`` of engine time; a key whose order is still open is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from exchange.engine import errors as E
from exchange.engine.accounts import Account
from exchange.engine.core import DAY_NS, KeyQueue
from exchange.engine.errors import Rejection
from exchange.engine.orders import CANCEL, CANCELED, FILLED, Order
from exchange.engine.replace import EngineReplace
from exchange.engine.types import (
    BookDelta,
    CancelAll,
    CanceledAll,
    CancelOrder,
    Command,
    Event,
    NewOrder,
    OpenAccount,
    OrderCanceled,
    Publish,
    ReplaceOrder,
    SetSymbolState,
    SymbolSpec,
    SymbolStatus,
    Tick,
    Ticker,
)
from exchange.engine.validation import NewFields, Raw, parse_new
from shared.values import format_units

__all__ = ["Engine"]


class Engine(EngineReplace):
    """A deterministic, sans-I/O matching engine for a set of symbols."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec],
        *,
        maker_fee_bps: int = 0,
        taker_fee_bps: int = 0,
        idempotency_ttl_ns: int = DAY_NS,
        exec_history: int = 100_000,
        market_batches: bool = False,
    ) -> None:
        super().__init__(
            tuple(symbols), maker_fee_bps, taker_fee_bps, idempotency_ttl_ns, exec_history
        )
        self._parse_caches: dict[str, tuple[dict[str, int], dict[str, int]]] = {
            symbol: ({}, {}) for symbol in self.specs
        }
        self._handlers: dict[type, Callable[[Any], None]] = {
            NewOrder: self._on_new,
            CancelOrder: self._on_cancel,
            ReplaceOrder: self._on_replace,
            CancelAll: self._on_cancel_all,
            OpenAccount: self._on_open_account,
            SetSymbolState: self._on_symbol_state,
            Tick: self._on_tick,
            Publish: self._on_publish,
        }
        #: market data per ``Publish`` instead of per command (see the module docstring)
        self.market_batches = market_batches

    # ------------------------------------------------------------------ the mutator
    def handle(self, cmd: Command) -> list[Event]:
        """Apply one command; return its events (see the module docstring for their order)."""
        ts = cmd.ts
        if ts > self.now:
            self.now = ts
        priv: list[Event] = []
        self._priv = priv
        batches = self.market_batches
        if not batches:
            self._clear_market_data()
        if self.next_candle_close is not None and self.now >= self.next_candle_close:
            self._close_candles()
        if self.key_queue and self.key_queue[0][0] + self.idempotency_ttl_ns <= self.now:
            self._purge_keys(self.key_queue, self.idempotency_ttl_ns)
        if self.key_queues:
            for ttl, queue in self.key_queues.items():
                if queue and queue[0][0] + ttl <= self.now:
                    self._purge_keys(queue, ttl)
        kind = type(cmd)
        if kind is NewOrder:  # direct calls for the common commands (native calls, compiled)
            self._on_new(cmd)
        elif kind is CancelOrder:
            self._on_cancel(cmd)
        elif kind is ReplaceOrder:
            self._on_replace(cmd)
        else:
            handler = self._handlers.get(kind)
            if handler is None:
                raise TypeError(f"not an engine command: {cmd!r}")
            handler(cmd)
        if self._stops_due:
            self._run_stops()
        if batches or (not self._touched and not self._closed):
            return priv
        return self._market_data(priv)

    def set_market_batches(self, on: bool) -> None:
        """Switch between per-command and per-batch market data (recovery replays a tail in
        the mode it was written in, then takes the run's setting). Turning batches off with
        market data unpublished is refused: ``Publish`` first."""
        if on == self.market_batches:
            return
        if not on and self.has_unpublished():
            raise RuntimeError("market data unpublished: Publish before leaving batches")
        self.market_batches = on
        self._clear_market_data()  # the last command's scratch, already published

    def has_unpublished(self) -> bool:
        """Whether market data waits for a ``Publish`` (always False without batches)."""
        return self.market_batches and bool(self._touched or self._closed)

    def _on_publish(self, cmd: Raw) -> None:
        if self._touched or self._closed:
            self._market_data(self._priv)
            self._clear_market_data()

    def _clear_market_data(self) -> None:
        """Forget the trades, touched symbols and closed candles (once published)."""
        self._trades = []
        self._touched = {}
        self._closed = []

    def _market_data(self, out: list[Event]) -> list[Event]:
        trades = self._trades
        out.extend(trades)
        now = self.now
        if not trades:
            traded: dict[str, None] = {}
        elif self.market_batches:
            traded = {t.symbol: None for t in trades}
        else:
            traded = {trades[0].symbol: None}  # one command trades on one symbol
        tickers = []
        for symbol in self._touched:
            book = self.books[symbol]
            market = self.markets[symbol]
            touch = False
            if book.changed_bids or book.changed_asks:
                bids, asks, checksum, touch = book.take_delta()
                market.seq += 1
                out.append(BookDelta(symbol, market.seq, market.seq, bids, asks, checksum, now))
            if touch or symbol in traded:
                tickers.append(
                    Ticker(
                        symbol,
                        book.best_bid(),
                        book.best_ask(),
                        market.last,
                        market.open,
                        market.high,
                        market.low,
                        market.volume,
                        now,
                    )
                )
        out.extend(tickers)
        if self._closed:
            out.extend(self._closed)
        for symbol in traded:
            out.extend(self.markets[symbol].candle_events(False))
        return out

    def _close_candles(self) -> None:
        closed = self._closed
        nxt: int | None = None
        for market in self.markets.values():
            closed.extend(market.close_candles(self.now))
            end = market.next_close
            if end is not None and (nxt is None or end < nxt):
                nxt = end
        self.next_candle_close = nxt

    def _purge_keys(self, queue: KeyQueue, ttl: int) -> None:
        horizon = self.now - ttl
        while queue and queue[0][0] <= horizon:
            ts, name, coid = queue.popleft()
            acct = self.accounts[name]
            entry = acct.keys.get(coid)
            if entry is None or entry[2] != ts:
                continue
            order = self.orders.get(entry[1])
            if order is not None and order.is_open:
                # still open: keep the key, look again one TTL later
                acct.keys[coid] = (entry[0], entry[1], self.now)
                queue.append((self.now, name, coid))
                continue
            del acct.keys[coid]
            if order is not None and order.client_order_id == coid:
                del self.orders[order.order_id]

    # ------------------------------------------------------------------ commands
    def _on_open_account(self, cmd: Raw) -> None:
        if cmd.account in self.accounts:
            return
        acct = Account(cmd.account, cmd.cash, cmd.risk_exempt, self.exec_history)
        if cmd.key_ttl_ns > 0:
            acct.key_ttl = cmd.key_ttl_ns
        for symbol, qty in cmd.positions:
            if symbol in self.specs:
                acct.position(symbol).qty += qty
        for symbol, cost in cmd.costs:
            # A cost basis only for a position the command opened; a negative one is ignored
            # (PositionState keeps cost >= 0 as the basis of |qty|).
            pos = acct.positions.get(symbol)
            if pos is not None and pos.qty != 0 and cost >= 0:
                pos.cost = cost
        self.accounts[cmd.account] = acct

    def _on_symbol_state(self, cmd: Raw) -> None:
        market = self.markets.get(cmd.symbol) if type(cmd.symbol) is str else None
        if market is None or cmd.state not in ("open", "halted"):
            code = E.INVALID_SYMBOL if market is None else E.BAD_REQUEST
            self._reject("", None, code, f"bad symbol state {cmd.symbol!r} {cmd.state!r}")
            return
        market.state = cmd.state
        if self.market_batches:  # the batch ends here: its market data goes before the status
            self._on_publish(cmd)
        self._priv.append(SymbolStatus(cmd.symbol, cmd.state, self.now))

    def _on_tick(self, cmd: Tick) -> None:
        return None

    def _on_new(self, cmd: Raw) -> None:
        try:
            f = parse_new(cmd, self.specs, self._parse_caches)
        except Rejection as r:
            self._reject(cmd.account, cmd.client_order_id, r.code, r.message)
            return
        coid = cmd.client_order_id
        acct = self._account(cmd.account)
        if acct is None:
            self._reject(cmd.account, coid, E.INSUFFICIENT_FUNDS, "unknown account")
            return
        symbol = f.spec.symbol
        fingerprint: tuple[Any, ...] = (
            "new", symbol, f.is_buy, f.order_type, f.price, f.qty, f.tif, f.post_only
        )  # fmt: skip
        if f.stop_price is not None:  # only then: the keys of other orders stay as they were
            fingerprint = (*fingerprint, f.stop_price)
        if coid in acct.keys:
            self._duplicate(acct, coid, fingerprint)
            return
        if self.markets[symbol].state != "open":
            self._reject(cmd.account, coid, E.MARKET_HALTED, f"{symbol} is halted")
            return
        if f.stop_price is not None:
            self._new_stop(acct, coid, f, fingerprint)
            return
        book = self.books[symbol]
        is_buy = f.is_buy
        opposite = book.best_ask() if is_buy else book.best_bid()
        if f.order_type == "market" and opposite is None:
            self._reject(cmd.account, coid, E.NO_LIQUIDITY, "no liquidity on the other side")
            return
        price = f.price
        if (
            f.post_only
            and opposite is not None
            and price is not None
            and (price >= opposite if is_buy else price <= opposite)
        ):
            self._reject(cmd.account, coid, E.POST_ONLY_WOULD_TAKE, "post-only order would take")
            return
        fillable = notional = 0
        if f.tif == "fok" or (f.order_type == "market" and is_buy and not acct.risk_exempt):
            fillable, notional = self.walk(book, acct.name, is_buy, f.price, f.qty)
            if f.tif == "fok" and fillable < f.qty:
                self._reject(cmd.account, coid, E.FOK_NOT_FILLABLE, "not fully fillable")
                return
        reserve = 0
        if not acct.risk_exempt:
            if not is_buy:
                reserve = f.qty
                ok = acct.available_qty(symbol) >= reserve
            else:
                if f.price is None:
                    reserve = self.cash_reservation(symbol, notional, fillable)
                else:
                    reserve = self.buy_reservation(symbol, f.price, f.qty)
                ok = acct.available_cash() >= reserve
            if not ok:
                self._reject(cmd.account, coid, E.INSUFFICIENT_FUNDS, "insufficient funds")
                return
        order = self._open(acct, coid, f, fingerprint, reserve)
        if (
            f.tif == "gtc"
            and price is not None
            and (opposite is None or (price < opposite if is_buy else price > opposite))
        ):  # a passive limit: nothing to match, rest it at once (the common case)
            book.add(order)
            self._touched[symbol] = None
        else:
            self._execute(acct, order)

    def _new_stop(
        self, acct: Account, coid: str, f: NewFields, fingerprint: tuple[Any, ...]
    ) -> None:
        """Accept a stop or stop-limit order: it holds funds as the order it becomes would
        (a stop buy at its stop price, an estimate made good when it triggers) and waits
        outside the book. Its stop price must be on the far side of the last trade, else it
        would trigger at once."""
        symbol = f.spec.symbol
        stop = f.stop_price
        assert stop is not None
        last = self.markets[symbol].last
        if last is not None and (stop <= last if f.is_buy else stop >= last):
            spec = f.spec
            side, where = ("buy", "above") if f.is_buy else ("sell", "below")
            self._reject(acct.name, coid, E.INVALID_PRICE,
                         f"a {side} stop's stop_price must be {where} the last trade "
                         f"({format_units(last, spec.price_decimals)})")  # fmt: skip
            return
        reserve = 0
        if not acct.risk_exempt:
            if f.is_buy:
                reserve = self.buy_reservation(
                    symbol, f.price if f.price is not None else stop, f.qty
                )
                ok = acct.available_cash() >= reserve
            else:
                reserve = f.qty
                ok = acct.available_qty(symbol) >= reserve
            if not ok:
                self._reject(acct.name, coid, E.INSUFFICIENT_FUNDS, "insufficient funds")
                return
        self._add_stop(self._open(acct, coid, f, fingerprint, reserve))

    def _open(
        self, acct: Account, coid: str, f: NewFields, fingerprint: tuple[Any, ...], reserve: int
    ) -> Order:
        """Make the accepted order: its id, its key, its hold of ``reserve``, its ack."""
        self.order_seq += 1
        order = Order(
            self.order_seq, acct.name, coid, f.spec.symbol, f.is_buy, f.order_type, f.price,
            f.qty, f.tif, f.post_only, self.now, f.stop_price,
        )  # fmt: skip
        self.orders[order.order_id] = order
        acct.keys[coid] = (fingerprint, order.order_id, self.now)
        self.key_queue_of(acct).append((self.now, acct.name, coid))
        if reserve:
            order.reserved = reserve
            if f.is_buy:
                acct.reserved_cash += reserve
            else:
                acct.position(f.spec.symbol).reserved += reserve
        acct.open_orders[order.order_id] = order
        self._accepted(acct, order)
        return order

    def _on_cancel(self, cmd: Raw) -> None:
        acct = self._account(cmd.account)
        coid = cmd.client_order_id
        if (coid is None) == (cmd.order_id is None):
            self._reject(cmd.account, coid, E.BAD_REQUEST, "give client_order_id or order_id")
            return
        order = None if acct is None else self._find(acct, coid, cmd.order_id)
        if acct is None or order is None:
            self._reject(cmd.account, coid, E.UNKNOWN_ORDER, "unknown order")
            return
        if order.status is CANCELED:
            self._priv.append(
                OrderCanceled(
                    acct.name,
                    None,
                    order.order_id,
                    order.client_order_id,
                    order.symbol,
                    "canceled",
                    order.filled,
                    self.now,
                    True,
                )
            )
            return
        if order.status is FILLED:
            self._reject(cmd.account, coid, E.ORDER_NOT_OPEN, "order is filled")
            return
        self._cancel_resting(acct, order, "canceled")

    def _cancel_resting(self, acct: Account, order: Order, reason: str) -> None:
        order.transition(CANCEL)
        if order.stop_price is not None and not order.triggered:
            self._remove_stop(order)  # waiting outside the book: no market data changes
        else:
            self.books[order.symbol].remove(order)
            self._touched[order.symbol] = None
        self._release(acct, order)
        del acct.open_orders[order.order_id]
        self._canceled(acct, order, reason)

    def _on_cancel_all(self, cmd: Raw) -> None:
        acct = self._account(cmd.account)
        symbol = cmd.symbol
        if symbol is not None and (type(symbol) is not str or symbol not in self.specs):
            self._reject(cmd.account, None, E.INVALID_SYMBOL, f"unknown symbol {symbol!r}")
            return
        count = 0
        if acct is not None:
            for order in list(acct.open_orders.values()):
                if symbol is None or order.symbol == symbol:
                    self._cancel_resting(acct, order, cmd.reason)
                    count += 1
        name = cmd.account if type(cmd.account) is str else ""
        self._priv.append(CanceledAll(name, count))
