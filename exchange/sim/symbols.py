"""The default symbols of the simulated market and their starting fair values.

Exports ``DEFAULT_SYMBOLS``, ``DEFAULT_FAIR_VALUES`` and ``cash_decimals_for``.

Ticks follow what large spot venues use (Coinbase/Kraken style): BTC and ETH quoted to the
cent, SOL to a tenth of a cent; quantities to 0.0001 (0.01 for SOL).
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange.engine.types import SymbolSpec

__all__ = ["DEFAULT_FAIR_VALUES", "DEFAULT_SYMBOLS", "cash_decimals_for"]

DEFAULT_SYMBOLS: list[SymbolSpec] = [
    SymbolSpec("BTC-USD", price_decimals=2, qty_decimals=4, tick_size=1, lot_size=1, min_qty=1),
    SymbolSpec("ETH-USD", price_decimals=2, qty_decimals=4, tick_size=1, lot_size=1, min_qty=1),
    SymbolSpec("SOL-USD", price_decimals=3, qty_decimals=2, tick_size=1, lot_size=1, min_qty=1),
]

#: Starting fair value of each default symbol, as a decimal string in the quote currency.
DEFAULT_FAIR_VALUES: dict[str, str] = {
    "BTC-USD": "60000.00",
    "ETH-USD": "3000.00",
    "SOL-USD": "150.000",
}


def cash_decimals_for(symbols: Iterable[SymbolSpec]) -> int:
    """The engine's cash scale for these symbols: the largest ``price_decimals + qty_decimals``.

    This mirrors the rule in docs/architecture.md ("Values") so the simulator can size its
    accounts' cash in the engine's units without holding an engine.
    """
    return max((s.price_decimals + s.qty_decimals for s in symbols), default=0)
