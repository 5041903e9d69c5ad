"""The order ticket: what Enter would send, including the key it would carry."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

__all__ = ["OrderTicket"]


class OrderTicket(Static):
    """Ticket fields live in reactives; the app changes them, the widget redraws itself.

    ``price`` and ``qty`` are canonical decimal strings ("" for a market order's price).
    """

    side: reactive[str] = reactive("buy")
    order_type: reactive[str] = reactive("limit")
    price: reactive[str] = reactive("")
    qty: reactive[str] = reactive("1")
    tif: reactive[str] = reactive("gtc")
    post_only: reactive[bool] = reactive(False)
    symbol: reactive[str] = reactive("")
    next_client_order_id: reactive[str] = reactive("")
    last_result: reactive[str] = reactive("")

    def render(self) -> Text:
        """The ticket as a small form."""
        side_style = "bold black on #26d07c" if self.side == "buy" else "bold black on #ff5c57"
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {self.side.upper():^6} ", style=side_style)
        t.append(f" {self.symbol}  ", style="bold #e6e6e6")
        t.append(f"{self.order_type.upper()}", style="#61afef")
        t.append(f"  {self.tif.upper()}", style="#c678dd")
        if self.post_only:
            t.append("  POST-ONLY", style="bold #ffb000")
        t.append("\n qty  ", style="#8a8f98")
        t.append(f"{self.qty:<12}", style="bold #e6e6e6")
        t.append("price ", style="#8a8f98")
        price = self.price if self.order_type == "limit" else "MKT"
        t.append(f"{price}\n", style="bold #e6e6e6")
        t.append(" key  ", style="#8a8f98")
        t.append(f"{self.next_client_order_id}\n", style="#98c379")
        t.append(f" {self.last_result}", style="#abb2bf")
        return t
