"""Replace (amend in place), idempotent duplicates and order lookup.

Exports: ``EngineReplace`` (the third layer of the engine's class chain: see ``queries``).

A replace keeps the ``order_id`` and takes the new ``client_order_id``; ``qty`` is the new
total quantity and must exceed ``filled_qty`` (else ``INVALID_QTY``). The same price with a
quantity not above the old one keeps queue priority; anything else re-queues at the tail of
the new price level and may trade like an incoming order (self-trade prevention included).
"""

from __future__ import annotations

from typing import Any

from exchange.engine import errors as E
from exchange.engine.accounts import Account
from exchange.engine.errors import Rejection
from exchange.engine.orders import AMEND, Order
from exchange.engine.queries import EngineQueries
from exchange.engine.types import OrderAccepted
from exchange.engine.validation import Raw, check_coid, parse_price, parse_qty

__all__ = ["EngineReplace"]


class EngineReplace(EngineQueries):
    """``ReplaceOrder`` handling plus the key lookups shared by every order command."""

    def _duplicate(self, acct: Account, coid: str, fingerprint: tuple[Any, ...]) -> None:
        """Answer a request whose key is already used: duplicate ack or key-reuse reject."""
        stored, order_id, _ = acct.keys[coid]
        order = self.orders.get(order_id)
        if stored != fingerprint or order is None:
            self._reject(
                acct.name,
                coid,
                E.DUPLICATE_CLIENT_ORDER_ID,
                "client_order_id reused with a different request",
            )
            return
        self._priv.append(OrderAccepted(acct.name, order.view(), None, True))

    def _find(self, acct: Account, coid: object, order_id: object) -> Order | None:
        """The order a client names by key or id (either may be any client value)."""
        if coid is not None:
            entry = acct.keys.get(coid) if type(coid) is str else None
            return None if entry is None else self.orders.get(entry[1])
        order = self.orders.get(order_id) if type(order_id) is str else None
        return order if order is not None and order.account == acct.name else None

    def _on_replace(self, cmd: Raw) -> None:
        coid = cmd.client_order_id
        try:
            check_coid(coid)
            acct = self._account(cmd.account)
            if acct is None:
                raise Rejection(E.INSUFFICIENT_FUNDS, "unknown account")
            order = (
                self._find(acct, cmd.orig_client_order_id, None)
                if type(cmd.orig_client_order_id) is str
                else None
            )
            if order is None:
                raise Rejection(E.UNKNOWN_ORDER, "unknown orig_client_order_id")
            spec = self.specs[order.symbol]
            if cmd.price is None and cmd.qty is None:
                raise Rejection(E.BAD_REQUEST, "replace needs price and/or qty")
            price = order.price if cmd.price is None else parse_price(cmd.price, spec)
            qty = order.qty if cmd.qty is None else parse_qty(cmd.qty, spec)
        except Rejection as r:
            self._reject(cmd.account, coid, r.code, r.message)
            return
        fingerprint = ("replace", cmd.orig_client_order_id, price, qty)
        if coid in acct.keys:
            self._duplicate(acct, coid, fingerprint)
            return
        try:
            new_price = self._check_replace(acct, order, price, qty)
        except Rejection as r:
            self._reject(cmd.account, coid, r.code, r.message)
            return
        self._amend(acct, order, coid, fingerprint, new_price, qty)

    def _check_replace(self, acct: Account, order: Order, price: int | None, qty: int) -> int:
        """Raise ``Rejection`` unless the replace may go ahead; return the new price."""
        if not order.is_open:
            raise Rejection(E.ORDER_NOT_OPEN, f"order is {order.status}")
        if order.stop_price is not None:
            raise Rejection(
                E.INVALID_TYPE, "a stop order cannot be replaced: cancel it and send a new one"
            )
        if price is None:
            raise Rejection(E.INVALID_PRICE, "a market order cannot be replaced")
        if self.markets[order.symbol].state != "open":
            raise Rejection(E.MARKET_HALTED, f"{order.symbol} is halted")
        if qty <= order.filled:
            raise Rejection(E.INVALID_QTY, "qty must exceed filled_qty")
        book = self.books[order.symbol]
        opposite = book.best_ask() if order.is_buy else book.best_bid()
        if (
            order.post_only
            and opposite is not None
            and (price >= opposite if order.is_buy else price <= opposite)
        ):
            raise Rejection(E.POST_ONLY_WOULD_TAKE, "post-only order would take")
        if acct.risk_exempt:
            return price
        leaves = qty - order.filled
        if order.is_buy:
            extra = self.buy_reservation(order.symbol, price, leaves) - order.reserved
            if extra > acct.available_cash():
                raise Rejection(E.INSUFFICIENT_FUNDS, "insufficient funds")
        elif leaves - order.reserved > acct.available_qty(order.symbol):
            raise Rejection(E.INSUFFICIENT_FUNDS, "insufficient inventory")
        return price

    def _amend(
        self,
        acct: Account,
        order: Order,
        coid: str,
        fingerprint: tuple[Any, ...],
        price: int,
        qty: int,
    ) -> None:
        book = self.books[order.symbol]
        keep_priority = price == order.price and qty <= order.qty
        order.transition(AMEND)
        leaves = qty - order.filled
        if keep_priority:
            book.reduce(order, order.leaves - leaves)
            order.leaves = leaves
            order.qty = qty
        else:
            book.remove(order)
            order.price = price
            order.qty = qty
            order.leaves = leaves
        self._touched[order.symbol] = None
        order.client_order_id = coid
        acct.keys[coid] = (fingerprint, order.order_id, self.now)
        self.key_queue_of(acct).append((self.now, acct.name, coid))
        if not acct.risk_exempt:
            new = self.buy_reservation(order.symbol, price, leaves) if order.is_buy else leaves
            if order.is_buy:
                acct.reserved_cash += new - order.reserved
            else:
                acct.position(order.symbol).reserved += new - order.reserved
            order.reserved = new
        self._accepted(acct, order)
        if not keep_priority:
            self._execute(acct, order)
