"""Faults the drills inject into the client's own transport (issue 21, docs/drills.md).

Exports ``Faults`` and ``corrupt_best_bid``.

Contract: ``client_tui.connection.Connection`` owns one ``Faults`` and consults it; nothing
here does I/O. A cut keeps its connection down until ``*_down_until`` (monotonic seconds);
``cut_orders_on`` sees every frame read from the order socket and may say ``"lose"`` (cut now,
the frame is never applied: an answer lost with the connection) or ``"after"`` (apply it,
then cut). Market data can be held ``md_delay_s`` behind its event time until
``md_delay_until``, and the next ``md_duplicate`` events are delivered twice (the copy must
be discarded by its id). Everything a drill arms it disarms: one-shot faults clear
themselves, timed ones end by the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client_tui.model.market import MarketState
from shared.values import InvalidDecimal, to_units

__all__ = ["Faults", "corrupt_best_bid"]

#: What ``cut_orders_on`` may answer for a frame: None (deliver it), "lose" or "after".
CutRule = Callable[[dict[str, Any]], str | None]


@dataclass
class Faults:
    """The switches (see the module docstring)."""

    orders_down_until: float = 0.0
    md_down_until: float = 0.0
    cut_orders_on: CutRule | None = None
    md_delay_s: float = 0.0
    md_delay_until: float = 0.0
    #: the feed's usual lag (s) when the delay started: an event is held until its ``ts``
    #: plus this plus ``md_delay_s``, so the delay adds to the lag there already was
    md_delay_base_s: float = 0.0
    md_duplicate: int = 0

    def orders_held(self, now: float | None = None) -> float:
        """Seconds the order socket must stay down still (0: it may reconnect)."""
        return max(0.0, self.orders_down_until - (time.monotonic() if now is None else now))

    def md_held(self, now: float | None = None) -> float:
        """Seconds the market-data connection must stay down still."""
        return max(0.0, self.md_down_until - (time.monotonic() if now is None else now))

    def md_hold_s(self, data: dict[str, Any], now: float | None = None) -> float:
        """How long to hold this event before the client reads it: until ``md_delay_s``
        (plus ``md_delay_base_s``) after its ``ts``, never more than ``md_delay_s``, while
        the delay lasts."""
        mono = time.monotonic() if now is None else now
        if self.md_delay_s <= 0 or mono >= self.md_delay_until:
            return 0.0
        ts = data.get("ts")
        if not isinstance(ts, int) or ts <= 0:
            return 0.0  # read in order after the held one before it: delayed as much
        due = ts / 1e9 + self.md_delay_base_s + self.md_delay_s - time.time()
        return min(self.md_delay_s, max(0.0, due))

    def take_duplicate(self) -> bool:
        """True (and one fewer to do) when the event just delivered must come again."""
        if self.md_duplicate <= 0:
            return False
        self.md_duplicate -= 1
        return True


def corrupt_best_bid(
    market: MarketState, event: str, data: dict[str, Any]
) -> dict[str, Any] | None:
    """A copy of a ``book`` delta that sets the symbol's best bid to a quantity the server
    never sent (one lot more), or None when this event cannot be corrupted that way (not a
    delta, no synced book, no bid). The checksum covers the best bid, so applying the copy
    must fail it."""
    if event != "book":
        return None
    m = market.symbols.get(str(data.get("symbol", "")))
    if m is None or m.seq is None or m.best_bid is None:
        return None
    best = m.best_bid
    info = m.info
    qty = m.bids[best]
    kept: list[list[Any]] = []
    for level in data.get("bids", []):
        try:
            price = to_units(str(level[0]), info.price_decimals)
            if price == best:  # the delta moves the best bid itself: corrupt what it says
                qty = to_units(str(level[1]), info.qty_decimals) or qty
            else:
                kept.append(list(level))
        except InvalidDecimal:
            return None
    kept.append([info.price(best), info.qty(qty + info.lot)])
    return {**data, "bids": kept}
