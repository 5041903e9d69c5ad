"""The watchlist: every symbol with last price, change and a sparkline."""

from __future__ import annotations

from textual.binding import Binding

from client_tui.model.format import change_pct, sparkline
from client_tui.model.market import MarketState
from client_tui.widgets.lines import LineBuilder, LinesWidget

__all__ = ["Watchlist"]


class Watchlist(LinesWidget, can_focus=True):
    """Symbols, one per line; up/down choose the active symbol (``app.action_symbol``)."""

    BINDINGS = [
        Binding("up", "app.symbol(-1)", "Prev symbol", show=False),
        Binding("down", "app.symbol(1)", "Next symbol", show=False),
    ]

    def show(self, market: MarketState, active: str | None) -> None:
        """Redraw from the market state with ``active`` highlighted."""
        width = max(self.size.width - 2, 30)
        spark_w = max(4, width - 30)
        text = LineBuilder()
        text.append(f" {'SYMBOL':<9}{'LAST':>10}{'CHG%':>8}  TREND\n", style="bold #8a8f98")
        for name, m in market.symbols.items():
            last = m.last_price()
            ticker = m.ticker or {}
            open_ = float(ticker["open"]) if ticker.get("open") else None
            chg = change_pct(last, open_) if last is not None and open_ else None
            colour = "#8a8f98" if not chg else ("#26d07c" if chg > 0 else "#ff5c57")
            marker = "▶" if name == active else " "
            row_style = "bold on #1f2a3a" if name == active else ""
            last_text = ticker.get("last") or (m.trades[0]["price"] if m.trades else "-")
            text.append(f"{marker}{name:<9}", style=row_style + " #e6e6e6")
            text.append(f"{last_text:>10}", style=row_style + " #e6e6e6")
            text.append(
                f"{(f'{chg:+.2f}' if chg is not None else '-'):>8}", style=f"{row_style} {colour}"
            )
            text.append("  " + sparkline(list(m.spark), spark_w), style=f"{row_style} {colour}")
            if m.state != "open":
                text.append(f" {m.state.upper()}", style="bold #ffb000")
            text.append("\n")
        self.set_lines(text.lines)
