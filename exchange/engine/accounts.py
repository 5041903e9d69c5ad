"""Accounts: cash, positions, reservations, fees, average cost and realized P&L.

Exports: ``Account``, ``PositionState``, ``fee_for``.

Rules (spot style, one cash currency per engine):

* Cash, fees and P&L are integers in units of ``10**-cash_decimals``; a fill's notional is
  ``price * qty * scale`` where ``scale = 10**(cash_decimals - price_decimals - qty_decimals)``
  of the symbol, so every notional is exact.
* A fee is ``ceil(notional * bps / 10_000)`` cash units, charged in cash on top of a buy's
  cost and out of a sell's proceeds.
* A resting (or matching) buy reserves ``notional(price, leaves) + fee at max(maker, taker)
  bps`` (+ 2 cash units per lot when fees are on, for per-fill fee rounding; see
  ``core``); a sell reserves ``leaves`` of the symbol. ``cash - reserved_cash`` is the available
  cash; ``qty - reserved`` the available inventory. Risk-exempt accounts reserve nothing and
  may go negative.
* Average cost: the weighted average of the opening fills (fees excluded), kept exactly as
  the position's total ``cost`` in cash units. A reducing fill takes the proportional share
  ``cost * closed // |qty|`` out of ``cost`` (the whole of it when the position goes flat) and
  realizes ``proceeds - that share`` for a long (``share - cost of the buy`` for a short).
  Realized P&L excludes fees (``fees_paid`` reports them). Starting positions given to
  ``OpenAccount`` enter at the cost basis its ``costs`` give (cost 0 where absent).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from exchange.engine.types import Event, Position

__all__ = ["Account", "PositionState", "fee_for"]


def fee_for(notional: int, bps: int) -> int:
    """``ceil(notional * bps / 10_000)`` for non-negative integers."""
    return -((-notional * bps) // 10_000)


class PositionState:
    """A position in one symbol: signed ``qty``, the part ``reserved`` by resting sells."""

    __slots__ = ("cost", "qty", "realized", "reserved")

    def __init__(self, qty: int = 0, cost: int = 0) -> None:
        self.qty = qty
        self.reserved = 0
        self.cost = cost  # cash units, >= 0: total cost basis of |qty|
        self.realized = 0

    def apply(self, signed_qty: int, notional: int) -> None:
        """Book a fill of ``signed_qty`` (> 0 buy) worth ``notional`` cash units."""
        qty = self.qty
        if qty == 0 or (qty > 0) == (signed_qty > 0):
            self.cost += notional
            self.qty = qty + signed_qty
            return
        size = abs(signed_qty)
        held = abs(qty)
        closed = min(size, held)
        share = self.cost if closed == held else self.cost * closed // held
        part = notional if closed == size else notional * closed // size
        self.realized += (part - share) if qty > 0 else (share - part)
        self.cost -= share
        self.qty = qty + signed_qty
        if size > closed:  # the fill flipped the position: the rest opens it anew
            self.cost = notional - part

    def view(self, symbol: str, scale: int) -> Position:
        held = abs(self.qty)
        avg = self.cost // (held * scale) if held else None
        return Position(symbol, self.qty, avg, self.realized)


class Account:
    """One trader's balances, orders, idempotency keys and execution stream."""

    __slots__ = (
        "cash",
        "exec_history",
        "exec_seq",
        "fees_paid",
        "key_ttl",
        "keys",
        "name",
        "open_orders",
        "positions",
        "reserved_cash",
        "risk_exempt",
    )

    def __init__(self, name: str, cash: int, risk_exempt: bool, exec_history: int) -> None:
        self.name = name
        self.cash = cash
        self.reserved_cash = 0
        self.risk_exempt = risk_exempt
        self.fees_paid = 0
        self.exec_seq = 0
        self.positions: dict[str, PositionState] = {}
        #: order_id -> Order, the account's open orders in acceptance order.
        self.open_orders: dict[str, Any] = {}
        #: client_order_id -> (fingerprint, order_id, ts of first use).
        self.keys: dict[str, tuple[tuple[Any, ...], str, int]] = {}
        #: ns its keys are kept; 0 means the engine's idempotency TTL
        self.key_ttl = 0
        self.exec_history: deque[Event] = deque(maxlen=exec_history)

    def position(self, symbol: str) -> PositionState:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = PositionState()
        return pos

    def available_cash(self) -> int:
        return self.cash - self.reserved_cash

    def available_qty(self, symbol: str) -> int:
        pos = self.positions.get(symbol)
        return 0 if pos is None else pos.qty - pos.reserved
