"""Server -> client messages on the WebSocket (PROTOCOL.md sections 3 and 5).

Exports: ``Session``, ``ExecutionsResumed``, ``OrderAck``, ``OrderReject``, ``OrderFill``,
``OrderCanceled``, ``OrderTriggered``, ``OrdersCanceledAll``, ``DeadmanSet``, ``DrillSet``, ``Subscribed``, ``Unsubscribed``,
``OrderStatus``, ``Error``, ``Pong``, the market-data envelopes ``MdSnapshot``, ``MdBook``,
``MdTrade``, ``MdTicker``, ``MdCandle``, ``MdStatus``, ``MdReset``, the union
``ServerMessage`` (tagged by ``type``), ``EXECUTION_TYPES``, ``TYPE_NAMES`` and the literal
types ``Side``, ``OrderType``, ``Tif``, ``OrderState``.

Contract: unlike client ops, enumerations are ``Literal`` here (the server writes only legal
values). ``exec_seq`` is present exactly on the execution stream (first ack of an accepted
new/replace, every fill, every cancel that cancels something, a stop order's trigger) and
absent on duplicates;
``req_id`` is present on direct replies when the request carried one.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictStr

from shared.models.base import Dec, Nanos, ReqId, Seq, WireModel
from shared.models.market import (
    BookDeltaPayload,
    BookSnapshotPayload,
    CandlePayload,
    ResetPayload,
    StatusPayload,
    TickerPayload,
    TradePayload,
)
from shared.models.ops import ChannelList, Conflate, SymbolList

__all__ = [
    "EXECUTION_TYPES",
    "TYPE_NAMES",
    "DeadmanSet",
    "DrillSet",
    "Error",
    "ExecutionsResumed",
    "MdBook",
    "MdCandle",
    "MdReset",
    "MdSnapshot",
    "MdStatus",
    "MdTicker",
    "MdTrade",
    "OrderAck",
    "OrderCanceled",
    "OrderFill",
    "OrderReject",
    "OrderState",
    "OrderStatus",
    "OrderTriggered",
    "OrderType",
    "OrdersCanceledAll",
    "Pong",
    "ServerMessage",
    "Session",
    "Side",
    "Subscribed",
    "Tif",
    "Unsubscribed",
]

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market", "stop", "stop_limit"]
Tif = Literal["gtc", "ioc", "fok"]
OrderState = Literal["open", "partially_filled", "filled", "canceled"]
ExecSeq = Annotated[int, Field(ge=1, le=2**63 - 1)]
#: A market-data event id (``<epoch>-<offset>``), opaque to clients.
MdId = Annotated[str, Field(max_length=64)]
_REQ_AND_EXEC: frozenset[str] = frozenset({"req_id", "exec_seq"})


class _Reply(WireModel):
    type: str  # narrowed to a Literal by each message; declared here so it is encoded first
    req_id: ReqId | None = None


class Session(WireModel):
    """First message after connect."""

    type: Literal["session"] = "session"
    account: StrictStr
    server_time: Nanos
    latest_exec_seq: Seq
    protocol: Literal["tickwire/1"] = "tickwire/1"


class ExecutionsResumed(_Reply):
    """Sent after the replayed execution-stream messages of ``executions.resume``."""

    type: Literal["executions.resumed"] = "executions.resumed"
    latest_exec_seq: Seq


class _OrderState(_Reply):
    """The order fields shared by ``order.ack`` and ``order.status``."""

    client_order_id: StrictStr
    order_id: StrictStr
    symbol: StrictStr
    side: Side
    order_type: OrderType
    price: Dec | None  # null on a market order
    qty: Dec
    tif: Tif
    post_only: bool
    status: OrderState
    filled_qty: Dec
    leaves_qty: Dec
    ts: Nanos
    # stop and stop_limit orders only (absent on the others)
    stop_price: Dec | None = None
    triggered: bool | None = None


_STOP_FIELDS: frozenset[str] = frozenset({"stop_price", "triggered"})


class OrderAck(_OrderState):
    """An accepted new/replace (``exec_seq`` set) or a duplicate of one (``duplicate``)."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = _REQ_AND_EXEC | _STOP_FIELDS
    type: Literal["order.ack"] = "order.ack"
    duplicate: bool = False
    exec_seq: ExecSeq | None = None


class OrderStatus(_OrderState):
    """Answer to ``order.status``: the order's current state; changes nothing."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"req_id"}) | _STOP_FIELDS
    type: Literal["order.status"] = "order.status"


class OrderTriggered(WireModel):
    """A stop order's stop price traded: it now works as a market (``stop``) or limit
    (``stop_limit``) order; its fills (or its cancel) follow."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()
    type: Literal["order.triggered"] = "order.triggered"
    order_id: StrictStr
    client_order_id: StrictStr
    symbol: StrictStr
    side: Side
    order_type: Literal["stop", "stop_limit"]
    stop_price: Dec
    trigger_price: Dec
    ts: Nanos
    exec_seq: ExecSeq


class OrderReject(_Reply):
    """A well-formed request refused for its values or the state; nothing changed."""

    type: Literal["order.reject"] = "order.reject"
    client_order_id: StrictStr | None = None
    code: StrictStr
    message: StrictStr


class OrderFill(WireModel):
    """One execution of the account's order. ``fee`` is in the cash currency."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()
    type: Literal["order.fill"] = "order.fill"
    order_id: StrictStr
    client_order_id: StrictStr
    trade_id: Seq
    symbol: StrictStr
    side: Side
    price: Dec
    qty: Dec
    leaves_qty: Dec
    liquidity: Literal["maker", "taker"]
    fee: Dec
    ts: Nanos
    exec_seq: ExecSeq


class OrderCanceled(_Reply):
    """An order left the book (cancel, IOC/FOK remainder, self-trade, dead-man, replace),
    or a repeated cancel of a canceled order (``duplicate``, no ``exec_seq``)."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = _REQ_AND_EXEC | {"symbol"}
    type: Literal["order.canceled"] = "order.canceled"
    order_id: StrictStr
    client_order_id: StrictStr
    symbol: StrictStr | None = None
    reason: StrictStr
    filled_qty: Dec
    ts: Nanos
    duplicate: bool = False
    exec_seq: ExecSeq | None = None


class OrdersCanceledAll(_Reply):
    """Answer to ``orders.cancel_all``, after each order's ``order.canceled``."""

    type: Literal["orders.canceled_all"] = "orders.canceled_all"
    count: Seq


class DeadmanSet(_Reply):
    type: Literal["deadman.set"] = "deadman.set"
    timeout_ms: Seq


class DrillSet(_Reply):
    """Extension: answer to ``drill``, the faults now armed on this connection."""

    type: Literal["drill.set"] = "drill.set"
    fault: Literal["withhold_ack"]
    count: Seq


class Subscribed(_Reply):
    """The market-data subscription now in force; an absent ``symbols``/``channels`` means
    all, ``after``/``conflate`` echo the request's when it had them."""

    OMIT_ALL_NONE: ClassVar[bool] = True
    type: Literal["subscribed"] = "subscribed"
    symbols: SymbolList | None = None
    channels: ChannelList | None = None
    after: MdId | None = None
    conflate: Conflate | None = None


class Unsubscribed(_Reply):
    """Answer to ``unsubscribe``; the remaining subscription when the server reports it."""

    OMIT_ALL_NONE: ClassVar[bool] = True
    type: Literal["unsubscribed"] = "unsubscribed"
    symbols: SymbolList | None = None
    channels: ChannelList | None = None


class Error(_Reply):
    """The frame's shape was wrong (``BAD_REQUEST``, ``UNKNOWN_OP``) or ``RATE_LIMITED``."""

    type: Literal["error"] = "error"
    code: StrictStr
    message: StrictStr


class Pong(_Reply):
    type: Literal["pong"] = "pong"
    server_time: Nanos


class MdSnapshot(WireModel):
    type: Literal["md.snapshot"] = "md.snapshot"
    id: MdId
    data: BookSnapshotPayload


class MdBook(WireModel):
    type: Literal["md.book"] = "md.book"
    id: MdId
    data: BookDeltaPayload


class MdTrade(WireModel):
    type: Literal["md.trade"] = "md.trade"
    id: MdId
    data: TradePayload


class MdTicker(WireModel):
    type: Literal["md.ticker"] = "md.ticker"
    id: MdId
    data: TickerPayload


class MdCandle(WireModel):
    type: Literal["md.candle"] = "md.candle"
    id: MdId
    data: CandlePayload


class MdStatus(WireModel):
    type: Literal["md.status"] = "md.status"
    id: MdId
    data: StatusPayload


class MdReset(WireModel):
    type: Literal["md.reset"] = "md.reset"
    id: MdId
    data: ResetPayload


_ALL = (
    Session,
    ExecutionsResumed,
    OrderAck,
    OrderReject,
    OrderFill,
    OrderCanceled,
    OrderTriggered,
    OrdersCanceledAll,
    DeadmanSet,
    DrillSet,
    Subscribed,
    Unsubscribed,
    OrderStatus,
    Error,
    Pong,
    MdSnapshot,
    MdBook,
    MdTrade,
    MdTicker,
    MdCandle,
    MdStatus,
    MdReset,
)

ServerMessage = Annotated[
    Session
    | ExecutionsResumed
    | OrderAck
    | OrderReject
    | OrderFill
    | OrderCanceled
    | OrderTriggered
    | OrdersCanceledAll
    | DeadmanSet
    | DrillSet
    | Subscribed
    | Unsubscribed
    | OrderStatus
    | Error
    | Pong
    | MdSnapshot
    | MdBook
    | MdTrade
    | MdTicker
    | MdCandle
    | MdStatus
    | MdReset,
    Field(discriminator="type"),
]

#: Every ``type`` value, for dispatch and for the browser's constants test.
TYPE_NAMES: frozenset[str] = frozenset(cls.model_fields["type"].default for cls in _ALL)
#: Message types that can carry ``exec_seq`` (the execution stream).
EXECUTION_TYPES: frozenset[str] = frozenset(
    {"order.ack", "order.fill", "order.canceled", "order.triggered"}
)
