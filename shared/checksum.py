"""The order-book checksum of PROTOCOL.md section 4 (Kraken's book checksum).

Exports: ``book_checksum``, ``level_token``, ``checksum_of_tokens``, ``CHECKSUM_DEPTH``.

``book_checksum(asks, bids)`` is the unsigned CRC32 of the string made of the
``CHECKSUM_DEPTH`` (10) best asks, ascending, then the 10 best bids, descending; each level
contributes its price then its quantity, each as the decimal string with ``.`` removed and
leading zeros stripped (``"0.0500"`` -> ``"500"``). The strings must be the canonical ones
the server writes (fixed decimals per symbol): ``"101.5"`` and ``"101.50"`` differ here.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

__all__ = ["CHECKSUM_DEPTH", "book_checksum", "checksum_of_tokens", "level_token"]

CHECKSUM_DEPTH = 10


def _digits(value: str) -> str:
    return value.replace(".", "").lstrip("0")


def level_token(price: str, qty: str) -> str:
    """One level's contribution to the checksum string."""
    return _digits(price) + _digits(qty)


def checksum_of_tokens(tokens: Iterable[str]) -> int:
    """CRC32 of the concatenated level tokens (asks first, then bids), unsigned."""
    return zlib.crc32("".join(tokens).encode())


def book_checksum(asks: Sequence[Sequence[str]], bids: Sequence[Sequence[str]]) -> int:
    """Checksum of a book given as ``(price, qty)`` levels, best first on each side."""
    parts = [level_token(p, q) for p, q in asks[:CHECKSUM_DEPTH]]
    parts.extend(level_token(p, q) for p, q in bids[:CHECKSUM_DEPTH])
    return checksum_of_tokens(parts)
