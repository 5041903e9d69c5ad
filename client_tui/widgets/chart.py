"""Candlestick chart (1 s or 1 m candles) of the active symbol, drawn with textual-plotext."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual_plotext import PlotextPlot

from client_tui.model.format import fmt_clock

__all__ = ["CandleChart"]

MAX_CANDLES = 60


class CandleChart(PlotextPlot):
    """Shows the last ``MAX_CANDLES`` candles handed to :meth:`show`."""

    def on_mount(self) -> None:
        """Fixed dark theme: the chart must read the same in every app theme."""
        self.theme = "dark"

    def show(self, symbol: str, interval: str, candles: Sequence[dict[str, Any]]) -> None:
        """Redraw with ``candles`` (oldest first, §4 ``candle`` payloads)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("dark")
        tail = list(candles)[-MAX_CANDLES:]
        plt.title(f"{symbol} · {interval} candles")
        if not tail:
            return
        xs: list[Any] = list(range(len(tail)))  # plotext takes numbers here too
        data = {
            "Open": [float(c["o"]) for c in tail],
            "Close": [float(c["c"]) for c in tail],
            "High": [float(c["h"]) for c in tail],
            "Low": [float(c["l"]) for c in tail],
        }
        plt.candlestick(xs, data)
        step = max(1, len(tail) // 4)
        ticks = xs[::step]
        unit = 1_000_000_000 if interval == "1s" else 60_000_000_000
        labels = [fmt_clock(_t_ns(tail[i]["t"], unit), millis=False) for i in ticks]
        plt.xticks(ticks, labels)
        self.refresh()


def _t_ns(t: int, unit: int) -> int:
    # Candle ``t`` is the interval start; accept ns, ms or s epochs alike.
    t = int(t)
    if t > 10**17:
        return t
    if t > 10**11:
        return t * 1_000_000
    return t * 1_000_000_000
