"""Stop and stop-limit orders in the ticket: their default stop price and the check that
mirrors the server's.

Exports ``STOP_TYPES``, ``ORDER_TYPES``, ``TIF_CHOICES``, ``takes_price``, ``default_stop``
and ``stop_problem``.

The server (``exchange.engine.engine.Engine._new_stop``) refuses a stop whose stop price the
last trade already reached: a buy stop's ``stop_price`` must be strictly above the last
trade, a sell stop's strictly below; with no trade yet any stop price is accepted. Its
reject text is ``a buy stop's stop_price must be above the last trade (60010.00)``;
:func:`stop_problem` gives the same words, so the trader reads one message whichever side
noticed. Prices are integer units of the symbol (``shared.values``); every function is pure.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "ORDER_TYPES",
    "STOP_TYPES",
    "TIF_CHOICES",
    "default_stop",
    "stop_problem",
    "takes_price",
]

#: The order the ticket's ``o`` key cycles through.
ORDER_TYPES = ("limit", "market", "stop", "stop_limit")
STOP_TYPES = frozenset({"stop", "stop_limit"})
#: Time in force per order type, the default first (a stop becomes a market order, a stop
#: limit a limit order: each takes what it becomes takes).
TIF_CHOICES = {
    "limit": ("gtc", "ioc", "fok"),
    "market": ("ioc", "fok"),
    "stop": ("ioc", "fok"),
    "stop_limit": ("gtc", "ioc", "fok"),
}


def takes_price(order_type: str) -> bool:
    """True for the types that carry a limit ``price`` (limit, stop_limit)."""
    return order_type in ("limit", "stop_limit")


def default_stop(side: str, cursor: int | None, last: int | None, tick: int) -> int | None:
    """A stop price to start from: the ladder cursor when it is on the side of the last
    trade the server accepts (above for a buy, below for a sell), else one tick beyond the
    last trade; the cursor when nothing has traded; None with neither."""
    if last is None:
        return cursor
    if side == "buy":
        return cursor if cursor is not None and cursor > last else last + tick
    return cursor if cursor is not None and cursor < last else max(tick, last - tick)


def stop_problem(side: str, stop: int, last: int | None, fmt: Callable[[int], str]) -> str | None:
    """Why the server would refuse this stop price against the last trade (its own words),
    or None when it would not."""
    if last is None:
        return None
    if side == "buy" and stop <= last:
        return f"a buy stop's stop_price must be above the last trade ({fmt(last)})"
    if side == "sell" and stop >= last:
        return f"a sell stop's stop_price must be below the last trade ({fmt(last)})"
    return None
