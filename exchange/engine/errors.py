"""Reject codes and the engine's exception hierarchy.

Reject codes (PROTOCOL.md section 3) are plain string constants; a refused command is an
``OrderRejected`` event carrying one of them, never an exception.

Exceptions::

    EngineError              base of everything the engine raises (a bug or misuse)
    +-- IllegalTransition    an order lifecycle event not allowed in the current state
    +-- SnapshotError        ``Engine.from_snapshot`` got bytes it cannot restore
    +-- Rejection            internal control flow: validation failed (caught by ``handle``)
"""

from __future__ import annotations

__all__ = [
    "BAD_REQUEST",
    "DUPLICATE_CLIENT_ORDER_ID",
    "FOK_NOT_FILLABLE",
    "INSUFFICIENT_FUNDS",
    "INVALID_PRICE",
    "INVALID_QTY",
    "INVALID_SIDE",
    "INVALID_SYMBOL",
    "INVALID_TIF",
    "INVALID_TYPE",
    "MARKET_HALTED",
    "NO_LIQUIDITY",
    "ORDER_NOT_OPEN",
    "POST_ONLY_WOULD_TAKE",
    "REJECT_CODES",
    "UNKNOWN_ORDER",
    "EngineError",
    "IllegalTransition",
    "Rejection",
    "SnapshotError",
]

# The codes are the protocol's: defined once, in ``shared.errors`` (the engine may import
# the pure ``shared`` package).
from shared.errors import (
    BAD_REQUEST,
    DUPLICATE_CLIENT_ORDER_ID,
    FOK_NOT_FILLABLE,
    INSUFFICIENT_FUNDS,
    INVALID_PRICE,
    INVALID_QTY,
    INVALID_SIDE,
    INVALID_SYMBOL,
    INVALID_TIF,
    INVALID_TYPE,
    MARKET_HALTED,
    NO_LIQUIDITY,
    ORDER_NOT_OPEN,
    POST_ONLY_WOULD_TAKE,
    UNKNOWN_ORDER,
)
from shared.errors import REJECT_CODES as SHARED_REJECT_CODES

#: Every code the engine itself can put into an ``OrderRejected``: the protocol's reject codes.
REJECT_CODES = SHARED_REJECT_CODES


class EngineError(Exception):
    """Base class of the engine's exceptions. Outside ``Rejection``, any of them is a bug."""


class IllegalTransition(EngineError):
    """An order lifecycle event that the transition table does not allow; nothing changed."""


class SnapshotError(EngineError):
    """The snapshot bytes are not a snapshot this engine version can restore."""


class Rejection(EngineError):
    """Raised by validation helpers; ``Engine.handle`` turns it into an ``OrderRejected``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
