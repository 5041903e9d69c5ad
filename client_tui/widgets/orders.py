"""Open orders (selectable, for cancel and replace) and recent fills."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Static

from client_tui.model.format import fmt_clock
from client_tui.model.orders import OrderTracker

__all__ = ["FillsPanel", "OrdersPanel"]

_STATUS = {
    "pending": "#ffb000",
    "open": "#61afef",
    "partially_filled": "#56b6c2",
    "filled": "#26d07c",
    "canceled": "#8a8f98",
    "rejected": "#ff5c57",
}


class OrdersPanel(Static, can_focus=True):
    """The account's open orders, newest first; ``selected`` is a ``client_order_id``."""

    BINDINGS = [
        Binding("up", "move(-1)", "Prev order", show=False),
        Binding("down", "move(1)", "Next order", show=False),
    ]
    selected: reactive[str | None] = reactive(None)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._ids: list[str] = []

    def action_move(self, delta: int) -> None:
        """Move the selection within the open orders."""
        if not self._ids:
            return
        idx = self._ids.index(self.selected) if self.selected in self._ids else -1
        self.selected = self._ids[max(0, min(len(self._ids) - 1, idx + delta))]

    def show(self, tracker: OrderTracker) -> None:
        """Redraw from the tracker; keep the selection on an order that is still open."""
        orders = tracker.open_orders()
        self._ids = [o.client_order_id for o in orders]
        if self.selected not in self._ids:
            self.selected = self._ids[0] if self._ids else None
        t = Text(no_wrap=True, overflow="crop")
        t.append(
            f" {'KEY':<17}{'SYM':<9}{'SIDE':<5}{'PRICE':>10}{'QTY':>9}{'LEFT':>9}  STATUS\n",
            style="bold #8a8f98",
        )
        for o in orders[:50]:
            sel = o.client_order_id == self.selected
            base = "on #2a3242" if sel else ""
            side_c = "#26d07c" if o.side == "buy" else "#ff5c57"
            t.append(
                ("▸" if sel else " ") + f"{o.client_order_id[-16:]:<17}", style=f"#e6e6e6 {base}"
            )
            t.append(f"{o.symbol:<9}", style=f"#e6e6e6 {base}")
            t.append(f"{o.side:<5}", style=f"{side_c} {base}")
            t.append(
                f"{o.price or 'MKT':>10}{o.qty:>9}{o.leaves_qty:>9}  ", style=f"#e6e6e6 {base}"
            )
            status = o.status + (" (cxl…)" if o.cancel_requested else "")
            t.append(f"{status}\n", style=f"{_STATUS.get(o.status, '')} {base}")
        if not orders:
            t.append(" no open orders\n", style="#5c6370")
        if tracker.rejects:
            t.append(f" last reject: {tracker.rejects[-1]}", style="#ff5c57")
        self.update(t, layout=False)


class FillsPanel(Static):
    """Recent fills of the account, newest first."""

    def show(self, tracker: OrderTracker) -> None:
        """Redraw from the tracker's fills."""
        t = Text(no_wrap=True, overflow="crop")
        t.append(
            f" {'TIME':<13}{'SYM':<9}{'SIDE':<5}{'PRICE':>10}{'QTY':>9} {'LIQ':<6}{'FEE':>8}\n",
            style="bold #8a8f98",
        )
        for f in list(tracker.fills)[: max(self.size.height, 5)]:
            side_c = "#26d07c" if f.side == "buy" else "#ff5c57"
            t.append(f" {fmt_clock(f.ts) if f.ts else '-':<13}{f.symbol:<9}", style="#e6e6e6")
            t.append(f"{f.side:<5}", style=side_c)
            t.append(f"{f.price:>10}{f.qty:>9} {f.liquidity:<6}{f.fee:>8}\n", style="#e6e6e6")
        if not tracker.fills:
            t.append(" no fills yet", style="#5c6370")
        self.update(t, layout=False)
