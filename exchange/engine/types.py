"""Commands into the engine and events out of it: the engine's whole interface.

Exports: ``SymbolSpec``, the commands (``NewOrder``, ``CancelOrder``, ``ReplaceOrder``,
``CancelAll``, ``OpenAccount``, ``SetSymbolState``, ``Tick``, ``Publish``; union ``Command``), the private
events (``OrderAccepted``, ``OrderRejected``, ``OrderFilled``, ``OrderCanceled``,
``CanceledAll``; union ``PrivateEvent``), the market-data events (``BookDelta``, ``Trade``,
``Ticker``, ``Candle``, ``SymbolStatus``; union ``MarketEvent``) and ``OrderView``.

Contract:

* Commands carry values **as the client sent them** (decimal strings, raw side/type/tif
  strings): validating them is the engine's job and every failure is an ``OrderRejected``
  event, never an exception. Every command carries ``ts`` (ns since the epoch), stamped by
  the sequencer from its injected clock before journaling, so replaying the journal is
  deterministic.
* Events carry integers: prices in units of ``10**-price_decimals`` and quantities in units
  of ``10**-qty_decimals`` of their symbol, cash and fees in units of ``10**-cash_decimals``
  of the engine. ``exchange.engine.render`` turns them into wire payloads.
* ``exec_seq`` is per account, starts at 1 and rises by exactly 1 over the account's
  execution stream (first ack of an accepted new/replace, every fill, every cancel that
  cancels something). Events that change nothing have ``exec_seq = None``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AccountView",
    "BookDelta",
    "BookSnapshot",
    "CancelAll",
    "CancelOrder",
    "CanceledAll",
    "Candle",
    "Command",
    "Event",
    "Level",
    "MarketEvent",
    "NewOrder",
    "OpenAccount",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderRejected",
    "OrderView",
    "Position",
    "PrivateEvent",
    "Publish",
    "ReplaceOrder",
    "SetSymbolState",
    "SymbolSpec",
    "SymbolStatus",
    "Tick",
    "Ticker",
    "Trade",
]

Side = Literal["buy", "sell"]
#: A price level: (price units, total quantity units); quantity 0 removes the level.
Level = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A tradable symbol. ``tick_size``/``lot_size``/``min_qty`` are integer units."""

    symbol: str
    price_decimals: int
    qty_decimals: int
    tick_size: int  # in price units
    lot_size: int  # in qty units
    min_qty: int  # in qty units
    max_qty: int = 10**15  # in qty units; larger is INVALID_QTY
    max_price: int = 10**15  # in price units; larger is INVALID_PRICE


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class NewOrder:
    account: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    qty: str
    price: str | None = None
    tif: str | None = None  # None -> default (gtc for limit, ioc for market)
    post_only: bool = False
    ts: int = 0


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Exactly one of ``client_order_id`` / ``order_id`` is set."""

    account: str
    client_order_id: str | None = None
    order_id: str | None = None
    ts: int = 0


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    account: str
    client_order_id: str  # the new key, for this request
    orig_client_order_id: str
    price: str | None = None
    qty: str | None = None
    ts: int = 0


@dataclass(frozen=True, slots=True)
class CancelAll:
    account: str
    symbol: str | None = None
    reason: str = "canceled"  # "deadman" when the dead-man's switch fired
    ts: int = 0


@dataclass(frozen=True, slots=True)
class OpenAccount:
    """Create an account with starting balances; a no-op if it exists."""

    account: str
    cash: int  # in cash units
    positions: tuple[tuple[str, int], ...] = ()  # (symbol, qty units)
    risk_exempt: bool = False  # replay/system accounts: no reservations, may go negative
    ts: int = 0
    # (symbol, cost basis in cash units) of starting positions; absent: cost 0. The caller
    # prices the inventory (the demo accounts at the market when they open), so the engine
    # stays deterministic and the P&L of a starting position is real from the first fill.
    costs: tuple[tuple[str, int], ...] = ()
    # How long this account's idempotency keys (and closed orders) are kept; 0: the engine's
    # ``idempotency_ttl_ns``. The simulator's busy accounts use minutes, not a day.
    key_ttl_ns: int = 0


@dataclass(frozen=True, slots=True)
class SetSymbolState:
    symbol: str
    state: Literal["open", "halted"]
    ts: int = 0


@dataclass(frozen=True, slots=True)
class Tick:
    """Advance the engine clock without an order (closes candles whose interval ended)."""

    ts: int


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish the market data of every command since the last ``Publish`` (an engine made
    with ``market_batches=True``): trades, one ``BookDelta`` per changed symbol, tickers and
    candles of the whole batch. Also advances the clock, as ``Tick`` does."""

    ts: int


Command = (
    NewOrder
    | CancelOrder
    | ReplaceOrder
    | CancelAll
    | OpenAccount
    | SetSymbolState
    | Tick
    | Publish
)

# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's current state, in the fields of ``order.ack``/``order.status``."""

    order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    order_type: Literal["limit", "market"]
    price: int | None
    qty: int
    tif: Literal["gtc", "ioc", "fok"]
    post_only: bool
    status: Literal["open", "partially_filled", "filled", "canceled"]
    filled_qty: int
    leaves_qty: int
    ts: int  # when the order was accepted


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    account: str
    order: OrderView
    exec_seq: int | None  # None on a duplicate
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class OrderRejected:
    account: str
    client_order_id: str | None
    code: str  # one of shared.errors codes
    message: str


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class CanceledAll:
    account: str
    count: int


@dataclass(frozen=True, slots=True)
class BookDelta:
    symbol: str
    first_seq: int
    seq: int
    bids: tuple[Level, ...]  # changed levels
    asks: tuple[Level, ...]
    checksum: int
    ts: int


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    trade_id: int
    price: int
    qty: int
    taker_side: Side
    ts: int
    maker_order_id: str = field(default="", compare=True)
    taker_order_id: str = field(default="", compare=True)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class SymbolStatus:
    symbol: str
    state: str
    ts: int


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The whole book of one symbol (or its best ``depth`` levels), best first."""

    symbol: str
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    last_trade_id: int
    checksum: int


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    qty: int  # qty units (available + reserved)
    avg_price: int | None  # price units, None when flat
    realized_pnl: int  # cash units


@dataclass(frozen=True, slots=True)
class AccountView:
    account: str
    cash: int  # cash units, total
    cash_available: int  # total minus reservations of resting buys
    positions: tuple[Position, ...]
    fees_paid: int
    latest_exec_seq: int


PrivateEvent = OrderAccepted | OrderRejected | OrderFilled | OrderCanceled | CanceledAll
MarketEvent = BookDelta | Trade | Ticker | Candle | SymbolStatus
Event = PrivateEvent | MarketEvent


# --------------------------------------------------------------------------- fast __init__


def _fast_init(cls: type) -> None:
    """Give a frozen slotted dataclass a faster ``__init__`` with the same signature.

    The generated ``__init__`` of a frozen dataclass sets each field through
    ``object.__setattr__(self, name, value)``; this one calls each slot descriptor's
    ``__set__`` directly (no name lookup), about 3x faster for an event of 14 fields. The
    class stays frozen (assignment still raises ``FrozenInstanceError``), equality, hash,
    repr and defaults are unchanged. Engine profiling showed event construction at ~40 %
    of a command's time.
    """
    params: list[str] = []
    body: list[str] = []
    namespace: dict[str, object] = {}
    for i, f in enumerate(dataclasses.fields(cls)):
        if f.default_factory is not dataclasses.MISSING or not f.init or f.kw_only:
            return  # not a shape this helper knows: keep the dataclass's own __init__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        namespace[f"_s{i}"] = cls.__dict__[f.name].__set__
        body.append(f"    _s{i}(self, {f.name})")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body) + "\n"
    exec(source, namespace)  # the same technique dataclasses itself uses
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    setattr(cls, "__init__", init)  # noqa: B010 - assigning a method


for _cls in (
    SymbolSpec,
    NewOrder,
    CancelOrder,
    ReplaceOrder,
    CancelAll,
    OpenAccount,
    SetSymbolState,
    Tick,
    Publish,
    OrderView,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCanceled,
    CanceledAll,
    BookDelta,
    Trade,
    Ticker,
    Candle,
    SymbolStatus,
    BookSnapshot,
    Position,
    AccountView,
):
    _fast_init(_cls)
del _cls
