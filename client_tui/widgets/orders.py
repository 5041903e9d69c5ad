"""Open orders (selectable, for cancel and replace) and recent fills.

A stop order shows its stop price in the STOP column and ``waiting`` until a trade reaches
it, then ``trig`` before its status (``trig open`` for a stop-limit now in the book).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Static

from client_tui.model.format import fmt_clock
from client_tui.model.orders import OrderTracker, OwnOrder

__all__ = ["FillsPanel", "OrdersPanel"]

_STATUS = {
    "pending": "#ffb000",
    "open": "#61afef",
    "partially_filled": "#56b6c2",
    "filled": "#26d07c",
    "canceled": "#8a8f98",
    "rejected": "#ff5c57",
    "waiting": "#c678dd",
}
#: Status words when the panel is narrow.
_SHORT = {"partially_filled": "part", "pending": "pend", "canceled": "cxl", "rejected": "rej"}


def _status(o: OwnOrder, short: bool) -> str:
    if o.waiting:
        return "waiting"
    word = _SHORT.get(o.status, o.status) if short else o.status
    return f"trig {word}" if o.triggered else word


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
        shown = orders[:50]
        # Widths from the values (the symbols' decimals); the key gives way on a narrow panel,
        # then the QTY column (LEFT stays) and the long status words.
        pw = max([5, *(len(o.price or "MKT") for o in shown)]) + 1
        stops = [o.stop_price for o in shown if o.stop_price]
        tw = max([4, *(len(p) for p in stops)]) + 1 if stops else 0
        qw = max([4, *(len(q) for o in shown for q in (o.qty, o.leaves_qty))]) + 1
        sw = max([4, *(len(o.symbol) for o in shown)]) + 1
        width = self.size.width
        fixed = sw + 5 + pw + tw + qw + 2
        show_qty = width >= 1 + 9 + fixed + qw + 16
        fixed += qw if show_qty else 0
        short = width < 1 + 9 + fixed + 16
        # short words take at most 9 cells ("trig part"); the key keeps its last characters
        kw = max(6, min(17, width - (fixed + 9))) if short else max(9, min(17, width - fixed - 16))
        t = Text(no_wrap=True, overflow="crop")
        qty_head = f"{'QTY':>{qw}}" if show_qty else ""
        stop_head = f"{'STOP':>{tw}}" if tw else ""
        t.append(
            f" {'KEY':<{kw}}{'SYM':<{sw}}{'SIDE':<5}{'PRICE':>{pw}}{stop_head}{qty_head}"
            f"{'LEFT':>{qw}}  STATUS\n",
            style="bold #8a8f98",
        )
        for o in shown:
            sel = o.client_order_id == self.selected
            base = "on #2a3242" if sel else ""
            side_c = "#26d07c" if o.side == "buy" else "#ff5c57"
            t.append(
                ("▸" if sel else " ") + f"{o.client_order_id[-(kw - 1) :]:<{kw}}",
                style=f"#e6e6e6 {base}",
            )
            t.append(f"{o.symbol:<{sw}}", style=f"#e6e6e6 {base}")
            t.append(f"{o.side:<5}", style=f"{side_c} {base}")
            t.append(f"{o.price or 'MKT':>{pw}}", style=f"#e6e6e6 {base}")
            if tw:
                t.append(f"{o.stop_price or '':>{tw}}", style=f"#c678dd {base}")
            qty = f"{o.qty:>{qw}}" if show_qty else ""
            t.append(f"{qty}{o.leaves_qty:>{qw}}  ", style=f"#e6e6e6 {base}")
            status = _status(o, short)
            if o.cancel_requested:
                status = "cxl…" if short else f"{status} (cxl…)"
            colour = _STATUS.get("waiting" if o.waiting else o.status, "")
            t.append(f"{status}\n", style=f"{colour} {base}")
        if not orders:
            t.append(" no open orders\n", style="#5c6370")
        if tracker.rejects:
            t.append(f" last reject: {tracker.rejects[-1]}", style="#ff5c57")
        self.update(t, layout=False)


class FillsPanel(Static):
    """Recent fills of the account, newest first."""

    def show(self, tracker: OrderTracker) -> None:
        """Redraw from the tracker's fills."""
        fills = list(tracker.fills)[: max(self.size.height, 5)]
        pw = max([5, *(len(f.price) for f in fills)]) + 1
        qw = max([3, *(len(f.qty) for f in fills)]) + 1
        sw = max([4, *(len(f.symbol) for f in fills)]) + 1
        # A narrow panel drops the fee, then the liquidity, then the milliseconds.
        width = self.size.width
        core = sw + 5 + pw + qw
        fee = width >= 1 + 13 + core + 7 + 8
        liq = width >= 1 + 13 + core + 7
        millis = width >= 1 + 13 + core + (7 if liq else 0)
        tw = 13 if millis else 9
        t = Text(no_wrap=True, overflow="crop")
        liq_head = f" {'LIQ':<6}" if liq else ""
        fee_head = f"{'FEE':>8}" if fee else ""
        t.append(
            f" {'TIME':<{tw}}{'SYM':<{sw}}{'SIDE':<5}{'PRICE':>{pw}}{'QTY':>{qw}}{liq_head}"
            f"{fee_head}\n",
            style="bold #8a8f98",
        )
        for f in fills:
            side_c = "#26d07c" if f.side == "buy" else "#ff5c57"
            when = fmt_clock(f.ts, millis=millis) if f.ts else "-"
            t.append(f" {when:<{tw}}{f.symbol:<{sw}}", style="#e6e6e6")
            t.append(f"{f.side:<5}", style=side_c)
            tail = (f" {f.liquidity:<6}" if liq else "") + (f"{f.fee:>8}" if fee else "")
            t.append(f"{f.price:>{pw}}{f.qty:>{qw}}{tail}\n", style="#e6e6e6")
        if not tracker.fills:
            t.append(" no fills yet", style="#5c6370")
        self.update(t, layout=False)
