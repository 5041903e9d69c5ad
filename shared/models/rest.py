"""REST bodies (PROTOCOL.md sections 2, 5 and 6).

Exports: ``SessionRequest``, ``SessionResponse``, ``SymbolInfo``, ``PositionInfo``,
``AccountInfo``, ``OrderRequest`` (``POST /api/orders`` body), ``ErrorBody``, the long-poll
events ``PollSnapshot``, ``PollBook``, ``PollTrade``, ``PollTicker``, ``PollCandle``,
``PollStatus``, ``PollReset`` (union ``PollEvent``, tagged by ``event``) and ``PollResponse``.

Contract: as everywhere in ``shared``, decimal values are strings; order bodies, like client
ops, carry raw strings for the engine to judge.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, Strict, StrictStr

from shared.models.base import Dec, EpochSeconds, Seq, WireModel
from shared.models.market import (
    BookDeltaPayload,
    BookSnapshotPayload,
    CandlePayload,
    ResetPayload,
    StatusPayload,
    TickerPayload,
    TradePayload,
)

__all__ = [
    "AccountInfo",
    "Balance",
    "ErrorBody",
    "OrderRequest",
    "PollBook",
    "PollCandle",
    "PollEvent",
    "PollReset",
    "PollResponse",
    "PollSnapshot",
    "PollStatus",
    "PollTicker",
    "PollTrade",
    "PositionInfo",
    "SessionRequest",
    "SessionResponse",
    "SymbolInfo",
]


class SessionRequest(WireModel):
    """``POST /api/sessions``; ``secret`` is needed only when demo mode is off."""

    OMIT_ALL_NONE: ClassVar[bool] = True
    account: Annotated[str, Field(min_length=1, max_length=64)]
    secret: StrictStr | None = None


class SessionResponse(WireModel):
    """A bearer token (JWT) for ``account``, valid until ``expires_at`` (seconds since the
    epoch, as the JWT's ``exp``)."""

    account: StrictStr
    token: StrictStr
    expires_at: EpochSeconds


class SymbolInfo(WireModel):
    """One entry of ``GET /api/symbols``: the grids as canonical decimal strings."""

    symbol: StrictStr
    tick_size: Dec
    lot_size: Dec
    min_qty: Dec
    price_decimals: Annotated[int, Field(ge=0, le=18)]
    qty_decimals: Annotated[int, Field(ge=0, le=18)]


class PositionInfo(WireModel):
    symbol: StrictStr
    qty: Dec
    avg_price: Dec | None  # null when flat
    realized_pnl: StrictStr  # may be negative: "-12.50"


class Balance(WireModel):
    """One currency's cash: ``total``, and ``available`` (total minus what resting buys
    reserve)."""

    total: StrictStr
    available: StrictStr


class AccountInfo(WireModel):
    """``GET /api/account``. One cash currency per engine, so ``balances`` is
    ``{"cash": {"total", "available"}}``; ``fees_paid`` is the sum of fees charged."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"fees_paid"})
    account: StrictStr
    balances: Annotated[dict[StrictStr, Balance], Strict(False)]
    positions: Annotated[tuple[PositionInfo, ...], Strict(False)]
    fees_paid: StrictStr | None = None
    latest_exec_seq: Seq


class OrderRequest(WireModel):
    """``POST /api/orders`` body: ``order.new`` without ``op``/``req_id``."""

    OMIT_ALL_NONE: ClassVar[bool] = True
    client_order_id: StrictStr
    symbol: StrictStr
    side: StrictStr
    order_type: StrictStr
    qty: Dec
    price: Dec | None = None
    tif: StrictStr | None = None
    post_only: bool = False
    stop_price: Dec | None = None  # stop and stop_limit orders


class ErrorBody(WireModel):
    """Every REST error: ``{"code", "message"}`` with a fitting HTTP status."""

    code: StrictStr
    message: StrictStr


MdId = Annotated[str, Field(max_length=64)]


class PollSnapshot(WireModel):
    event: Literal["snapshot"] = "snapshot"
    id: MdId
    data: BookSnapshotPayload


class PollBook(WireModel):
    event: Literal["book"] = "book"
    id: MdId
    data: BookDeltaPayload


class PollTrade(WireModel):
    event: Literal["trade"] = "trade"
    id: MdId
    data: TradePayload


class PollTicker(WireModel):
    event: Literal["ticker"] = "ticker"
    id: MdId
    data: TickerPayload


class PollCandle(WireModel):
    event: Literal["candle"] = "candle"
    id: MdId
    data: CandlePayload


class PollStatus(WireModel):
    event: Literal["status"] = "status"
    id: MdId
    data: StatusPayload


class PollReset(WireModel):
    event: Literal["reset"] = "reset"
    id: MdId
    data: ResetPayload


PollEvent = Annotated[
    PollSnapshot | PollBook | PollTrade | PollTicker | PollCandle | PollStatus | PollReset,
    Field(discriminator="event"),
]


class PollResponse(WireModel):
    """``GET /md/poll``: events after the cursor, and the cursor to send next time."""

    events: Annotated[tuple[PollEvent, ...], Strict(False)]
    cursor: MdId
