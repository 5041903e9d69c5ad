"""Reject/error codes of PROTOCOL.md section 3 and the exceptions of the ``shared`` package.

Exports: one constant per code (``INVALID_SYMBOL`` ... ``UNKNOWN_OP``), ``ALL_CODES``,
``REJECT_CODES`` (what an ``order.reject`` carries), ``ERROR_CODES`` (what an ``error``
carries), and the exception hierarchy::

    SharedError(Exception)
    +-- ProtocolError        the codec's only exception: a frame that is not a valid message
    +-- BookOutOfSync        the client book no longer mirrors the server's: resync it
        +-- BookGap          a delta does not follow the book's seq (or no snapshot yet)
        +-- ChecksumMismatch the book's CRC32 after applying differs from the server's
"""

from __future__ import annotations

__all__ = [
    "ALL_CODES",
    "BAD_REQUEST",
    "DUPLICATE_CLIENT_ORDER_ID",
    "ERROR_CODES",
    "FOK_NOT_FILLABLE",
    "INSUFFICIENT_FUNDS",
    "INVALID_PRICE",
    "INVALID_QTY",
    "INVALID_SIDE",
    "INVALID_SYMBOL",
    "INVALID_TIF",
    "INVALID_TYPE",
    "MARKET_HALTED",
    "NOT_EXECUTED",
    "NO_LIQUIDITY",
    "ORDER_NOT_OPEN",
    "POST_ONLY_WOULD_TAKE",
    "RATE_LIMITED",
    "REJECT_CODES",
    "SLOW_CONSUMER",
    "SUBSCRIPTION_ENDED",
    "UNCONFIRMED",
    "UNKNOWN_OP",
    "UNKNOWN_ORDER",
    "BookGap",
    "BookOutOfSync",
    "ChecksumMismatch",
    "ProtocolError",
    "SharedError",
]

INVALID_SYMBOL = "INVALID_SYMBOL"
INVALID_PRICE = "INVALID_PRICE"
INVALID_QTY = "INVALID_QTY"
INVALID_SIDE = "INVALID_SIDE"
INVALID_TYPE = "INVALID_TYPE"
INVALID_TIF = "INVALID_TIF"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
NO_LIQUIDITY = "NO_LIQUIDITY"
DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
UNKNOWN_ORDER = "UNKNOWN_ORDER"
ORDER_NOT_OPEN = "ORDER_NOT_OPEN"
MARKET_HALTED = "MARKET_HALTED"
RATE_LIMITED = "RATE_LIMITED"
BAD_REQUEST = "BAD_REQUEST"
UNKNOWN_OP = "UNKNOWN_OP"
#: Extension (not in PROTOCOL.md section 3): the ``error`` sent before a market-data
#: subscription is dropped because the client reads too slowly.
SLOW_CONSUMER = "SLOW_CONSUMER"
#: Extension (Redis cluster): the ``order.reject`` of a command the sequencer confirmed it did
#: not execute and never will (lost in a restart): nothing changed, the key is not used up.
NOT_EXECUTED = "NOT_EXECUTED"
#: Extension (Redis cluster): the ``error`` when a gateway got no confirmation in time (the
#: sequencer is down): the command may still be executed; a retry with the same key is safe.
UNCONFIRMED = "UNCONFIRMED"
#: Extension: the ``error`` on ``/ws`` when the server ended a market-data subscription (a
#: cluster gateway rebuilt its market data): subscribe again with ``after`` to resume.
SUBSCRIPTION_ENDED = "SUBSCRIPTION_ENDED"

#: Every code of PROTOCOL.md section 3, plus the extensions ``SLOW_CONSUMER``,
#: ``NOT_EXECUTED``, ``UNCONFIRMED`` and ``SUBSCRIPTION_ENDED``.
ALL_CODES: frozenset[str] = frozenset(
    {
        INVALID_SYMBOL,
        INVALID_PRICE,
        INVALID_QTY,
        INVALID_SIDE,
        INVALID_TYPE,
        INVALID_TIF,
        INSUFFICIENT_FUNDS,
        POST_ONLY_WOULD_TAKE,
        FOK_NOT_FILLABLE,
        NO_LIQUIDITY,
        DUPLICATE_CLIENT_ORDER_ID,
        UNKNOWN_ORDER,
        ORDER_NOT_OPEN,
        MARKET_HALTED,
        RATE_LIMITED,
        BAD_REQUEST,
        UNKNOWN_OP,
        SLOW_CONSUMER,
        NOT_EXECUTED,
        UNCONFIRMED,
        SUBSCRIPTION_ENDED,
    }
)
#: Codes of an ``error`` message: the frame's shape was wrong, or the client is too fast.
ERROR_CODES: frozenset[str] = frozenset(
    {BAD_REQUEST, UNKNOWN_OP, RATE_LIMITED, SLOW_CONSUMER, UNCONFIRMED, SUBSCRIPTION_ENDED}
)
#: Codes of an ``order.reject``: a well-formed request refused for its values or the state.
#: ``BAD_REQUEST`` is here too: the engine refuses an illegal ``client_order_id`` with it.
REJECT_CODES: frozenset[str] = (ALL_CODES - ERROR_CODES) | {BAD_REQUEST}


class SharedError(Exception):
    """Base of every exception raised by the ``shared`` package."""


class ProtocolError(SharedError):
    """A frame that is not a valid protocol message; the codec raises nothing else.

    ``code`` is ``BAD_REQUEST`` or ``UNKNOWN_OP``; ``req_id`` is the frame's ``req_id`` when
    it could be read (echo it in the ``error`` reply); ``field`` names the offending field
    when there is one (``"price"``, ``"symbols.0"``).
    """

    def __init__(
        self,
        code: str,
        message: str,
        req_id: int | str | None = None,
        *,
        field: str | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.req_id = req_id
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_error(self) -> dict[str, object]:
        """The ``error`` server message for this failure, as a wire dict."""
        body: dict[str, object] = {"type": "error", "code": self.code, "message": self.message}
        if self.req_id is not None:
            body["req_id"] = self.req_id
        return body


class BookOutOfSync(SharedError):
    """The client book no longer mirrors the server's; fetch a new snapshot."""

    def __init__(self, symbol: str, message: str) -> None:
        super().__init__(f"{symbol}: {message}")
        self.symbol = symbol


class BookGap(BookOutOfSync):
    """A delta's ``first_seq`` is not the book's ``seq + 1`` (or there was no snapshot)."""

    def __init__(self, symbol: str, expected: int | None, first_seq: int) -> None:
        super().__init__(symbol, f"gap: expected first_seq {expected}, got {first_seq}")
        self.expected = expected
        self.first_seq = first_seq


class ChecksumMismatch(BookOutOfSync):
    """After applying, the book's CRC32 is ``computed`` but the server sent ``expected``."""

    def __init__(self, symbol: str, seq: int, expected: int, computed: int) -> None:
        super().__init__(symbol, f"checksum mismatch at seq {seq}: {expected} != {computed}")
        self.seq = seq
        self.expected = expected
        self.computed = computed
