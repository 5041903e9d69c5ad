"""Client -> server operations on the WebSocket ``/ws`` (PROTOCOL.md section 3).

Exports: ``OrderNew``, ``OrderCancel``, ``OrderReplace``, ``OrdersCancelAll``,
``OrderStatusRequest``, ``ExecutionsResume``, ``Deadman``, ``Subscribe``, ``Unsubscribe``,
``Ping``, ``Drill`` (an extension: fault drills, refused unless the server runs with
``--drills``), the union ``ClientOp`` (tagged by ``op``), ``OP_NAMES``, ``Channel``, ``CHANNELS``.

Contract: a model here is a *well-formed* request, not a valid one. ``side``, ``order_type``,
``tif``, ``price``, ``qty``, ``client_order_id`` and ``symbol`` are any strings: the engine
judges them and answers ``order.reject`` with ``INVALID_SIDE``, ``INVALID_PRICE`` ... A
missing required field, a wrong JSON type or an unknown field is a ``BAD_REQUEST`` ``error``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field, Strict, StrictStr, model_validator

from shared.models.base import Dec, ReqId, Seq, WireModel

__all__ = [
    "CHANNELS",
    "OP_NAMES",
    "Channel",
    "ChannelList",
    "ClientOp",
    "Conflate",
    "Deadman",
    "Drill",
    "ExecutionsResume",
    "OrderCancel",
    "OrderNew",
    "OrderReplace",
    "OrderStatusRequest",
    "OrdersCancelAll",
    "Ping",
    "Subscribe",
    "SymbolList",
    "Unsubscribe",
]

#: Market-data channels (PROTOCOL.md section 4).
Channel = Literal["book", "trades", "ticker", "candles", "status"]
CHANNELS: frozenset[str] = frozenset(get_args(Channel))
#: At most this many symbols in one subscribe (a frame limit, not a market limit).
MAX_SYMBOLS = 1000
SymbolList = Annotated[tuple[StrictStr, ...], Strict(False), Field(max_length=MAX_SYMBOLS)]
ChannelList = Annotated[tuple[Channel, ...], Strict(False), Field(max_length=len(CHANNELS) * 2)]
#: A conflation window as in the SSE query: ``"100ms"``, ``"1s"``.
Conflate = Annotated[str, Field(max_length=16)]
#: Longest dead-man's switch timeout accepted: one day.
MAX_DEADMAN_MS = 86_400_000
#: Server-side faults a drill can ask for on its own connection (``Drill``).
DrillFault = Literal["withhold_ack"]
#: At most this many faults armed by one ``drill`` op.
MAX_DRILL_COUNT = 100


class _Op(WireModel):
    OMIT_ALL_NONE: ClassVar[bool] = True
    op: str  # narrowed to a Literal by each op; declared here so it is encoded first
    req_id: ReqId | None = None


class OrderNew(_Op):
    """Place an order. ``tif=None`` means the default (``gtc`` limit, ``ioc`` market)."""

    op: Literal["order.new"] = "order.new"
    client_order_id: StrictStr
    symbol: StrictStr
    side: StrictStr
    order_type: StrictStr
    qty: Dec
    price: Dec | None = None
    tif: StrictStr | None = None
    post_only: bool = False
    stop_price: Dec | None = None  # stop and stop_limit orders


def _exactly_one_id(client_order_id: str | None, order_id: str | None) -> None:
    if (client_order_id is None) == (order_id is None):
        raise ValueError("exactly one of client_order_id or order_id is required")


class OrderCancel(_Op):
    """Cancel one order, named by exactly one of ``client_order_id`` / ``order_id``."""

    op: Literal["order.cancel"] = "order.cancel"
    client_order_id: StrictStr | None = None
    order_id: StrictStr | None = None

    @model_validator(mode="after")
    def _one_id(self) -> OrderCancel:
        _exactly_one_id(self.client_order_id, self.order_id)
        return self


class OrderReplace(_Op):
    """Replace ``orig_client_order_id`` by a new order keyed ``client_order_id``.

    At least one of ``price`` / ``qty`` is given; the other keeps its value.
    """

    op: Literal["order.replace"] = "order.replace"
    client_order_id: StrictStr
    orig_client_order_id: StrictStr
    price: Dec | None = None
    qty: Dec | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> OrderReplace:
        if self.price is None and self.qty is None:
            raise ValueError("at least one of price or qty is required")
        return self


class OrdersCancelAll(_Op):
    """Cancel every open order of the account, or only those of ``symbol``."""

    op: Literal["orders.cancel_all"] = "orders.cancel_all"
    symbol: StrictStr | None = None


class OrderStatusRequest(_Op):
    """Ask for one order's current state (answer: ``order.status`` or ``order.reject``)."""

    op: Literal["order.status"] = "order.status"
    client_order_id: StrictStr | None = None
    order_id: StrictStr | None = None

    @model_validator(mode="after")
    def _one_id(self) -> OrderStatusRequest:
        _exactly_one_id(self.client_order_id, self.order_id)
        return self


class ExecutionsResume(_Op):
    """Replay the account's execution stream after ``after``, then ``executions.resumed``."""

    op: Literal["executions.resume"] = "executions.resume"
    after: Seq


class Deadman(_Op):
    """Cancel all the account's orders if no message arrives within ``timeout_ms`` (0: off)."""

    op: Literal["deadman"] = "deadman"
    timeout_ms: Annotated[int, Field(ge=0, le=MAX_DEADMAN_MS)]


class Subscribe(_Op):
    """Market data over this socket as ``md.<event>`` messages.

    ``symbols``/``channels`` ``None`` mean all. ``after`` is a market-data id to resume
    after (exactly like SSE ``Last-Event-ID``). ``conflate`` (``"100ms"``, ``"1s"``, as the
    SSE query parameter; the gateway parses it) merges book deltas per window.
    """

    op: Literal["subscribe"] = "subscribe"
    symbols: SymbolList | None = None
    channels: ChannelList | None = None
    after: Annotated[str, Field(max_length=64)] | None = None
    conflate: Conflate | None = None


class Unsubscribe(_Op):
    """Stop market data for ``symbols`` x ``channels`` (``None``: all)."""

    op: Literal["unsubscribe"] = "unsubscribe"
    symbols: SymbolList | None = None
    channels: ChannelList | None = None


class Ping(_Op):
    """Liveness probe; answered by ``pong``."""

    op: Literal["ping"] = "ping"


class Drill(_Op):
    """Extension (fault drills): arm ``count`` faults of kind ``fault`` on *this* connection
    (0 disarms). ``withhold_ack``: the next ``count`` first acks of this connection's own
    new orders are not sent to it (the execution stream keeps them: a resume replays them).
    Refused with ``BAD_REQUEST`` unless the server runs with ``--drills``."""

    op: Literal["drill"] = "drill"
    fault: DrillFault
    count: Annotated[int, Field(ge=0, le=MAX_DRILL_COUNT)] = 1


ClientOp = Annotated[
    OrderNew
    | OrderCancel
    | OrderReplace
    | OrdersCancelAll
    | OrderStatusRequest
    | ExecutionsResume
    | Deadman
    | Subscribe
    | Unsubscribe
    | Ping
    | Drill,
    Field(discriminator="op"),
]

#: Every ``op`` value, for dispatch and for the browser's constants test.
OP_NAMES: frozenset[str] = frozenset(
    cls.model_fields["op"].default
    for cls in (
        OrderNew,
        OrderCancel,
        OrderReplace,
        OrdersCancelAll,
        OrderStatusRequest,
        ExecutionsResume,
        Deadman,
        Subscribe,
        Unsubscribe,
        Ping,
        Drill,
    )
)
