"""The order-book ladder (DOM) widget: one row per tick, size bars, own orders marked.

On a wide panel own sizes have columns of their own at both edges; on a narrow one
(below ``OWN_COLUMNS_FROM`` cells, the ``-narrow`` layout) those columns go and an own size
takes the place of its row's bar (``◆`` when it does not fit there), so price and sizes keep
their full width.
"""

from __future__ import annotations

from textual.binding import Binding

from client_tui.model.format import fit_decimal, mid_text
from client_tui.model.ladder import LadderState, build_ladder
from client_tui.model.market import SymbolMarket
from client_tui.model.orders import OrderTracker
from client_tui.widgets.lines import LineBuilder, LinesWidget
from shared.values import to_units

__all__ = ["LadderView"]

BID = "#26d07c"
ASK = "#ff5c57"
OWN = "#ffd75f"
DIM = "#5c6370"
OWN_W = 4
MIN_BAR = 2
#: Narrower than this, own sizes share the bar cells (see the module docstring).
OWN_COLUMNS_FROM = 48


class LadderView(LinesWidget, can_focus=True):
    """Draws a ``LadderState`` of one symbol; arrow keys move the cursor (via the app)."""

    BINDINGS = [
        Binding("up", "app.cursor(1)", "Cursor up", show=False),
        Binding("down", "app.cursor(-1)", "Cursor down", show=False),
        Binding("pageup", "app.cursor(10)", "Cursor +10 ticks", show=False),
        Binding("pagedown", "app.cursor(-10)", "Cursor -10 ticks", show=False),
    ]

    def visible_rows(self) -> int:
        """How many price rows fit (odd, so the centre row is in the middle)."""
        rows = max(self.size.height - 4, 5)
        return rows if rows % 2 else rows - 1

    def show(
        self, m: SymbolMarket | None, state: LadderState | None, tracker: OrderTracker
    ) -> None:
        """Redraw the ladder of ``m`` as positioned by ``state``."""
        if m is None or state is None or state.center is None:
            self.set_lines([[("waiting for the book…", DIM)]])
            return
        info = m.info
        own: dict[str, dict[int, int]] = {}
        for side in ("buy", "sell"):
            own[side] = {
                to_units(p, info.price_decimals): to_units(str(q), info.qty_decimals)
                for p, q in tracker.resting_by_price(info.symbol, side).items()
            }
        view = build_ladder(
            m.bids,
            m.asks,
            center=state.center,
            step=state.row_step,
            rows=state.rows,
            own_buy=own["buy"],
            own_sell=own["sell"],
        )
        width = max(self.size.width, 24)
        own_w = OWN_W if width >= OWN_COLUMNS_FROM else 0
        prices = [info.price(r.price) for r in view.rows]
        pw = max(len(p) for p in prices)
        bids = [info.qty(r.bid_qty) if r.bid_qty else "" for r in view.rows]
        asks = [info.qty(r.ask_qty) if r.ask_qty else "" for r in view.rows]
        # Columns from the symbol's decimals, each kept apart by a space: own(4) bar ' ' bid
        # ' ' marker price ' ' ask ' ' bar own(4). Sizes too long for the panel lose trailing
        # decimals first (fit_decimal), so price and size never run together.
        fixed = 2 * own_w + pw + 1 + 4
        qw = max(3, *(len(q) for q in bids + asks))
        qw = max(3, min(qw, (width - fixed - 2 * MIN_BAR) // 2))
        bar_w = max(1, (width - fixed - 2 * qw) // 2)
        text = LineBuilder()
        bid = info.price(m.best_bid) if m.best_bid is not None else "-"
        ask = info.price(m.best_ask) if m.best_ask is not None else "-"
        head = f" {info.symbol} {bid} / {ask}"
        if len(head) > width:  # the symbol goes first (the watchlist marks it too)
            head = f" {bid} / {ask}"
        else:
            text.append(f" {info.symbol}", style="bold #e6e6e6")
        text.append(" ")
        text.append(bid, style=f"bold {BID}")
        text.append(" / ", style=DIM)
        text.append(ask, style=f"bold {ASK}")
        extra = []
        if view.spread is not None:
            extra.append(f"spr {info.price(view.spread)}")
        if view.mid_x2 is not None:
            extra.append(f"mid {mid_text(view.mid_x2, info.price_decimals)}")
        if state.frozen:
            extra.append("FROZEN")
        # What does not fit goes: the spread first, then the mid.
        while extra and len(head) + sum(len(e) + 2 for e in extra) > width:
            extra.pop(0)
        for e in extra:
            style = "bold reverse #ffb000" if e == "FROZEN" else "#8a8f98"
            text.append("  ")
            text.append(e, style=style)
        text.append("\n")
        # The row size shows where the ask bars go when rows bucket several ticks.
        row_note = f"row {info.price(state.row_step)}" if state.row_step != info.tick else ""
        row_note = row_note if len(row_note) <= bar_w else ""
        own_head = "own" if own_w else ""
        text.append(
            f"{own_head:>{own_w}}{'':>{bar_w}} {'BID':>{qw}}  {'PRICE':^{pw}} {'ASK':<{qw}} "
            f"{row_note:>{bar_w}}{own_head:>{own_w}}\n",
            style="bold #8a8f98",
        )
        top = max(view.max_qty, 1)
        for row, price, bid_q, ask_q in zip(view.rows, prices, bids, asks, strict=True):
            cursor = row.price == state.cursor
            base = "on #2a3242" if cursor else ""
            own_b = _short(info.qty(row.own_buy)) if row.own_buy else ""
            own_s = _short(info.qty(row.own_sell)) if row.own_sell else ""
            if own_w:
                text.append(f"{own_b:>{own_w}}", style=f"bold {OWN} {base}")
            if not own_w and own_b:  # the own size where the bar would be
                mark = own_b if len(own_b) <= bar_w else "◆"
                text.append(f"{mark:>{bar_w}} ", style=f"bold {OWN} {base}")
            else:
                bar = "█" * round(row.bid_qty / top * bar_w) if row.bid_qty else ""
                text.append(f"{bar:>{bar_w}} ", style=f"#1d6b45 {base}")
            text.append(
                f"{fit_decimal(bid_q, qw):>{qw}} ",
                style=f"{'bold ' if row.best_bid else ''}{BID} {base}",
            )
            price_style = (
                "bold #ffffff" if cursor else ("#c8ccd4" if row.bid_qty or row.ask_qty else DIM)
            )
            marker = "▸" if cursor else " "
            text.append(f"{marker}{price:>{pw}} ", style=f"{price_style} {base}")
            text.append(
                f"{fit_decimal(ask_q, qw):<{qw}} ",
                style=f"{'bold ' if row.best_ask else ''}{ASK} {base}",
            )
            if not own_w and own_s:
                mark = own_s if len(own_s) <= bar_w else "◆"
                text.append(f"{mark:<{bar_w}}", style=f"bold {OWN} {base}")
            else:
                bar = "█" * round(row.ask_qty / top * bar_w) if row.ask_qty else ""
                text.append(f"{bar:<{bar_w}}", style=f"#7a2b2b {base}")
            text.append(f"{own_s:<{own_w}}\n" if own_w else "\n", style=f"bold {OWN} {base}")
        self.set_lines(text.lines)


def _short(qty: str) -> str:
    # Own size in a 4-cell column: trailing zeros go first, then digits that do not fit.
    if "." in qty:
        qty = qty.rstrip("0").rstrip(".")
    return qty[:4].rstrip(".")
