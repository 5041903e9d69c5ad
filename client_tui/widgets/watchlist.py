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

    def show(self, market: MarketState, active: str | None, no_trades: str = "") -> None:
        """Redraw from the market state with ``active`` highlighted; a symbol without trades
        shows ``no_trades`` (why) where its trend would be."""
        width = max(self.size.width, 24)
        lasts = [
            (m.ticker or {}).get("last") or (m.trades[0]["price"] if m.trades else "-")
            for m in market.symbols.values()
        ]
        lw = max([5, *(len(str(x)) for x in lasts)]) + 1  # from the symbols' decimals
        nw = max([6, *(len(n) for n in market.symbols)]) + 1
        show_chg = width >= 1 + nw + lw + 8 + 6
        spark_w = max(0, width - 1 - nw - lw - (8 if show_chg else 0) - 2)
        text = LineBuilder()
        chg_head = f"{'CHG%':>8}" if show_chg else ""
        trend = "  TREND" if spark_w >= 5 else ""
        text.append(f" {'SYMBOL':<{nw}}{'LAST':>{lw}}{chg_head}{trend}\n", style="bold #8a8f98")
        for (name, m), last_text in zip(market.symbols.items(), lasts, strict=True):
            last = m.last_price()
            ticker = m.ticker or {}
            open_ = float(ticker["open"]) if ticker.get("open") else None
            chg = change_pct(last, open_) if last is not None and open_ else None
            colour = "#8a8f98" if not chg else ("#26d07c" if chg > 0 else "#ff5c57")
            marker = "▶" if name == active else " "
            row_style = "bold on #1f2a3a" if name == active else ""
            text.append(f"{marker}{name:<{nw}}", style=row_style + " #e6e6e6")
            text.append(f"{last_text:>{lw}}", style=row_style + " #e6e6e6")
            if show_chg:
                chg_text = f"{chg:+.2f}" if chg is not None else "-"
                text.append(f"{chg_text:>8}", style=f"{row_style} {colour}")
            if m.spark:
                text.append("  " + sparkline(list(m.spark), spark_w), style=f"{row_style} {colour}")
            elif no_trades and m.seq is not None:
                # the reason when it fits, else a dash (the tape and chart say it in full)
                note = no_trades if len(no_trades) <= spark_w else "-"
                text.append(f"  {note}", style=f"{row_style} #5c6370")
            if m.state != "open":
                text.append(f" {m.state.upper()}", style="bold #ffb000")
            text.append("\n")
        self.set_lines(text.lines)
