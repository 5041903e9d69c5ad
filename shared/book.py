"""``L2Book``: a client-side mirror of one symbol's price levels, fed by ``snapshot`` and
``book`` payloads (PROTOCOL.md section 4), with seq and checksum checks.

Exports: ``L2Book`` (and, from ``shared.errors``, ``BookOutOfSync``, ``BookGap``,
``ChecksumMismatch``).

Contract:

* ``apply_snapshot(payload)`` replaces the whole book and its ``seq``.
* ``apply_delta(payload)`` applies a delta whose ``first_seq == seq + 1`` and returns
  ``True``; a delta already reflected (``payload.seq <= seq``) is ignored and returns
  ``False``; any other delta, or a delta before the first snapshot, raises ``BookGap``.
* With ``verify=True`` (the default) both check the payload's ``checksum`` after applying
  and raise ``ChecksumMismatch`` when it differs. After any ``BookOutOfSync`` the book is
  out of sync (``synced`` is false) and refuses deltas (``BookGap``) until the next snapshot.
* Payloads are models (``BookSnapshotPayload`` / ``BookDeltaPayload``) or the equivalent
  wire dicts. Levels are kept as the strings received (canonical, so the checksum matches)
  and ordered by integer price units (``price_decimals``: given, or inferred from the first
  price and widened if a later one has more places). A quantity of zero removes the level.
  A price that is not a decimal string raises ``shared.values.InvalidDecimal`` (decode
  payloads with ``shared.codec`` first; the server's are always well formed).
* ``max_depth`` (optional) trims each side to its best ``max_depth`` levels after every
  update, like a venue's depth-limited feed.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from shared.checksum import CHECKSUM_DEPTH, checksum_of_tokens, level_token
from shared.errors import BookGap, BookOutOfSync, ChecksumMismatch
from shared.models.base import WireModel
from shared.values import InvalidDecimal, to_units

__all__ = ["BookGap", "BookOutOfSync", "ChecksumMismatch", "L2Book"]

Side = Literal["bids", "asks", "buy", "sell", "bid", "ask"]
_BID_NAMES = frozenset({"bids", "buy", "bid"})
_ASK_NAMES = frozenset({"asks", "sell", "ask"})


def _fields(payload: WireModel | Mapping[str, Any], *names: str) -> list[Any]:
    """The named fields of a model or a wire dict (``None`` when a dict lacks one)."""
    if type(payload) is dict or isinstance(payload, Mapping):  # dict first: isinstance is slow
        return [payload.get(name) for name in names]
    return [getattr(payload, name, None) for name in names]


#: Price strings -> units memo entries kept per book before it is cleared (prices repeat a lot).
_UNITS_CACHE_SIZE = 65536


class _Side:
    """One side: price units -> (price, qty, checksum token), plus ascending sorted units."""

    __slots__ = ("keys", "levels")

    def __init__(self) -> None:
        self.levels: dict[int, tuple[str, str, str]] = {}
        self.keys: list[int] = []

    def rescale(self, factor: int) -> None:
        """Multiply every key by ``factor``, in place (callers hold references)."""
        scaled = {units * factor: level for units, level in self.levels.items()}
        self.levels.clear()
        self.levels.update(scaled)
        self.keys[:] = [units * factor for units in self.keys]


class L2Book:
    """A price-level book for one symbol; see the module docstring for the contract."""

    __slots__ = (
        "_asks",
        "_bids",
        "_units_cache",
        "last_trade_id",
        "max_depth",
        "price_decimals",
        "seq",
        "symbol",
        "synced",
        "ts",
        "verify",
    )

    def __init__(
        self,
        symbol: str = "",
        price_decimals: int | None = None,
        *,
        verify: bool = True,
        max_depth: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.price_decimals = price_decimals
        self.verify = verify
        self.max_depth = max_depth
        #: Seq of the last snapshot/delta applied; ``None`` before the first snapshot.
        self.seq: int | None = None
        self.ts: int | None = None
        self.last_trade_id = 0
        self.synced = False
        self._bids = _Side()
        self._asks = _Side()
        self._units_cache: dict[str, int] = {}

    # ------------------------------------------------------------------ updates

    def apply_snapshot(self, payload: WireModel | Mapping[str, Any]) -> None:
        """Replace the book by ``payload`` (a ``snapshot``); verifies its checksum."""
        symbol, seq, bids, asks, last_trade_id, checksum, ts = _fields(
            payload, "symbol", "seq", "bids", "asks", "last_trade_id", "checksum", "ts"
        )
        self._bids = _Side()
        self._asks = _Side()
        if not self.symbol:
            self.symbol = symbol
        self.apply_levels(bids, asks)
        self.seq = seq
        self.last_trade_id = last_trade_id or 0
        self.ts = ts
        self.synced = True
        if self.verify:
            self._verify(checksum)

    def apply_delta(self, payload: WireModel | Mapping[str, Any]) -> bool:
        """Apply a ``book`` delta; ``False`` if already reflected. Raises ``BookGap`` /
        ``ChecksumMismatch`` (then the book needs a new snapshot)."""
        first_seq, seq, bids, asks, checksum, ts = _fields(
            payload, "first_seq", "seq", "bids", "asks", "checksum", "ts"
        )
        if self.seq is None or not self.synced:
            raise BookGap(self.symbol, None, first_seq)
        if seq <= self.seq:
            return False
        if first_seq != self.seq + 1:
            self.synced = False
            raise BookGap(self.symbol, self.seq + 1, first_seq)
        self.apply_levels(bids, asks)
        self.seq = seq
        self.ts = ts
        if self.verify:
            self._verify(checksum)
        return True

    def apply_levels(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        """Set each ``(price, qty)`` level (qty zero removes it), then trim to ``max_depth``.
        No seq or checksum check: the building block of the two methods above."""
        cache = self._units_cache
        for side, changes in ((self._bids, bids), (self._asks, asks)):
            levels, keys = side.levels, side.keys
            for price, qty in changes:
                units = cache.get(price)
                if units is None:
                    units = self._units(price)
                if not qty.strip("0."):  # "0", "0.000": remove the level
                    if levels.pop(units, None) is not None:
                        del keys[bisect_left(keys, units)]
                    continue
                if units not in levels:
                    insort(keys, units)
                levels[units] = (price, qty, level_token(price, qty))
        if self.max_depth is not None:
            self._trim(self.max_depth)

    def _trim(self, depth: int) -> None:
        bids, asks = self._bids, self._asks
        while len(bids.keys) > depth:
            del bids.levels[bids.keys.pop(0)]
        while len(asks.keys) > depth:
            del asks.levels[asks.keys.pop()]

    def _units(self, price: str) -> int:
        decimals = self.price_decimals
        if decimals is None:
            dot = price.find(".")
            self.price_decimals = decimals = 0 if dot < 0 else len(price) - dot - 1
        cache = self._units_cache
        if len(cache) >= _UNITS_CACHE_SIZE:
            cache.clear()
        try:
            units = cache[price] = to_units(price, decimals)
            return units
        except InvalidDecimal:
            dot = price.find(".")
            wanted = len(price.rstrip("0")) - dot - 1 if dot >= 0 else 0
            if wanted <= decimals:
                raise  # not a decimal at all
            # More places than assumed (an inferred scale): widen every key, keep order.
            factor = 10 ** (wanted - decimals)
            self._bids.rescale(factor)
            self._asks.rescale(factor)
            self.price_decimals = wanted
            cache.clear()
            units = cache[price] = to_units(price, wanted)
            return units

    def _verify(self, expected: int) -> None:
        computed = self.checksum()
        if computed != expected:
            self.synced = False
            raise ChecksumMismatch(self.symbol, self.seq or 0, expected, computed)

    # ------------------------------------------------------------------ queries

    def checksum(self) -> int:
        """CRC32 of the 10 best asks and bids (PROTOCOL.md section 4)."""
        asks, bids = self._asks, self._bids
        tokens = [asks.levels[k][2] for k in asks.keys[:CHECKSUM_DEPTH]]
        tokens.extend(bids.levels[k][2] for k in bids.keys[: -CHECKSUM_DEPTH - 1 : -1])
        return checksum_of_tokens(tokens)

    def best_bid(self) -> tuple[str, str] | None:
        """Highest bid as ``(price, qty)``, or ``None`` when there are no bids."""
        side = self._bids
        if not side.keys:
            return None
        price, qty, _ = side.levels[side.keys[-1]]
        return price, qty

    def best_ask(self) -> tuple[str, str] | None:
        """Lowest ask as ``(price, qty)``, or ``None`` when there are no asks."""
        side = self._asks
        if not side.keys:
            return None
        price, qty, _ = side.levels[side.keys[0]]
        return price, qty

    def levels(self, side: Side, depth: int | None = None) -> list[tuple[str, str]]:
        """The ``depth`` best levels of ``side`` (``"bids"``/``"buy"`` or
        ``"asks"``/``"sell"``), best first, as ``(price, qty)``."""
        if side in _BID_NAMES:
            book = self._bids
            keys = book.keys[::-1] if depth is None else book.keys[: -depth - 1 : -1]
        elif side in _ASK_NAMES:
            book = self._asks
            keys = book.keys if depth is None else book.keys[:depth]
        else:
            raise ValueError(f"unknown side {side!r}")
        levels = book.levels
        return [levels[k][:2] for k in keys]

    def depth(self) -> tuple[int, int]:
        """Number of ``(bid, ask)`` levels."""
        return len(self._bids.keys), len(self._asks.keys)

    def to_snapshot(
        self, depth: int | None = None, last_trade_id: int | None = None
    ) -> dict[str, Any]:
        """A ``snapshot`` payload (wire dict) of the book, or of its ``depth`` best levels.
        The checksum is always that of the full book's 10 best levels."""
        return {
            "symbol": self.symbol,
            "seq": self.seq or 0,
            "bids": [list(level) for level in self.levels("bids", depth)],
            "asks": [list(level) for level in self.levels("asks", depth)],
            "last_trade_id": self.last_trade_id if last_trade_id is None else last_trade_id,
            "checksum": self.checksum(),
        }

    def __repr__(self) -> str:
        nb, na = self.depth()
        return f"L2Book({self.symbol!r}, seq={self.seq}, bids={nb}, asks={na})"
