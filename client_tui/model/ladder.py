"""The order-book ladder (DOM): one row per tick around a centre price.

Exports ``LadderRow``, ``LadderView``, ``LadderState`` and ``build_ladder``.

Prices and quantities are integer units of the symbol (see ``shared.values``). The ladder
shows every row of its window, empty or not, best ask above best bid, so the trader's eye
can rely on one row = one price step. The step is a multiple of the tick (chosen from the
book's own level spacing by :func:`choose_step`): a bid between two rows counts at the row
below it, an ask at the row above it, so a row never promises a better price than rests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

__all__ = [
    "LadderRow",
    "LadderState",
    "LadderView",
    "build_ladder",
    "choose_step",
    "snap_to_tick",
]


def snap_to_tick(price: int, tick: int) -> int:
    """``price`` rounded down onto the grid of ``tick`` (> 0)."""
    return price - price % tick


def _ceil_to(price: int, step: int) -> int:
    return -(-price // step) * step


def _bucket(levels: Mapping[int, int], step: int, up: bool) -> dict[int, int]:
    if step == 1:
        return {p: q for p, q in levels.items() if q > 0}
    out: dict[int, int] = {}
    for p, q in levels.items():
        if q > 0:
            row = _ceil_to(p, step) if up else snap_to_tick(p, step)
            out[row] = out.get(row, 0) + q
    return out


def choose_step(
    bids: Mapping[int, int], asks: Mapping[int, int], tick: int, depth: int = 10
) -> int:
    """A row size for the ladder: the median spacing of the best ``depth`` levels per side,
    rounded up to a 1-2-5 multiple of ``tick``. With fewer than two levels: ``tick``."""
    gaps: list[int] = []
    for prices in (sorted(bids, reverse=True)[:depth], sorted(asks)[:depth]):
        gaps.extend(abs(a - b) for a, b in pairwise(prices))
    if not gaps:
        return tick
    gap = sorted(gaps)[len(gaps) // 2]
    mult = 1
    while True:
        for m in (1, 2, 5):
            if mult * m * tick >= gap:
                return mult * m * tick
        mult *= 10


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One tick of the ladder. Quantities are 0 where nothing rests."""

    price: int
    bid_qty: int = 0
    ask_qty: int = 0
    own_buy: int = 0
    own_sell: int = 0
    best_bid: bool = False
    best_ask: bool = False


@dataclass(frozen=True, slots=True)
class LadderView:
    """Rows top (highest price) to bottom, plus the figures the header shows.

    ``max_qty`` is the largest visible size (scales the size bars); ``spread`` is in price
    units; ``mid_x2`` is twice the mid price, kept integer so half ticks stay exact.
    """

    rows: list[LadderRow]
    max_qty: int
    spread: int | None
    mid_x2: int | None


def build_ladder(
    bids: Mapping[int, int],
    asks: Mapping[int, int],
    *,
    center: int,
    step: int,
    rows: int,
    own_buy: Mapping[int, int] | None = None,
    own_sell: Mapping[int, int] | None = None,
) -> LadderView:
    """Build ``rows`` ladder rows of ``step`` price units centred on ``center``.

    ``bids``/``asks`` map price units to resting quantity (0 entries are ignored);
    ``own_buy``/``own_sell`` map price units to the trader's own open quantity there. Levels
    between rows are summed into the row below (bids) or above (asks). ``spread`` and
    ``mid_x2`` are exact (from the unbucketed touch).
    """
    best_bid = max((p for p, q in bids.items() if q > 0), default=None)
    best_ask = min((p for p, q in asks.items() if q > 0), default=None)
    bids = _bucket(bids, step, up=False)
    asks = _bucket(asks, step, up=True)
    own_buy = _bucket(own_buy or {}, step, up=False)
    own_sell = _bucket(own_sell or {}, step, up=True)
    bid_row = snap_to_tick(best_bid, step) if best_bid is not None else None
    ask_row = _ceil_to(best_ask, step) if best_ask is not None else None
    top = snap_to_tick(center, step) + (rows // 2) * step
    out: list[LadderRow] = []
    max_qty = 0
    for i in range(rows):
        price = top - i * step
        bid_qty = bids.get(price, 0)
        ask_qty = asks.get(price, 0)
        max_qty = max(max_qty, bid_qty, ask_qty)
        out.append(
            LadderRow(
                price=price,
                bid_qty=bid_qty,
                ask_qty=ask_qty,
                own_buy=own_buy.get(price, 0),
                own_sell=own_sell.get(price, 0),
                best_bid=price == bid_row,
                best_ask=price == ask_row,
            )
        )
    spread = best_ask - best_bid if best_bid is not None and best_ask is not None else None
    mid_x2 = best_ask + best_bid if best_bid is not None and best_ask is not None else None
    return LadderView(rows=out, max_qty=max_qty, spread=spread, mid_x2=mid_x2)


@dataclass(slots=True)
class LadderState:
    """Where the ladder is centred, where its cursor is, and whether it is frozen.

    Call :meth:`follow` with the current touch on every frame: unless frozen, it recentres
    when the touch leaves the middle half of the window (so the ladder does not jitter on
    every tick) and keeps the cursor inside the window.
    """

    tick: int
    step: int = 0  # row size in price units; 0: not chosen yet (uses tick)
    rows: int = 21
    center: int | None = None
    cursor: int | None = None
    frozen: bool = False
    recenters: int = field(default=0)

    @property
    def row_step(self) -> int:
        """Price units per row."""
        return self.step or self.tick

    def recenter(self, mid: int) -> None:
        """Centre on ``mid`` (price units) and put the cursor there."""
        self.center = snap_to_tick(mid, self.row_step)
        self.cursor = self.center
        self.recenters += 1

    def follow(self, best_bid: int | None, best_ask: int | None) -> None:
        """Keep the touch in view (no-op while frozen or with an empty book)."""
        touch = [p for p in (best_bid, best_ask) if p is not None]
        if not touch:
            return
        mid = sum(touch) // len(touch)
        if self.center is None:
            self.recenter(mid)
            return
        if self.frozen:
            return
        quarter = max(1, self.rows // 4) * self.row_step
        if abs(mid - self.center) > quarter:
            cursor = self.cursor
            self.recenter(mid)
            if cursor is not None and self.visible(cursor):
                self.cursor = cursor

    def visible(self, price: int) -> bool:
        """Whether ``price`` is inside the current window."""
        if self.center is None:
            return False
        half = (self.rows // 2) * self.row_step
        return self.center - half <= price <= self.center + half

    def move_cursor(self, ticks: int) -> None:
        """Move the cursor ``ticks`` rows up (positive) or down, scrolling the window with it."""
        if self.cursor is None or self.center is None:
            return
        step = self.row_step
        self.cursor = max(step, snap_to_tick(self.cursor, step) + ticks * step)
        if not self.visible(self.cursor):
            self.center = self.center + ticks * step
