"""Market-data payloads (PROTOCOL.md section 4): the ``data`` of SSE events, poll events and
WebSocket ``md.<event>`` messages.

Exports: ``BookSnapshotPayload``, ``BookDeltaPayload``, ``TradePayload``, ``TickerPayload``,
``CandlePayload``, ``StatusPayload``, ``ResetPayload``, the union ``MarketPayload``,
``MD_EVENTS`` (event name -> payload model) and ``EVENT_CHANNEL`` (event name -> channel;
``reset`` maps to ``None``: it passes every filter).

Contract: levels are ``(price, qty)`` tuples of canonical decimal strings, best first; in a
``book`` delta a qty of ``"0"`` (any zero, e.g. ``"0.000"``) removes the level. ``checksum``
is the unsigned CRC32 of ``shared.checksum.book_checksum``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictStr

from shared.models.base import Dec, Levels, Nanos, Seq, WireModel

__all__ = [
    "EVENT_CHANNEL",
    "MD_EVENTS",
    "BookDeltaPayload",
    "BookSnapshotPayload",
    "CandlePayload",
    "MarketPayload",
    "ResetPayload",
    "StatusPayload",
    "TickerPayload",
    "TradePayload",
]

Checksum = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
Side = Literal["buy", "sell"]


class BookSnapshotPayload(WireModel):
    """The whole book of ``symbol`` at ``seq`` (REST with ``depth``: the best levels only)."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"ts"})
    symbol: StrictStr
    seq: Seq
    bids: Levels
    asks: Levels
    last_trade_id: Seq
    checksum: Checksum
    ts: Nanos | None = None


class BookDeltaPayload(WireModel):
    """Changed levels from ``first_seq`` to ``seq`` (equal unless conflated)."""

    symbol: StrictStr
    first_seq: Seq
    seq: Seq
    bids: Levels
    asks: Levels
    checksum: Checksum
    ts: Nanos


class TradePayload(WireModel):
    symbol: StrictStr
    trade_id: Seq
    price: Dec
    qty: Dec
    taker_side: Side
    ts: Nanos


class TickerPayload(WireModel):
    """Best bid/ask, last trade and the rolling session's open/high/low/volume (``null``: none)."""

    symbol: StrictStr
    bid: Dec | None
    ask: Dec | None
    last: Dec | None
    open: Dec | None
    high: Dec | None
    low: Dec | None
    volume: Dec
    ts: Nanos


class CandlePayload(WireModel):
    """OHLCV of the interval starting at ``t`` (ns); ``closed`` once the interval is over."""

    symbol: StrictStr
    interval: Literal["1s", "1m"]
    t: Nanos
    o: Dec
    h: Dec
    l: Dec  # noqa: E741 - the protocol's field name
    c: Dec
    v: Dec
    closed: bool


class StatusPayload(WireModel):
    """Trading state of ``symbol``; ``replay_*`` only while replaying recorded data."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset(
        {"ts", "replay_clock", "replay_speed", "replay"}
    )
    symbol: StrictStr
    state: Literal["open", "halted", "replay"]
    ts: Nanos | None = None
    replay_clock: Nanos | None = None
    replay_speed: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    #: tickwire's extension while replaying: the whole ``GET /api/replay`` status (clock,
    #: speed, paused, position, start, end, seeks, ...), so clients need not poll it
    replay: dict[str, Any] | None = None


class ResetPayload(WireModel):
    """History was lost for this client: drop your books, fresh snapshots follow."""

    reason: StrictStr


MarketPayload = (
    BookSnapshotPayload
    | BookDeltaPayload
    | TradePayload
    | TickerPayload
    | CandlePayload
    | StatusPayload
    | ResetPayload
)

MD_EVENTS: dict[str, type[WireModel]] = {
    "snapshot": BookSnapshotPayload,
    "book": BookDeltaPayload,
    "trade": TradePayload,
    "ticker": TickerPayload,
    "candle": CandlePayload,
    "status": StatusPayload,
    "reset": ResetPayload,
}

EVENT_CHANNEL: dict[str, str | None] = {
    "snapshot": "book",
    "book": "book",
    "trade": "trades",
    "ticker": "ticker",
    "candle": "candles",
    "status": "status",
    "reset": None,
}
