"""Engine events and views -> wire payload dicts (PROTOCOL.md sections 3, 4 and 6).

Exports: ``render_private``, ``render_market``, ``render_snapshot``, ``render_order``,
``render_account``, ``price_str``, ``qty_str``, ``cash_str``.

Every price/quantity is the symbol's canonical decimal string (fixed ``price_decimals`` /
``qty_decimals``), cash and fees are strings at the engine's ``cash_decimals``. No
``req_id`` is ever added here: the gateway echoes it. Raises ``TypeError`` for an object
that is not an event of the right family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.engine.types import (
    AccountView,
    BookDelta,
    BookSnapshot,
    CanceledAll,
    Candle,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    OrderView,
    SymbolStatus,
    Ticker,
    Trade,
)
from shared.values import format_units

if TYPE_CHECKING:
    from exchange.engine.queries import EngineQueries as EngineLike

__all__ = [
    "cash_str",
    "price_str",
    "qty_str",
    "render_account",
    "render_market",
    "render_order",
    "render_private",
    "render_snapshot",
]


def price_str(engine: EngineLike, symbol: str, units: int | None) -> str | None:
    return None if units is None else format_units(units, engine.specs[symbol].price_decimals)


def qty_str(engine: EngineLike, symbol: str, units: int) -> str:
    return format_units(units, engine.specs[symbol].qty_decimals)


def cash_str(engine: EngineLike, units: int) -> str:
    return format_units(units, engine.cash_decimals)


def _levels(
    engine: EngineLike, symbol: str, levels: tuple[tuple[int, int], ...]
) -> list[list[str]]:
    spec = engine.specs[symbol]
    pd, qd = spec.price_decimals, spec.qty_decimals
    return [[format_units(p, pd), format_units(q, qd)] for p, q in levels]


def render_order(view: OrderView, engine: EngineLike) -> dict[str, Any]:
    """The ``order.status`` field set of an order (no ``type``, ``duplicate``, ``exec_seq``)."""
    sym = view.symbol
    out: dict[str, Any] = {
        "client_order_id": view.client_order_id,
        "order_id": view.order_id,
        "symbol": sym,
        "side": view.side,
        "order_type": view.order_type,
        "price": price_str(engine, sym, view.price),
        "qty": qty_str(engine, sym, view.qty),
        "tif": view.tif,
        "post_only": view.post_only,
        "status": view.status,
        "filled_qty": qty_str(engine, sym, view.filled_qty),
        "leaves_qty": qty_str(engine, sym, view.leaves_qty),
        "ts": view.ts,
    }
    if view.stop_price is not None:  # stop orders only: other orders' payloads are unchanged
        out["stop_price"] = price_str(engine, sym, view.stop_price)
        out["triggered"] = view.triggered
    return out


def render_private(event: Event, engine: EngineLike) -> dict[str, Any]:
    """The section 3 server message (with ``type``, without ``req_id``) for a private event."""
    if isinstance(event, OrderAccepted):
        msg = {"type": "order.ack", **render_order(event.order, engine)}
        msg["duplicate"] = event.duplicate
        if event.exec_seq is not None:
            msg["exec_seq"] = event.exec_seq
        return msg
    if isinstance(event, OrderFilled):
        sym = event.symbol
        return {
            "type": "order.fill",
            "order_id": event.order_id,
            "client_order_id": event.client_order_id,
            "trade_id": event.trade_id,
            "symbol": sym,
            "side": event.side,
            "price": price_str(engine, sym, event.price),
            "qty": qty_str(engine, sym, event.qty),
            "leaves_qty": qty_str(engine, sym, event.leaves_qty),
            "liquidity": event.liquidity,
            "fee": cash_str(engine, event.fee),
            "ts": event.ts,
            "exec_seq": event.exec_seq,
        }
    if isinstance(event, OrderCanceled):
        msg = {
            "type": "order.canceled",
            "order_id": event.order_id,
            "client_order_id": event.client_order_id,
            "symbol": event.symbol,
            "reason": event.reason,
            "filled_qty": qty_str(engine, event.symbol, event.filled_qty),
            "ts": event.ts,
            "duplicate": event.duplicate,
        }
        if event.exec_seq is not None:
            msg["exec_seq"] = event.exec_seq
        return msg
    if isinstance(event, OrderTriggered):
        sym = event.symbol
        return {
            "type": "order.triggered",
            "order_id": event.order_id,
            "client_order_id": event.client_order_id,
            "symbol": sym,
            "side": event.side,
            "order_type": event.order_type,
            "stop_price": price_str(engine, sym, event.stop_price),
            "trigger_price": price_str(engine, sym, event.trigger_price),
            "ts": event.ts,
            "exec_seq": event.exec_seq,
        }
    if isinstance(event, OrderRejected):
        return {
            "type": "order.reject",
            "client_order_id": event.client_order_id,
            "code": event.code,
            "message": event.message,
        }
    if isinstance(event, CanceledAll):
        return {"type": "orders.canceled_all", "count": event.count}
    raise TypeError(f"not a private event: {event!r}")


def render_market(event: Event, engine: EngineLike) -> tuple[str, dict[str, Any]]:
    """(section 4 event name, data dict) for a market-data event."""
    if isinstance(event, BookDelta):
        sym = event.symbol
        return "book", {
            "symbol": sym,
            "first_seq": event.first_seq,
            "seq": event.seq,
            "bids": _levels(engine, sym, event.bids),
            "asks": _levels(engine, sym, event.asks),
            "checksum": event.checksum,
            "ts": event.ts,
        }
    if isinstance(event, Trade):
        sym = event.symbol
        return "trade", {
            "symbol": sym,
            "trade_id": event.trade_id,
            "price": price_str(engine, sym, event.price),
            "qty": qty_str(engine, sym, event.qty),
            "taker_side": event.taker_side,
            "ts": event.ts,
        }
    if isinstance(event, Ticker):
        sym = event.symbol
        return "ticker", {
            "symbol": sym,
            "bid": price_str(engine, sym, event.bid),
            "ask": price_str(engine, sym, event.ask),
            "last": price_str(engine, sym, event.last),
            "open": price_str(engine, sym, event.open),
            "high": price_str(engine, sym, event.high),
            "low": price_str(engine, sym, event.low),
            "volume": qty_str(engine, sym, event.volume),
            "ts": event.ts,
        }
    if isinstance(event, Candle):
        sym = event.symbol
        return "candle", {
            "symbol": sym,
            "interval": event.interval,
            "t": event.t,
            "o": price_str(engine, sym, event.o),
            "h": price_str(engine, sym, event.h),
            "l": price_str(engine, sym, event.l),
            "c": price_str(engine, sym, event.c),
            "v": qty_str(engine, sym, event.v),
            "closed": event.closed,
        }
    if isinstance(event, SymbolStatus):
        return "status", {"symbol": event.symbol, "state": event.state, "ts": event.ts}
    raise TypeError(f"not a market event: {event!r}")


def render_snapshot(snap: BookSnapshot, engine: EngineLike) -> dict[str, Any]:
    """The section 4 ``snapshot`` data (also ``GET /api/book/{symbol}``)."""
    sym = snap.symbol
    return {
        "symbol": sym,
        "seq": snap.seq,
        "bids": _levels(engine, sym, snap.bids),
        "asks": _levels(engine, sym, snap.asks),
        "last_trade_id": snap.last_trade_id,
        "checksum": snap.checksum,
    }


def render_account(view: AccountView, engine: EngineLike) -> dict[str, Any]:
    """The ``GET /api/account`` body: balances, positions, ``latest_exec_seq``.

    ``balances`` is ``{"cash": {"total", "available"}}`` (one cash currency per engine);
    ``fees_paid`` is an extra field.
    """
    return {
        "account": view.account,
        "balances": {
            "cash": {
                "total": cash_str(engine, view.cash),
                "available": cash_str(engine, view.cash_available),
            }
        },
        "positions": [
            {
                "symbol": p.symbol,
                "qty": qty_str(engine, p.symbol, p.qty),
                "avg_price": price_str(engine, p.symbol, p.avg_price),
                "realized_pnl": cash_str(engine, p.realized_pnl),
            }
            for p in view.positions
        ],
        "fees_paid": cash_str(engine, view.fees_paid),
        "latest_exec_seq": view.latest_exec_seq,
    }
