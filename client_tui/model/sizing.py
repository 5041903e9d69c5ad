"""Order sizes of the ticket: a ladder of preset sizes and a small default.

Exports ``PRESET_MANTISSAS``, ``presets_around``, ``step_size``, ``default_size`` and
``check_on_grid``.

Sizes are integer quantity units (see ``shared.values``). The presets are 1, 2 and 5 times
10**k lots (k >= 0) above the symbol's ``min_qty`` (itself the first, on the lot grid): ``+``
goes to the next preset above the current size, ``-`` to the next below, so a size typed off
the ladder (3 lots) steps to its neighbours (5 and 2 lots) and the step always follows
``lot_size``, whatever the symbol's decimals. Contract: every function is pure and total for
``lot > 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

__all__ = ["PRESET_MANTISSAS", "check_on_grid", "default_size", "presets_around", "step_size"]

PRESET_MANTISSAS = (1, 2, 5)
#: No preset above this many lots (a fat finger on ``+`` stops somewhere).
MAX_LOTS = 10**15


def _presets(lot: int, min_qty: int) -> Iterator[int]:
    """Every preset size in units, ascending, from the first at or above ``min_qty``."""
    first = -(-max(min_qty, lot) // lot) * lot  # the minimum, rounded up onto the lot grid
    yield first
    power = 1
    while power <= MAX_LOTS:
        for m in PRESET_MANTISSAS:
            size = m * power * lot
            if size > first:
                yield size
        power *= 10


def presets_around(qty: int, lot: int, min_qty: int) -> tuple[int | None, int | None]:
    """The presets just below and just above ``qty`` (``None`` where there is none)."""
    below: int | None = None
    for size in _presets(lot, min_qty):
        if size < qty:
            below = size
        elif size > qty:
            return below, size
    return below, None


def smallest(lot: int, min_qty: int) -> int:
    """The smallest preset (the smallest order the symbol takes, on the preset ladder)."""
    return next(_presets(lot, min_qty))


def step_size(qty: int, steps: int, lot: int, min_qty: int) -> int:
    """``qty`` moved ``steps`` presets up (positive) or down; never below the smallest
    preset, never above the largest."""
    for _ in range(abs(steps)):
        below, above = presets_around(qty, lot, min_qty)
        if steps > 0:
            qty = above if above is not None else qty
        else:
            qty = below if below is not None else smallest(lot, min_qty)
    return qty


def default_size(lot: int, min_qty: int, price: Decimal | None, qty_decimals: int,
                 notional: Decimal) -> int:  # fmt: skip
    """The largest preset whose notional at ``price`` is at most ``notional`` (at least the
    smallest preset; the smallest one too when the price is unknown)."""
    best = smallest(lot, min_qty)
    if price is None or price <= 0:
        return best
    scale = Decimal(10) ** qty_decimals
    for size in _presets(lot, min_qty):
        if Decimal(size) / scale * price > notional:
            break
        best = size
    return best


def check_on_grid(
    units: int, grid: int, minimum: int, what: str, fmt: Callable[[int], str]
) -> str | None:
    """Why ``units`` is not a valid ``what`` (zero, off the ``grid``, below ``minimum``), in
    words with the values as ``fmt`` writes them; None when it is valid."""
    if units <= 0:
        return f"{what} must be above 0"
    if units % grid:
        return f"{what} {fmt(units)} is not a multiple of {fmt(grid)}"
    if units < minimum:
        return f"{what} {fmt(units)} is below the minimum {fmt(minimum)}"
    return None
