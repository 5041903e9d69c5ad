"""Small read-only panels: time and sales, positions and P&L, status bar, stale banner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual.widgets import Static

from client_tui.model.format import compact, fit_decimal, fmt_clock, fmt_duration_ms, fmt_signed
from client_tui.model.market import MarketState, SymbolMarket
from client_tui.model.orders import Portfolio
from client_tui.widgets.lines import LineBuilder, LinesWidget

__all__ = [
    "FeedHealth", "PositionsPanel", "StaleBanner", "StatusBar", "TimeAndSales", "deadman_style",
    "deadman_text",
]  # fmt: skip


class TimeAndSales(LinesWidget):
    """Trades of the active symbol, newest first, coloured by the aggressor (taker) side."""

    def show(self, m: SymbolMarket | None, empty_note: str = "no trades yet") -> None:
        """Redraw from the symbol's tape; ``empty_note`` says why it is empty."""
        t = LineBuilder()
        trades = list(m.trades)[: max(self.size.height - 1, 5)] if m is not None else []
        # Column widths from the symbol's decimals (the longest value shown), so a price
        # with 9 decimals and a size with 8 never run together.
        pw = max([5, *(len(str(tr["price"])) for tr in trades)]) + 1
        qw = max([3, *(len(str(tr["qty"])) for tr in trades)]) + 1
        # A narrow panel drops the milliseconds, then the side's word (the arrow and the
        # colour stay), then trailing decimals of the size.
        width = self.size.width
        millis = width >= 1 + 13 + pw + qw + 8
        tw = 13 if millis else 9
        words = width >= 1 + tw + pw + qw + 8
        sidew = 6 if words else 1
        qw = max(4, min(qw, width - 1 - tw - pw - 2 - sidew))
        side_head = "SIDE" if words else ""
        t.append(
            f" {'TIME':<{tw}}{'PRICE':>{pw}}{'QTY':>{qw}}  {side_head}\n", style="bold #8a8f98"
        )
        for tr in trades:
            buy = tr.get("taker_side") == "buy"
            colour = "#26d07c" if buy else "#ff5c57"
            side = ("▲ buy" if buy else "▼ sell") if words else ("▲" if buy else "▼")
            qty = fit_decimal(str(tr["qty"]), qw - 1)
            t.append(f" {fmt_clock(int(tr.get('ts', 0)), millis=millis):<{tw}}", style="#8a8f98")
            t.append(f"{tr['price']:>{pw}}{qty:>{qw}}  {side}\n", style=colour)
        if m is not None and not trades:
            t.append(f" {empty_note}\n", style="#5c6370")
        self.set_lines(t.lines)


class PositionsPanel(Static):
    """Per-symbol position, average price, realized and unrealized P&L, then cash."""

    def show(
        self,
        portfolio: Portfolio,
        marks: Mapping[str, Decimal | None],
        price_decimals: Mapping[str, int] | None = None,
    ) -> None:
        """Redraw; ``marks`` maps symbol -> mark price (mid, else last) for unrealized P&L,
        ``price_decimals`` symbol -> its price decimals (the average price is shown in them)."""
        t = Text(no_wrap=True, overflow="crop")
        rows = []
        total = Decimal(0)
        for sym, pos in sorted(portfolio.positions.items()):
            unreal = pos.unrealized(marks.get(sym))
            total += pos.realized_pnl + (unreal or 0)
            pd = (price_decimals or {}).get(sym, 2)
            avg = f"{pos.avg_price:.{pd}f}"
            avg = avg if len(avg) <= 10 else compact(pos.avg_price, signed=False, decimals=pd)
            un = compact(unreal) if unreal is not None else "-"
            qty = compact(pos.qty, signed=False, decimals=4)
            rows.append((sym, pos, qty, fit_decimal(avg, 10), unreal, un))
        # Column widths: the wide layout's, narrowed to the values when the panel is
        # narrow; then REAL gives way (the P&L line below holds it), then AVG.
        width = self.size.width
        sw, qw, aw, rw, uw = 8, 8, 11, 9, 9
        if width < 1 + sw + qw + aw + rw + uw:
            sw = max([4, *(len(r[0]) for r in rows)]) + 1
            qw = max([4, *(len(r[2]) for r in rows)]) + 1
            aw = max([4, *(len(r[3]) for r in rows)]) + 1
            rw = max([4, *(len(compact(r[1].realized_pnl)) for r in rows)]) + 1
            uw = max([6, *(len(r[5]) for r in rows)]) + 1
        if width < 1 + sw + qw + aw + rw + uw:
            rw = 0
        if width < 1 + sw + qw + aw + uw:
            aw = 0
        real_head = f"{'REAL':>{rw}}" if rw else ""
        avg_head = f"{'AVG':>{aw}}" if aw else ""
        t.append(
            f" {'SYM':<{sw}}{'POS':>{qw}}{avg_head}{real_head}{'UNREAL':>{uw}}\n",
            style="bold #8a8f98",
        )
        for sym, pos, qty, avg, unreal, un in rows:
            t.append(f" {sym:<{sw}}", style="#e6e6e6")
            pos_c = "#26d07c" if pos.qty > 0 else ("#ff5c57" if pos.qty < 0 else "#8a8f98")
            t.append(f"{qty:>{qw}}", style=pos_c)
            if aw:
                t.append(f" {avg:>{aw - 1}}", style="#e6e6e6")
            # P&L columns in compact form: 9 cells hold up to about +9,999,999.
            if rw:
                t.append(f"{compact(pos.realized_pnl):>{rw}}", style=_pnl(pos.realized_pnl))
            t.append(f"{un:>{uw}}\n", style=_pnl(unreal or Decimal(0)))
        if not portfolio.positions:
            t.append(" flat\n", style="#5c6370")
        t.append(" P&L ", style="bold #8a8f98")
        t.append(fmt_signed(float(total), 2), style=_pnl(total))
        for ccy, (cash_total, avail) in sorted(portfolio.balances.items()):
            total_s, avail_s = _money(cash_total), _money(avail)
            if len(f" {ccy} {total_s} avail {avail_s}") > width:
                total_s, avail_s = _money(cash_total, short=True), _money(avail, short=True)
            t.append(f"\n {ccy} ", style="bold #8a8f98")
            t.append(total_s, style="#e6e6e6")
            t.append(" avail ", style="#8a8f98")
            t.append(avail_s, style="#e6e6e6")
        self.update(t, layout=False)


def _money(text: str, *, short: bool = False) -> str:
    try:
        value = Decimal(text)
        return compact(value, signed=False) if short else f"{value:,.2f}"
    except ArithmeticError:
        return text


def _pnl(value: Decimal) -> str:
    return "#26d07c" if value > 0 else ("#ff5c57" if value < 0 else "#8a8f98")


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What the status bar shows, gathered by the app from the connection and models."""

    md_transport: str
    md_state: str
    order_state: str
    rtt_ms: float | None
    lag_p50: float | None
    lag_p99: float | None
    book_ok: bool
    resyncs: int
    md_reconnects: int
    order_reconnects: int
    exec_seq: int
    in_flight: int
    account: str = ""
    #: seconds before the server's dead-man's switch fires (None: not armed)
    deadman_left: float | None = None


_STATE_STYLE = {
    "live": "#26d07c",
    "connecting": "#ffb000",
    "reconnecting": "#ffb000",
    "resyncing": "#ffb000",
}


class StatusBar(Static):
    """One line of connection and feed health."""

    def show(self, h: FeedHealth) -> None:
        """Redraw from ``h``; when the full line does not fit, a shorter one with the same
        figures (fewer words, fewer spaces)."""
        full = self._line(h, short=False)
        self.update(full if full.cell_len <= self.size.width else self._line(h, short=True),
                    layout=False)  # fmt: skip

    @staticmethod
    def _line(h: FeedHealth, *, short: bool) -> Text:
        gap = " " if short else "  "
        t = Text(no_wrap=True, overflow="crop")
        if h.account:
            t.append(f" {h.account} ", style="bold black on #98c379")
            t.append(" ")
        t.append(" MD ", style="bold black on #61afef")
        t.append(f" {h.md_transport} ", style="#abb2bf")
        t.append(f"● {h.md_state}", style=_STATE_STYLE.get(h.md_state, "#ff5c57"))
        t.append(f"{gap}ORD ", style="bold black on #c678dd")
        t.append(f" ● {h.order_state}", style=_STATE_STYLE.get(h.order_state, "#ff5c57"))
        t.append(f"{gap}rtt {fmt_duration_ms(h.rtt_ms)}", style="#abb2bf")
        p50, p99 = fmt_duration_ms(h.lag_p50), fmt_duration_ms(h.lag_p99)
        t.append(f"{gap}lag {p50}/{p99}" if short else f"  lag p50 {p50} p99 {p99}",
                 style="#abb2bf")  # fmt: skip
        t.append(f"{gap}book ", style="#abb2bf")
        ok = ("✔" if short else "✔ OK") if h.book_ok else "✘ SYNC"
        t.append(ok, style="#26d07c" if h.book_ok else "bold #ff5c57")
        t.append(f"{gap}resync {h.resyncs}", style="#ffb000" if h.resyncs else "#abb2bf")
        reconn = (
            f"{gap}reconn {h.md_reconnects}/{h.order_reconnects}"
            if short
            else f"  reconn md {h.md_reconnects} ord {h.order_reconnects}"
        )
        t.append(reconn, style="#abb2bf")
        t.append(f"{gap}{'seq' if short else 'exec_seq'} {h.exec_seq}", style="#abb2bf")
        if h.in_flight:
            t.append(f"{gap}in flight {h.in_flight}", style="bold #ffb000")
        if h.deadman_left is not None:
            t.append(f"{gap}{deadman_text(h.deadman_left, short=short)}",
                     style=deadman_style(h.deadman_left))  # fmt: skip
        return t


def deadman_text(left_s: float, *, short: bool = False) -> str:
    """The dead-man countdown: seconds left, or that the server is cancelling."""
    name = "dm" if short else "dead-man"
    if left_s <= 0:
        return f"{name} EXPIRED: orders cancelled" if not short else f"{name} EXPIRED"
    return f"{name} {left_s:.1f}s"


def deadman_style(left_s: float) -> str:
    """Red when expired, amber in its last second, else quiet."""
    return "bold #ff5c57" if left_s <= 0 else ("bold #ffb000" if left_s < 1 else "#abb2bf")


class StaleBanner(Static):
    """Shown (class ``-stale``) when market data has been silent for too long."""

    def show(
        self,
        market: MarketState,
        silent_s: float | None,
        limit_s: float,
        unreachable: str | None = None,
    ) -> None:
        """Show or hide the banner; ``unreachable`` is the server's URL when connecting to it
        has failed again and again before any market data arrived."""
        stale = silent_s is None or silent_s > limit_s
        self.set_class(stale, "-stale")
        if stale:
            if silent_s is None and unreachable:
                self.update(f"⚠ cannot reach {unreachable}: is the server running? ⚠")
                return
            what = (
                "no market data yet"
                if silent_s is None
                else f"market data silent for {silent_s:.0f}s"
            )
            self.update(f"⚠ STALE: {what} — prices on screen may be old ⚠")
