"""tickwire's protocol package: the wire contract as code (no I/O).

Exports (the main names; each module's ``__all__`` has the rest):

* ``shared.values``: ``to_units``, ``format_units``, ``InvalidDecimal`` (decimal strings <->
  integer units).
* ``shared.errors``: the reject/error code constants, ``ALL_CODES``, ``ProtocolError``,
  ``BookOutOfSync``, ``BookGap``, ``ChecksumMismatch``.
* ``shared.models``: pydantic models of every client op (``ClientOp``), server message
  (``ServerMessage``), market-data payload and REST body.
* ``shared.codec``: ``decode_op``, ``decode_message``, ``decode_market``, ``decode_model``,
  ``encode``.
* ``shared.checksum``: ``book_checksum`` (CRC32 of PROTOCOL.md section 4).
* ``shared.book``: ``L2Book``, the client-side book with seq and checksum checks.
* ``shared.strategies``: hypothesis strategies and fuzz mutators (needs hypothesis, a dev
  dependency; not imported here).
"""

from __future__ import annotations

from shared.book import L2Book
from shared.checksum import book_checksum
from shared.codec import decode_market, decode_message, decode_model, decode_op, encode
from shared.errors import (
    ALL_CODES,
    BookGap,
    BookOutOfSync,
    ChecksumMismatch,
    ProtocolError,
)
from shared.models import ClientOp, ServerMessage
from shared.values import InvalidDecimal, format_units, to_units

__all__ = [
    "ALL_CODES",
    "BookGap",
    "BookOutOfSync",
    "ChecksumMismatch",
    "ClientOp",
    "InvalidDecimal",
    "L2Book",
    "ProtocolError",
    "ServerMessage",
    "book_checksum",
    "decode_market",
    "decode_message",
    "decode_model",
    "decode_op",
    "encode",
    "format_units",
    "to_units",
]
