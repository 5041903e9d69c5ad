"""The engine's events (and the read-only views its queries return), apart from commands.

Exports the private events (``OrderAccepted``, ``OrderRejected``, ``OrderFilled``,
``OrderCanceled``, ``OrderTriggered``, ``CanceledAll``; union ``PrivateEvent``), the market-data events
(``BookDelta``, ``Trade``, ``Ticker``, ``Candle``, ``SymbolStatus``; union ``MarketEvent``),
``Event``, ``OrderView``, ``BookSnapshot``, ``Position``, ``AccountView``, ``Side``, ``PriceQty``.
``exchange.engine.types`` re-exports all of them: import them from there.

These are plain slotted dataclasses, not frozen ones, so that the compiled engine builds them
as native objects (a frozen dataclass is built through interpreted code, about 3x the cost;
see docs/benchmarks.md). Treat them as immutable all the same: the engine hands the same
object to the reply, the execution history and the renderer. Only the engine builds them,
always with the declared types (commands, which carry raw client values, stay in ``types``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AccountView",
    "BookDelta",
    "BookSnapshot",
    "CanceledAll",
    "Candle",
    "Event",
    "MarketEvent",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderRejected",
    "OrderTriggered",
    "OrderView",
    "Position",
    "PriceQty",
    "PrivateEvent",
    "Side",
    "SymbolStatus",
    "Ticker",
    "Trade",
]

Side = Literal["buy", "sell"]
#: A level as events carry it: (price units, total quantity units); quantity 0 removes it.
#: (The engine's book holds ``PriceLevel`` FIFOs; the wire's ``Level`` is two strings.)
PriceQty = tuple[int, int]

# --------------------------------------------------------------------------- events


@dataclass(slots=True)
class OrderView:
    """An order's current state, in the fields of ``order.ack``/``order.status``."""

    order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    order_type: Literal["limit", "market", "stop", "stop_limit"]
    price: int | None
    qty: int
    tif: Literal["gtc", "ioc", "fok"]
    post_only: bool
    status: Literal["open", "partially_filled", "filled", "canceled"]
    filled_qty: int
    leaves_qty: int
    ts: int  # when the order was accepted
    stop_price: int | None = None  # stop orders only
    triggered: bool = False  # a stop order whose stop price has traded


@dataclass(slots=True)
class OrderAccepted:
    account: str
    order: OrderView
    exec_seq: int | None  # None on a duplicate
    duplicate: bool = False


@dataclass(slots=True)
class OrderRejected:
    account: str
    client_order_id: str | None
    code: str  # one of shared.errors codes
    message: str


@dataclass(slots=True)
class OrderFilled:
    account: str
    exec_seq: int
    order_id: str
    client_order_id: str
    trade_id: int
    symbol: str
    side: Side
    price: int
    qty: int
    leaves_qty: int
    liquidity: Literal["maker", "taker"]
    fee: int  # cash units, >= 0
    ts: int


@dataclass(slots=True)
class OrderCanceled:
    account: str
    exec_seq: int | None  # None on a duplicate
    order_id: str
    client_order_id: str
    symbol: str
    reason: str  # canceled | ioc_expired | fok_unfilled | self_trade | deadman | replaced | ...
    filled_qty: int
    ts: int
    duplicate: bool = False


@dataclass(slots=True)
class OrderTriggered:
    """A stop order's stop price traded: from here on it is a market (``stop``) or a limit
    (``stop_limit``) order, and its fills or cancel follow in the same command."""

    account: str
    exec_seq: int
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: Literal["stop", "stop_limit"]
    stop_price: int
    trigger_price: int  # the trade price that triggered it
    ts: int


@dataclass(slots=True)
class CanceledAll:
    account: str
    count: int


@dataclass(slots=True)
class BookDelta:
    symbol: str
    first_seq: int
    seq: int
    bids: tuple[PriceQty, ...]  # changed levels
    asks: tuple[PriceQty, ...]
    checksum: int
    ts: int


@dataclass(slots=True)
class Trade:
    symbol: str
    trade_id: int
    price: int
    qty: int
    taker_side: Side
    ts: int
    maker_order_id: str = field(default="", compare=True)
    taker_order_id: str = field(default="", compare=True)


@dataclass(slots=True)
class Ticker:
    symbol: str
    bid: int | None
    ask: int | None
    last: int | None
    open: int | None
    high: int | None
    low: int | None
    volume: int
    ts: int


@dataclass(slots=True)
class Candle:
    symbol: str
    interval: Literal["1s", "1m"]
    t: int  # interval start, ns
    o: int
    h: int
    l: int  # noqa: E741 - the protocol's field name
    c: int
    v: int
    closed: bool


@dataclass(slots=True)
class SymbolStatus:
    symbol: str
    state: str
    ts: int


@dataclass(slots=True)
class BookSnapshot:
    """The whole book of one symbol (or its best ``depth`` levels), best first."""

    symbol: str
    seq: int
    bids: tuple[PriceQty, ...]
    asks: tuple[PriceQty, ...]
    last_trade_id: int
    checksum: int


@dataclass(slots=True)
class Position:
    symbol: str
    qty: int  # qty units (available + reserved)
    avg_price: int | None  # price units, None when flat
    realized_pnl: int  # cash units


@dataclass(slots=True)
class AccountView:
    account: str
    cash: int  # cash units, total
    cash_available: int  # total minus reservations of resting buys
    positions: tuple[Position, ...]
    fees_paid: int
    latest_exec_seq: int


PrivateEvent = (
    OrderAccepted | OrderRejected | OrderFilled | OrderCanceled | OrderTriggered | CanceledAll
)
MarketEvent = BookDelta | Trade | Ticker | Candle | SymbolStatus
Event = PrivateEvent | MarketEvent
