"""Candlestick chart (1 s or 1 m candles) of the active symbol, drawn with textual-plotext.

Exports ``CandleChart``.

Plotext builds the whole figure in pure Python (tens of milliseconds for 60 candles). Built
on the event loop that would stall market data and ping for that long, so the figure is
built in a thread worker (the GIL is released to the loop every few ms) and the widget only
shows the finished text. Contract: call :meth:`CandleChart.show`; a newer call supersedes a
build still running. A resize rebuilds the last candles at the new size (the figure is drawn
for a fixed width and height).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import events
from textual.widget import Widget
from textual_plotext.plot import Plot

from client_tui.model.format import fmt_clock

__all__ = ["CandleChart"]

MAX_CANDLES = 60


class CandleChart(Widget):
    """Shows the last ``MAX_CANDLES`` candles handed to :meth:`show`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._text = Text("waiting for candles…", style="#5c6370")
        self._generation = 0
        self._shown = 0
        self.builds = 0
        #: (width, height) the figure on screen was drawn for
        self.built_size = (0, 0)
        self._last: tuple[str, str, list[dict[str, Any]]] | None = None

    @property
    def busy(self) -> bool:
        """A build has been asked for and its figure is not on screen yet."""
        return self._shown != self._generation

    @property
    def current(self) -> bool:
        """A figure is on screen, none is being built, and it fits the widget's size."""
        size = (self.size.width, self.size.height)
        return self.builds > 0 and not self.busy and self.built_size == size

    def render(self) -> Text:
        """The last finished figure."""
        return self._text

    def show(
        self,
        symbol: str,
        interval: str,
        candles: Sequence[dict[str, Any]],
        empty_note: str = "waiting for candles…",
    ) -> None:
        """Rebuild the figure from ``candles`` (oldest first, §4 ``candle`` payloads); with
        none, show ``empty_note`` (why there are none) instead of an empty figure."""
        self._generation += 1
        generation = self._generation
        if not candles:
            self._last = None
            self._finished(
                generation,
                Text(f"{symbol} · {interval} candles\n\n{empty_note}", style="#5c6370"),
                (self.size.width, self.size.height),
            )
            return
        width, height = self.size.width, self.size.height
        tail = [dict(c) for c in list(candles)[-MAX_CANDLES:]]
        self._last = (symbol, interval, tail)

        def build() -> None:
            text = Text.from_ansi(_figure(symbol, interval, tail, width, height), no_wrap=True)
            self.app.call_from_thread(self._finished, generation, text, (width, height))

        self.run_worker(build, thread=True, group="chart", exit_on_error=False)

    def on_resize(self, event: events.Resize) -> None:
        if self._last is not None and (event.size.width, event.size.height) != self.built_size:
            self.show(*self._last)

    def _finished(self, generation: int, text: Text, size: tuple[int, int]) -> None:
        if generation != self._generation:
            return  # a newer build is on its way
        self._text = text
        self._shown = generation
        self.built_size = size
        self.builds += 1
        self.refresh()


def _figure(
    symbol: str, interval: str, candles: list[dict[str, Any]], width: int, height: int
) -> str:
    plt = Plot()
    plt.theme("dark")
    plt.plotsize(max(width, 10), max(height, 5))
    plt.title(f"{symbol} · {interval} candles")
    if candles:
        xs: list[Any] = list(range(len(candles)))  # plotext takes numbers here too
        data = {
            "Open": [float(c["o"]) for c in candles],
            "Close": [float(c["c"]) for c in candles],
            "High": [float(c["h"]) for c in candles],
            "Low": [float(c["l"]) for c in candles],
        }
        plt.candlestick(xs, data)
        step = max(1, len(candles) // 4)
        ticks = xs[::step]
        plt.xticks(ticks, [fmt_clock(_t_ns(candles[i]["t"]), millis=False) for i in ticks])
    return str(plt.build())


def _t_ns(t: int) -> int:
    # Candle ``t`` is the interval start; accept ns, ms or s epochs alike.
    t = int(t)
    if t > 10**17:
        return t
    if t > 10**11:
        return t * 1_000_000
    return t * 1_000_000_000
