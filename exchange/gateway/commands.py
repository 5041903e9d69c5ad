"""Decoded protocol ops -> engine commands (the one place the translation is written).

Exports: ``new_order``.
"""

from __future__ import annotations

from typing import Any

from exchange.engine import types as t

__all__ = ["new_order"]


def new_order(account: str, op: Any) -> t.NewOrder:
    """The engine command for an ``order.new`` op (WebSocket) or ``POST /api/orders`` body.

    Values pass through as the client wrote them: validating them is the engine's job, so
    every bad value becomes an ``order.reject`` with its code.
    """
    return t.NewOrder(
        account=account,
        client_order_id=op.client_order_id,
        symbol=op.symbol,
        side=op.side,
        order_type=op.order_type,
        qty=op.qty,
        price=op.price,
        tif=op.tif,
        post_only=bool(op.post_only),
        stop_price=op.stop_price,
    )
