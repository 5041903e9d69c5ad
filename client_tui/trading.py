"""Order-ticket, order and ladder actions of the trading terminal.

Exports ``TradingActions``, the base class of ``client_tui.app.TickwireApp`` that holds the
models and every action that builds or sends an order (so the app module stays about
layout, messages and drawing). Contract: requests are built by the ``OrderTracker`` (key
first) and handed to ``Connection.send`` in a worker; nothing here touches a socket.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from textual.app import App
from textual.reactive import reactive

from client_tui.connection import Connection
from client_tui.model.ladder import LadderState, choose_step
from client_tui.model.market import MarketState, SymbolMarket
from client_tui.model.orders import OrderTracker, Portfolio
from client_tui.model.sizing import check_on_grid, default_size, step_size
from client_tui.model.stops import (
    ORDER_TYPES,
    STOP_TYPES,
    TIF_CHOICES,
    default_stop,
    stop_problem,
    takes_price,
)
from client_tui.screens import ConfirmScreen, ReplaceScreen
from client_tui.widgets import OrdersPanel, OrderTicket
from shared.values import InvalidDecimal, to_units

__all__ = ["TradingActions"]


class ShuttingDown(Exception):
    """The main screen is gone: the app is exiting."""


class TradingActions(App[None]):
    """Models plus the trading actions; subclassed once, by ``TickwireApp``."""

    symbol: reactive[str] = reactive("")

    market: MarketState
    tracker: OrderTracker
    portfolio: Portfolio
    conn: Connection
    ladders: dict[str, LadderState]
    confirm_notional: Decimal | None
    default_notional: Decimal
    #: the ticket's size follows ``default_size`` until the trader chooses one
    auto_size: bool = True
    #: the ticket's stop price follows the cursor (``default_stop``) until the trader types one
    auto_stop: bool = True
    #: the key of the last order the ticket sent (its reject shows on the ticket)
    last_sent: str | None = None
    #: ring the terminal bell on each live fill (``--no-bell`` turns it off)
    bell_on_fill: bool = True
    _dirty: set[str]

    def _q(self, selector: Any, expect: Any = None) -> Any:
        # Widgets live on the main screen; ``App.query_one`` would search a modal on top.
        if not self.screen_stack:
            raise ShuttingDown
        main = self.screen_stack[0]
        return main.query_one(selector) if expect is None else main.query_one(selector, expect)

    def active(self) -> SymbolMarket | None:
        """The market state of the active symbol."""
        return self.market.symbols.get(self.symbol)

    def marks(self) -> dict[str, Decimal | None]:
        """Mark price per symbol: the mid when both sides exist, else the last trade."""
        out: dict[str, Decimal | None] = {}
        for name, m in self.market.symbols.items():
            bid, ask = m.best_bid, m.best_ask
            if bid is not None and ask is not None:
                out[name] = Decimal(bid + ask) / 2 / (10**m.info.price_decimals)
            else:
                last = m.last_price()
                out[name] = Decimal(str(last)) if last is not None else None
        return out

    def action_cursor(self, ticks: int) -> None:
        """Move the ladder cursor; the ticket's price follows it."""
        state = self.ladders.get(self.symbol)
        if state is not None:
            state.move_cursor(ticks)
            self._sync_ticket_price()
            self._dirty.add("ladder")

    def _sync_ticket_price(self) -> None:
        state = self.ladders.get(self.symbol)
        m = self.active()
        if state is not None and state.cursor is not None and m is not None:
            self._q(OrderTicket).price = m.info.price(state.cursor)
            self._apply_default_stop()
            self._update_notional()

    def _apply_default_stop(self) -> None:
        """A stop order's stop price follows the cursor (on the side of the last trade the
        server accepts) until the trader types one."""
        ticket = self._q(OrderTicket)
        m, state = self.active(), self.ladders.get(self.symbol)
        if m is None:
            return
        last = m.last_trade()
        ticket.last_trade = m.info.price(last) if last is not None else ""
        if ticket.order_type not in STOP_TYPES or not self.auto_stop:
            return
        cursor = state.cursor if state is not None else None
        stop = default_stop(ticket.side, cursor, last, m.info.tick)
        ticket.stop_price = m.info.price(stop) if stop is not None else ""

    def action_side(self, side: str) -> None:
        """Ticket: this side, at the ladder cursor's price."""
        ticket = self._q(OrderTicket)
        ticket.side = side
        self._sync_ticket_price()

    def action_size(self, steps: int) -> None:
        """Ticket: the next preset size up/down (1, 2, 5 x 10^k lots; ``model.sizing``)."""
        m = self.active()
        if m is None:
            return
        info = m.info
        ticket = self._q(OrderTicket)
        try:
            units = to_units(ticket.qty, info.qty_decimals)
        except InvalidDecimal:
            units = 0
        self.auto_size = False
        ticket.qty = info.qty(step_size(units, steps, info.lot, info.min_qty))
        self._update_notional()

    def default_size(self, m: SymbolMarket) -> str:
        """A small order of the symbol: the largest preset worth at most
        ``default_notional`` at the mark (the smallest preset before there is a mark)."""
        info = m.info
        mark = self.marks().get(info.symbol)
        units = default_size(info.lot, info.min_qty, mark, info.qty_decimals,
                             self.default_notional)  # fmt: skip
        return info.qty(units)

    def _apply_default_size(self) -> None:
        """While the trader has not chosen a size, follow the default (it needs a price)."""
        m = self.active()
        if m is not None and self.auto_size:
            self._q(OrderTicket).qty = self.default_size(m)
        self._update_notional()

    def _update_notional(self) -> None:
        ticket = self._q(OrderTicket)
        try:
            value = self.ticket_notional()
        except ArithmeticError:
            ticket.notional = ""
            return
        ticket.notional = f"{value:,.2f}" if value else ""

    def ticket_problem(self) -> str | None:
        """Why the ticket cannot be sent as it is (size or price off the grid), or None."""
        m = self.active()
        ticket = self._q(OrderTicket)
        if m is None:
            return "no symbol"
        info = m.info
        try:
            qty = to_units(ticket.qty, info.qty_decimals)
        except InvalidDecimal:
            return f"size {ticket.qty or '(empty)'} is not a multiple of {info.qty(info.lot)}"
        problem = check_on_grid(qty, info.lot, info.min_qty, "size", info.qty)
        if problem is None and takes_price(ticket.order_type):
            try:
                price = to_units(ticket.price, info.price_decimals)
            except InvalidDecimal:
                return f"price {ticket.price or '(empty)'} is not a multiple of {info.price(info.tick)}"
            problem = check_on_grid(price, info.tick, info.tick, "price", info.price)
        if problem is None and ticket.order_type in STOP_TYPES:
            if not ticket.stop_price:
                return "no stop price: type one (S)"
            try:
                stop = to_units(ticket.stop_price, info.price_decimals)
            except InvalidDecimal:
                return (
                    f"stop price {ticket.stop_price} is not a multiple of {info.price(info.tick)}"
                )
            problem = check_on_grid(stop, info.tick, info.tick, "stop price", info.price)
            # the server's check, in its words (it has the last word: its reject shows too)
            problem = problem or stop_problem(ticket.side, stop, m.last_trade(), info.price)
        return problem

    def action_order_type(self) -> None:
        """Ticket: limit -> market -> stop -> stop-limit -> limit; the time in force becomes
        the type's default (a market or stop order is IOC), post-only is for limit only,
        and a stop type starts from a default stop price (``default_stop``)."""
        ticket = self._q(OrderTicket)
        i = ORDER_TYPES.index(ticket.order_type) if ticket.order_type in ORDER_TYPES else -1
        ticket.order_type = ORDER_TYPES[(i + 1) % len(ORDER_TYPES)]
        ticket.tif = TIF_CHOICES[ticket.order_type][0]
        if ticket.order_type != "limit":
            ticket.post_only = False
        if ticket.order_type in STOP_TYPES:
            if ticket.order_type == "stop":  # a new stop: start from the default again
                self.auto_stop = True
            self._apply_default_stop()
        self._update_notional()

    def action_tif(self) -> None:
        """Ticket: cycle the time in force."""
        ticket = self._q(OrderTicket)
        choices = list(TIF_CHOICES.get(ticket.order_type, ("gtc",)))
        ticket.tif = (
            choices[(choices.index(ticket.tif) + 1) % len(choices)]
            if ticket.tif in choices
            else choices[0]
        )

    def action_post_only(self) -> None:
        """Ticket: toggle post-only."""
        ticket = self._q(OrderTicket)
        if ticket.order_type != "limit":
            ticket.post_only = False
            ticket.last_result = "post-only is for limit orders only"
            return
        ticket.post_only = not ticket.post_only

    def ticket_notional(self) -> Decimal:
        """Price x quantity of the ticket (a stop order's at its stop price, as the server
        holds it; a market order's at the mark)."""
        ticket = self._q(OrderTicket)
        price = Decimal(ticket.price) if takes_price(ticket.order_type) and ticket.price else None
        if price is None and ticket.order_type == "stop" and ticket.stop_price:
            price = Decimal(ticket.stop_price)
        if price is None:
            price = self.marks().get(self.symbol) or Decimal(0)
        return price * Decimal(ticket.qty or "0")

    def action_send(self) -> None:
        """Send the ticket (after a confirmation above the configured notional)."""
        ticket = self._q(OrderTicket)
        if not ticket.symbol or (takes_price(ticket.order_type) and not ticket.price):
            ticket.last_result = "no price: move the ladder cursor first"
            return
        problem = self.ticket_problem()
        if problem is not None:
            ticket.last_result = f"not sent: {problem}"
            return
        notional = self.ticket_notional()
        if self.confirm_notional is not None and notional > self.confirm_notional:
            stop = f" stop {ticket.stop_price}" if ticket.order_type in STOP_TYPES else ""
            question = (
                f"{ticket.side.upper()} {ticket.qty} {ticket.symbol} @ "
                f"{ticket.price if takes_price(ticket.order_type) else 'MKT'}{stop}\n"
                f"notional {notional:,.2f} is above {self.confirm_notional:,.2f}. Send?"
            )
            self.push_screen(ConfirmScreen(question), self._confirmed)
            return
        self._send_ticket()

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self._send_ticket()
        else:
            self._q(OrderTicket).last_result = "not sent"

    def _send_ticket(self) -> None:
        t = self._q(OrderTicket)
        req = self.tracker.new_order(
            t.symbol,
            t.side,
            t.order_type,
            t.qty,
            t.price if takes_price(t.order_type) else None,
            t.tif,
            t.post_only,
            t.stop_price if t.order_type in STOP_TYPES else None,
        )
        self.last_sent = req["client_order_id"]
        t.last_result = f"sent {req['client_order_id']}"
        t.next_client_order_id = self.tracker.next_client_order_id()
        self.run_worker(self.conn.send(req), group="send")
        self._dirty.update(("orders", "ladder"))

    def order_news(self, msg: dict[str, Any], *, replayed: bool) -> None:
        """What the trader must see of an order message beyond the tables: a reject of the
        order the ticket sent (on the ticket, in the server's words); when live (not the
        history replayed at start), a toast for a fill (with the bell) or a stop's trigger."""
        kind = msg.get("type")
        if kind == "order.reject" and msg.get("client_order_id") == self.last_sent:
            # the server has the last word: its reason shows where the order was sent from
            reason = f"{msg.get('code', '')} {msg.get('message', '')}".strip()
            self._q(OrderTicket).last_result = f"rejected: {reason}"
        if replayed:
            return
        if kind == "order.fill":
            self.notify_fill(msg)
        elif kind == "order.triggered":
            order = self.tracker.orders.get(str(msg.get("client_order_id")))
            qty = f" {order.qty}" if order is not None else ""
            self.notify(
                f"{str(msg.get('side', '')).upper()}{qty} {msg.get('symbol')} "
                f"stop {msg.get('stop_price')}: traded {msg.get('trigger_price')}",
                title="Stop triggered",
                markup=False,
            )

    def notify_fill(self, fill: dict[str, Any]) -> None:
        """One toast for one ``order.fill``: side, size, symbol and price in the symbol's
        decimals, then what is left of the order; the bell unless turned off."""
        symbol = str(fill.get("symbol", ""))
        price, qty = str(fill.get("price", "")), str(fill.get("qty", ""))
        m = self.market.symbols.get(symbol)
        if m is not None:
            with contextlib.suppress(InvalidDecimal):
                price = m.info.price(to_units(price, m.info.price_decimals))
                qty = m.info.qty(to_units(qty, m.info.qty_decimals))
        leaves = str(fill.get("leaves_qty", ""))
        try:
            left = "filled" if Decimal(leaves) == 0 else f"{leaves} left"
        except ArithmeticError:
            left = ""
        self.notify(
            f"{str(fill.get('side', '')).upper()} {qty} {symbol} @ {price}\n"
            f"{fill.get('liquidity', '')} · {left}",
            title="Fill",
            markup=False,
        )
        if self.bell_on_fill:
            self.bell()

    def action_cancel(self) -> None:
        """Cancel the order selected in the orders panel."""
        coid = self._q(OrdersPanel).selected
        if coid is not None:
            self.run_worker(self.conn.send(self.tracker.cancel(coid)), group="send")
            self._dirty.add("orders")

    def action_cancel_all(self) -> None:
        """Cancel every open order of the account."""
        self.run_worker(self.conn.send(self.tracker.cancel_all()), group="send")

    def action_replace(self) -> None:
        """Open the replace dialog for the selected order."""
        coid = self._q(OrdersPanel).selected
        order = self.tracker.orders.get(coid) if coid else None
        if order is None:
            return
        if order.is_stop:  # the server refuses it (INVALID_TYPE): say so, send nothing
            message = (
                f"{order.client_order_id}: a stop order cannot be modified; "
                "cancel it (c) and send a new one"
            )
            self._q(OrderTicket).last_result = "a stop order cannot be modified"  # fits narrow
            self.notify(message, title="Replace", severity="warning", markup=False)
            return

        def done(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            price, qty = result
            req = self.tracker.replace(
                order.client_order_id,
                price=price if price and price != order.price else None,
                qty=qty if qty and qty != order.qty else None,
            )
            self.run_worker(self.conn.send(req), group="send")
            self._dirty.add("orders")

        self.push_screen(ReplaceScreen(order.client_order_id, order.price or "", order.qty), done)

    def action_recenter(self) -> None:
        """Centre the ladder on the mid (or last) and put the cursor there."""
        m, state = self.active(), self.ladders.get(self.symbol)
        if m is None or state is None:
            return
        touch = [p for p in (m.best_bid, m.best_ask) if p is not None]
        if touch:
            state.step = choose_step(m.bids, m.asks, m.info.tick)
            state.recenter(sum(touch) // len(touch))
            self._sync_ticket_price()
            self._dirty.add("ladder")

    def action_freeze(self) -> None:
        """Freeze/unfreeze the ladder's position (it keeps showing live sizes)."""
        state = self.ladders.get(self.symbol)
        if state is not None:
            state.frozen = not state.frozen
            self._dirty.add("ladder")
