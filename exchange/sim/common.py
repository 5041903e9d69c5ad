"""Shared pieces of the simulated agents: per-symbol context, id source, rounding helpers.

Exports ``SymbolContext``, ``IdSource``, ``poisson``. Internal to ``exchange.sim``.

Agents reason in floats (fair values, notionals): this is a model of traders, not the ledger.
Everything that leaves an agent is an exact integer on the symbol's grid, written as the
symbol's canonical decimal string, so no command is malformed.
"""

from __future__ import annotations

import math
import random
import re

from exchange.engine.types import SymbolSpec
from shared.values import format_units

__all__ = ["IdSource", "SymbolContext", "poisson"]

_ID_CHARS = re.compile(r"^[A-Za-z0-9._:-]*$")


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson(``lam``) sample (Knuth's method; fine for the small means used here)."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:  # normal approximation keeps the loop short for large catch-up steps
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class IdSource:
    """Unique ``client_order_id``s per agent: ``<agent>-<base>-<run_id><counter>``.

    ``run_id`` distinguishes runs sharing one engine state (a server restarted on the same data
    directory keeps idempotency keys for a day; reusing a key would be a duplicate).
    """

    __slots__ = ("_counter", "_prefix", "_run")

    def __init__(self, agent: str, run_id: str = "") -> None:
        if not _ID_CHARS.match(agent + run_id) or len(agent) + len(run_id) > 40:
            raise ValueError(f"agent/run_id must be short and of [A-Za-z0-9._:-]: {agent!r}")
        self._prefix = f"{agent}-"
        self._counter = 0
        self._run = run_id

    def next(self, symbol: str) -> str:
        self._counter += 1
        base = re.sub(r"[^A-Za-z0-9]", "", symbol.split("-")[0])[:8] or "X"
        return f"{self._prefix}{base}-{self._run}{self._counter:06d}"


class SymbolContext:
    """One simulated symbol: its spec, its fair value (a float in price units) and helpers."""

    __slots__ = ("fair", "floor", "spec", "start_fair")

    def __init__(self, spec: SymbolSpec, fair: float) -> None:
        self.spec = spec
        self.fair = fair
        self.start_fair = fair
        self.floor = float(100 * spec.tick_size)

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    def bps(self, n: float) -> float:
        """``n`` basis points of the current fair value, in price units."""
        return self.fair * n * 1e-4

    def grid(self, n_bps: float) -> int:
        """A price step of about ``n_bps`` of the starting fair value, a whole number of ticks."""
        tick = self.spec.tick_size
        return max(tick, round(self.start_fair * n_bps * 1e-4 / tick) * tick)

    def price_str(self, units: int) -> str:
        return format_units(units, self.spec.price_decimals)

    def qty_str(self, units: int) -> str:
        return format_units(units, self.spec.qty_decimals)

    def clamp_price(self, units: int) -> int:
        """``units`` moved onto the tick grid and into ``[tick, max_price]``."""
        tick = self.spec.tick_size
        units = (units // tick) * tick
        return min(max(units, tick), (self.spec.max_price // tick) * tick)

    def qty_for_notional(self, notional: float, fair: float | None = None) -> int:
        """Quantity units worth about ``notional`` (quote currency) at ``fair`` (default: the
        current fair value), on the lot grid and within the symbol's limits."""
        spec = self.spec
        price = (self.fair if fair is None else fair) / 10**spec.price_decimals
        raw = notional / price * 10**spec.qty_decimals
        lots = max(1, int(raw // spec.lot_size))
        qty = max(lots * spec.lot_size, spec.min_qty)
        if qty % spec.lot_size:
            qty += spec.lot_size - qty % spec.lot_size
        return min(qty, (spec.max_qty // spec.lot_size) * spec.lot_size)

    def walk(
        self, rng: random.Random, dt: float, vol_bps: float, jump_rate: float, jump_bps: float
    ) -> None:
        """Advance the fair value by ``dt`` seconds: log random walk plus rare jumps."""
        if dt <= 0.0:
            return
        sigma = vol_bps * 1e-4
        move = sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma * dt
        if rng.random() < 1.0 - math.exp(-jump_rate * dt):
            move += rng.gauss(0.0, jump_bps * 1e-4)
        self.fair = max(self.floor, self.fair * math.exp(move))
