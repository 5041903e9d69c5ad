"""cryptofeed's Kraken L2 capture (websocket v1 ``book`` channel) -> replay steps.

Exports ``read_kraken``.

Each pair becomes a symbol named like ``XBT-CHF`` whose price and quantity decimals are the
ones Kraken writes for it (read from the strings). The book is mirrored with one resting
order per price level from the ``MAKER`` account: a snapshot places every level; an update
cancels a level whose volume became 0, amends a level's order to its new volume (down keeps
priority, up re-queues: the only order there is ours), and places new levels. Levels pushed
beyond the subscribed depth (``book-1000``) are dropped silently by Kraken, so the reader
cancels them too. Within one update, cancels come first, then amendments down, then the rest,
so a transient overlap never meets an order about to leave. Each update's step carries
Kraken's CRC32 ``checksum`` of that pair's book, for comparison with the engine's.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections.abc import Iterator
from pathlib import Path

import orjson

from exchange.engine.types import CancelOrder, Command, NewOrder, ReplaceOrder
from exchange.replay.source import (
    MAKER,
    LineReader,
    Progress,
    ReplaySource,
    ReplayStep,
    replay_accounts,
    replay_spec,
)

__all__ = ["read_kraken"]

# (line, ts, pair, depth, snapshot?, [(side, price str, volume str)], checksum)
_Record = tuple[int, int, str, int, bool, list[tuple[str, str, str]], int | None]


def _ts_ns(text: str, reader: LineReader, line: int) -> int:
    whole, dot, frac = text.strip().partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()) or not text.isascii():
        raise reader.error(line, f"bad timestamp {text!r}")
    return int(whole) * 10**9 + int((frac + "000000000")[:9])


def _levels(value: object, side: str, reader: LineReader, line: int) -> list[tuple[str, str, str]]:
    if not isinstance(value, list):
        raise reader.error(line, "book levels must be a list")
    out: list[tuple[str, str, str]] = []
    for lv in value:
        if (
            not isinstance(lv, list)
            or len(lv) not in (3, 4)
            or not all(isinstance(x, str) for x in lv[:2])
        ):
            raise reader.error(line, f'a level must be [price, volume, timestamp(, "r")]: {lv!r}')
        for text, what in ((lv[0], "price"), (lv[1], "volume")):
            whole, dot, frac = text.partition(".")
            if (
                not whole.isdigit()
                or not whole.isascii()
                or (dot and (not frac.isdigit() or not frac.isascii()))
            ):
                raise reader.error(line, f"level {what} is not a decimal string: {text!r}")
        out.append((side, lv[0], lv[1]))
    return out


def _parse(reader: LineReader) -> list[_Record]:
    records: list[_Record] = []
    for line, text in reader:
        if not text.strip() or text.startswith("wss://"):
            continue  # connection lines and the sent subscribe request
        stamp, sep, body = text.partition(": ")
        if not sep:
            raise reader.error(line, "expected '<timestamp>: <json>'")
        ts = _ts_ns(stamp, reader, line)
        try:
            msg = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise reader.error(line, f"invalid JSON: {exc}") from None
        if isinstance(msg, dict):
            continue  # systemStatus, subscriptionStatus, heartbeat
        if not isinstance(msg, list) or len(msg) < 4:
            raise reader.error(
                line, "expected a book message [channelID, {...}, channelName, pair]"
            )
        channel, pair = msg[-2], msg[-1]
        if not isinstance(pair, str) or "/" not in pair or not isinstance(channel, str):
            raise reader.error(line, f"bad channel name or pair: {channel!r}, {pair!r}")
        if not channel.startswith("book"):
            continue  # another channel in the same capture
        depth_text = channel.partition("-")[2]
        depth = int(depth_text) if depth_text.isdigit() else 1000
        levels: list[tuple[str, str, str]] = []
        checksum: int | None = None
        snapshot = False
        for part in msg[1:-2]:
            if not isinstance(part, dict):
                raise reader.error(line, "book data must be objects")
            for key, value in part.items():
                if key in ("as", "bs"):
                    snapshot = True
                    levels += _levels(value, "sell" if key == "as" else "buy", reader, line)
                elif key in ("a", "b"):
                    levels += _levels(value, "sell" if key == "a" else "buy", reader, line)
                elif key == "c":
                    if not isinstance(value, str) or not value.isdigit() or int(value) >= 2**32:
                        raise reader.error(
                            line, f"checksum must be a CRC32 decimal string: {value!r}"
                        )
                    checksum = int(value)
                else:
                    raise reader.error(line, f"unknown book field {key!r}")
        if not snapshot and checksum is None:
            raise reader.error(line, "an update must carry its checksum 'c'")
        records.append((line, ts, pair, depth, snapshot, levels, checksum))
    return records


def _units(text: str, decimals: int) -> int:
    whole, _, frac = text.partition(".")
    return int(whole + frac.ljust(decimals, "0"))


class _PairBook:
    """The levels of one pair and the id of our order at each."""

    def __init__(self, symbol: str, pd: int, qd: int) -> None:
        self.symbol, self.pd, self.qd = symbol, pd, qd
        self.qty: dict[tuple[str, int], int] = {}
        self.cid: dict[tuple[str, int], str] = {}
        self.prices: dict[str, list[int]] = {"buy": [], "sell": []}

    def apply(
        self, levels: list[tuple[str, str, str]], depth: int, ids: Iterator[int], ts: int
    ) -> list[Command]:
        target: dict[tuple[str, int], int] = {}
        for side, p, v in levels:
            target[(side, _units(p, self.pd))] = _units(v, self.qd)
        for key, vol in target.items():  # the book as Kraken now has it
            side, price = key
            lst = self.prices[side]
            present = key in self.qty
            if vol == 0 and present:
                del lst[bisect_left(lst, price)]
            elif vol and not present:
                insort(lst, price)
        for side, lst in self.prices.items():  # beyond the depth: dropped without a message
            while len(lst) > depth:
                price = lst.pop(0) if side == "buy" else lst.pop()
                target[(side, price)] = 0
        cancels: list[Command] = []
        downs: list[Command] = []
        rest: list[Command] = []
        for key, vol in target.items():
            side, price = key
            old = self.qty.get(key, 0)
            if vol == old:
                continue
            if vol == 0:
                cancels.append(CancelOrder(MAKER, client_order_id=self.cid.pop(key), ts=ts))
                del self.qty[key]
                continue
            cid = f"k{next(ids)}"
            qty = _decimal_str(vol, self.qd)
            if old == 0:
                rest.append(
                    NewOrder(
                        MAKER,
                        cid,
                        self.symbol,
                        side,
                        "limit",
                        qty,
                        price=_decimal_str(price, self.pd),
                        tif="gtc",
                        ts=ts,
                    )
                )
            else:
                (downs if vol < old else rest).append(
                    ReplaceOrder(MAKER, cid, self.cid[key], qty=qty, ts=ts)
                )
            self.cid[key] = cid
            self.qty[key] = vol
        return cancels + downs + rest


def _decimal_str(units: int, decimals: int) -> str:
    """``units`` at ``decimals`` places, as Kraken writes it (``12345, 3 -> \"12.345\"``)."""
    if decimals == 0:
        return str(units)
    digits = str(units).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"


def read_kraken(path: str | Path, *, progress: Progress | None = None) -> ReplaySource:
    """Parse a cryptofeed Kraken ``book`` capture; a bad line raises ``ReplayFormatError``."""
    reader = LineReader(path, progress)
    records = _parse(reader)
    decimals: dict[str, list[int]] = {}
    for _, _, pair, _, _, levels, _ in records:
        d = decimals.setdefault(pair, [0, 0])
        for _, p, v in levels:
            d[0] = max(d[0], len(p.partition(".")[2]))
            d[1] = max(d[1], len(v.partition(".")[2]))
    books: dict[str, _PairBook] = {}
    specs = []
    for pair, (pd, qd) in decimals.items():
        symbol = pair.replace("/", "-")
        books[pair] = _PairBook(symbol, pd, qd)
        specs.append(replay_spec(symbol, pd, qd))
    ids = itertools.count(1)  # one key sequence over all pairs
    steps: list[ReplayStep] = []
    seen: set[str] = set()
    for line, ts, pair, depth, snapshot, levels, checksum in records:
        book = books[pair]
        if not snapshot and pair not in seen:
            raise reader.error(line, f"update for {pair} before its snapshot")
        if snapshot:
            seen.add(pair)
            if book.qty:  # a fresh snapshot replaces the whole book
                levels = [(s, _decimal_str(p, book.pd), "0") for (s, p) in book.qty] + levels
        cmds = book.apply(levels, depth, ids, ts)
        steps.append(ReplayStep(ts, tuple(cmds), line, symbol=book.symbol, checksum=checksum))
    first = steps[0].ts if steps else 0
    return ReplaySource("kraken", (Path(path),), specs, replay_accounts(first), steps)
