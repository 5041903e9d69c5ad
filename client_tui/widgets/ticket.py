"""The order ticket: what Enter would send, including the key it would carry.

Size and price are typable: two compact inputs (``e`` in the app focuses the size; Tab moves
to the price). Enter or escape in them hands the keyboard back (``OrderTicket.Done``); the
app then checks the values against the symbol's grid. Stop and stop-limit orders add a third
input, the stop price (``S`` in the app), on a line of its own that shows only for them
(class ``-stop``), with the last trade beside it (a buy stop goes above it, a sell below).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

__all__ = ["OrderTicket"]

_DECIMAL = r"[0-9]*\.?[0-9]*"


class OrderTicket(Vertical):
    """Ticket fields live in reactives; the app changes them, the widget redraws itself.

    ``price`` and ``qty`` are decimal strings ("" for a market order's price); typing in the
    inputs changes them as typed (the app validates before sending).
    """

    BINDINGS = [Binding("escape", "done", "Back to the ladder", show=False)]

    side: reactive[str] = reactive("buy")
    order_type: reactive[str] = reactive("limit")
    price: reactive[str] = reactive("")
    qty: reactive[str] = reactive("1")
    tif: reactive[str] = reactive("gtc")
    post_only: reactive[bool] = reactive(False)
    symbol: reactive[str] = reactive("")
    #: stop and stop_limit orders: the stop price ("" until there is one)
    stop_price: reactive[str] = reactive("")
    #: the last trade as the app knows it (shown beside the stop price)
    last_trade: reactive[str] = reactive("")
    next_client_order_id: reactive[str] = reactive("")
    last_result: reactive[str] = reactive("")
    #: what the order is worth, as the app computes it ("" when unknown)
    notional: reactive[str] = reactive("")

    class Done(Message):
        """Typing in the ticket ended (Enter or escape)."""

    def compose(self) -> ComposeResult:
        """Head line, the two inputs, the key and the last result."""
        yield Static(id="ticket-head")
        with Horizontal(id="ticket-fields"):
            yield Label(" qty ", classes="ticket-label")
            yield Input(self.qty, id="ticket-qty", compact=True, restrict=_DECIMAL)
            yield Label(" price ", classes="ticket-label")
            yield Input(self.price, id="ticket-price", compact=True, restrict=_DECIMAL)
        with Horizontal(id="ticket-stop-row"):
            yield Label(" stop ", classes="ticket-label")
            yield Input(self.stop_price, id="ticket-stop", compact=True, restrict=_DECIMAL)
            yield Label("", id="ticket-last", classes="ticket-label")
        yield Static(id="ticket-foot")

    def on_mount(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        try:
            head = self.query_one("#ticket-head", Static)
            foot = self.query_one("#ticket-foot", Static)
            qty_in = self.query_one("#ticket-qty", Input)
            price_in = self.query_one("#ticket-price", Input)
            stop_in = self.query_one("#ticket-stop", Input)
            last = self.query_one("#ticket-last", Label)
        except NoMatches:
            return  # not composed yet
        side_style = "bold black on #26d07c" if self.side == "buy" else "bold black on #ff5c57"
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {self.side.upper():^6} ", style=side_style)
        t.append(f" {self.symbol} ", style="bold #e6e6e6")
        t.append(self.order_type.upper().replace("_", "-"), style="#61afef")
        t.append(f" {self.tif.upper()}", style="#c678dd")
        if self.post_only:
            t.append(" POST-ONLY", style="bold #ffb000")
        head.update(t)
        if not qty_in.has_focus and qty_in.value != self.qty:
            qty_in.value = self.qty
        market = self.order_type in ("market", "stop")  # no limit price
        stop = self.order_type in ("stop", "stop_limit")
        self.set_class(stop, "-stop")
        if not stop_in.has_focus and stop_in.value != self.stop_price:
            stop_in.value = self.stop_price
        last.update(f" last {self.last_trade}" if self.last_trade else " no trade yet")
        price_in.disabled = market
        price_in.placeholder = "MKT" if market else "price"
        shown_price = "" if market else self.price
        if not price_in.has_focus and price_in.value != shown_price:
            price_in.value = shown_price
        f = Text(no_wrap=True, overflow="ellipsis")
        f.append(" key ", style="#8a8f98")
        f.append(self.next_client_order_id, style="#98c379")
        if self.notional:
            f.append(f"  ≈ {self.notional}", style="#8a8f98")
        f.append(f"\n {self.last_result}", style="#abb2bf")
        foot.update(f)

    def watch_side(self) -> None:
        self._redraw()

    def watch_order_type(self) -> None:
        self._redraw()

    def watch_price(self) -> None:
        self._redraw()

    def watch_qty(self) -> None:
        self._redraw()

    def watch_tif(self) -> None:
        self._redraw()

    def watch_post_only(self) -> None:
        self._redraw()

    def watch_symbol(self) -> None:
        self._redraw()

    def watch_stop_price(self) -> None:
        self._redraw()

    def watch_last_trade(self) -> None:
        self._redraw()

    def watch_next_client_order_id(self) -> None:
        self._redraw()

    def watch_last_result(self) -> None:
        self._redraw()

    def watch_notional(self) -> None:
        self._redraw()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Typed values become the ticket's (as typed; checked before sending)."""
        if event.input.id == "ticket-qty":
            self.qty = event.value
        elif event.input.id == "ticket-price" and not event.input.disabled:
            self.price = event.value
        elif event.input.id == "ticket-stop":
            self.stop_price = event.value
        event.stop()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field: done typing."""
        event.stop()
        self.post_message(self.Done())

    def action_done(self) -> None:
        """Escape in a field: done typing."""
        self.post_message(self.Done())

    def edit(self, field: str = "qty") -> None:
        """Focus the size (``"qty"``), price (``"price"``) or stop price (``"stop"``) input."""
        self.query_one(f"#ticket-{field}", Input).focus()
