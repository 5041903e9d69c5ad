"""Commands into the engine and events out of it: the engine's whole interface.

Exports: ``SymbolSpec``, the commands (``NewOrder``, ``CancelOrder``, ``ReplaceOrder``,
``CancelAll``, ``OpenAccount``, ``SetSymbolState``, ``Tick``, ``Publish``; union
``Command``), and, defined in ``events``, the private events (``OrderAccepted``,
``OrderRejected``, ``OrderFilled``, ``OrderCanceled``, ``OrderTriggered``, ``CanceledAll``; union
``PrivateEvent``), the market-data events (``BookDelta``, ``Trade``, ``Ticker``, ``Candle``,
``SymbolStatus``; union ``MarketEvent``) and ``OrderView``.

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
  cancels something, a stop order's trigger). Events that change nothing have ``exec_seq = None``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from exchange.engine.events import (
    AccountView,
    BookDelta,
    BookSnapshot,
    CanceledAll,
    Candle,
    Event,
    MarketEvent,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    OrderView,
    Position,
    PriceQty,
    PrivateEvent,
    SymbolStatus,
    Ticker,
    Trade,
)

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
    "MarketEvent",
    "NewOrder",
    "OpenAccount",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderRejected",
    "OrderTriggered",
    "OrderView",
    "Position",
    "PriceQty",
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
    tif: str | None = None  # None -> default (gtc for limit/stop_limit, ioc for market/stop)
    post_only: bool = False
    ts: int = 0
    # last, so journal records written before stop orders existed decode unchanged
    stop_price: str | None = None  # stop and stop_limit orders only


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
# (in ``events``, compiled with the engine; re-exported here)

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
):
    _fast_init(_cls)
del _cls
