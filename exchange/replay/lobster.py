"""LOBSTER message + orderbook files -> replay steps (one per message).

Exports ``read_lobster`` and ``lobster_paths``.

Model: the first orderbook row, with the first message
undone, seeds the book with one resting order per level from the ``MAKER`` account (orders
that rested before the open never appear in the messages). Then per message:

* 1 new limit order: a GTC limit from ``MAKER`` keyed ``L<order id>``;
* 2 partial cancel, 3 deletion: the order's quantity is reduced at the same price (a
  ``ReplaceOrder`` keeps its queue priority) or the order is canceled; an order never seen
  (it rested before the open) is taken from that level's seed order;
* 4 visible execution: an IOC limit from ``TAKER`` at the order's price and size, which fills
  that level in the engine (time priority, as on the venue) and prints the trade;
* 5 hidden execution, 6 cross trade: no command (the visible book does not change);
* 7 trading halt: ``SetSymbolState`` halted (price -1) or open (price 1).

The reader keeps a model of the replay orders' queues so that every command it emits is
exact for an engine that holds only replayed orders (traders' orders may change what fills).
Prices are in units of 1/10000 dollar (``price_decimals=4``), sizes in shares.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from datetime import date as Date
from math import gcd
from pathlib import Path

from exchange.engine.types import (
    Command,
    PriceQty,
    SetSymbolState,
)
from exchange.replay.errors import ReplaySourceError
from exchange.replay.lobster_book import LobsterBook
from exchange.replay.source import (
    LineReader,
    Progress,
    ReplaySource,
    ReplayStep,
    parse_int,
    replay_accounts,
    replay_spec,
)

__all__ = ["lobster_paths", "read_lobster"]

_NAME = re.compile(
    r"^(?P<ticker>[A-Za-z0-9.]+)_(?P<date>\d{4}-\d{2}-\d{2})_\d+_\d+_(?:message|orderbook)_(?P<levels>\d+)\.csv$"
)
_EMPTY_ASK = 9999999999
_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7})


def lobster_paths(path: str | Path) -> tuple[Path, Path]:
    """``(message file, orderbook file)`` from either file's path (LOBSTER naming)."""
    p = Path(path)
    if "_orderbook_" in p.name:
        return p.with_name(p.name.replace("_orderbook_", "_message_")), p
    if "_message_" in p.name:
        return p, p.with_name(p.name.replace("_message_", "_orderbook_"))
    raise ReplaySourceError(
        f"{p.name}: not a LOBSTER file name (TICKER_DATE_START_END_message_LEVELS.csv)"
    )


def _midnight_ns(day: Date) -> int:
    """Midnight of ``day`` in New York, as ns since the epoch (US DST rules if no tz data)."""
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("America/New_York")
        return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * 10**9
    except Exception:  # no tz database: second Sunday of March to first Sunday of November
        march = Date(day.year, 3, 8)
        start = march + timedelta(days=(6 - march.weekday()) % 7)
        nov = Date(day.year, 11, 1)
        end = nov + timedelta(days=(6 - nov.weekday()) % 7)
        offset = 4 if start <= day < end else 5
        utc = datetime(day.year, day.month, day.day, offset, tzinfo=UTC)
        return int(utc.timestamp()) * 10**9


def _parse_book_row(
    fields: list[str], reader: LineReader, line: int
) -> tuple[tuple[PriceQty, ...], tuple[PriceQty, ...]]:
    if len(fields) % 4 or not fields:
        raise reader.error(line, f"expected 4 columns per level, got {len(fields)} columns")
    names = ("ask price", "ask size", "bid price", "bid size")
    try:  # fast path; the checked parse below names the bad field
        if any(not f.isascii() or "_" in f for f in fields):
            raise ValueError
        values = [int(f) for f in fields]
    except ValueError:
        values = [parse_int(f, names[k % 4], reader, line) for k, f in enumerate(fields)]
    bids: list[PriceQty] = []
    asks: list[PriceQty] = []
    for i in range(0, len(values), 4):
        ap, aq, bp, bq = values[i : i + 4]
        if aq < 0 or bq < 0:
            raise reader.error(line, "negative size")
        if aq and ap != _EMPTY_ASK:
            if ap <= 0:
                raise reader.error(line, f"ask price must be positive: {ap}")
            asks.append((ap, aq))
        if bq and bp != -_EMPTY_ASK:
            if bp <= 0:
                raise reader.error(line, f"bid price must be positive: {bp}")
            bids.append((bp, bq))
    return tuple(bids), tuple(asks)


def _is_header(first_field: str) -> bool:
    t = first_field.strip().lstrip("-")
    return not t.replace(".", "", 1).isdigit()


def read_lobster(
    path: str | Path,
    *,
    symbol: str | None = None,
    day: Date | None = None,
    progress: Progress | None = None,
) -> ReplaySource:
    """Parse a LOBSTER pair (give either file). ``symbol``/``day`` default to the file name's
    ticker and date; a bad line raises ``ReplayFormatError`` naming its file and line."""
    msg_path, book_path = lobster_paths(path)
    m = _NAME.match(msg_path.name)
    if symbol is None:
        symbol = m.group("ticker") if m else None
    if day is None and m:
        day = Date.fromisoformat(m.group("date"))
    if symbol is None or day is None:
        raise ReplaySourceError(f"{msg_path.name}: give the symbol and date (not in the file name)")
    msg_size = LineReader(msg_path).size
    total = msg_size + LineReader(book_path).size
    msg_reader = LineReader(msg_path, progress, total=total)
    book_reader = LineReader(book_path, progress, total=total, base=msg_size)
    midnight = _midnight_ns(day)

    messages: list[
        tuple[int, int, int, int, int, int, int]
    ] = []  # line, ts, type, id, size, price, dir
    for line, text in msg_reader:
        if not text.strip():
            continue
        fields = text.split(",")
        if line == 1 and _is_header(fields[0]):
            continue
        if len(fields) != 6:
            raise msg_reader.error(
                line,
                f"expected 6 columns (Time,Type,OrderId,Size,Price,Direction), got {len(fields)}",
            )
        secs, dot, frac = fields[0].strip().partition(".")
        if not secs.isdigit() or (dot and not frac.isdigit()) or not fields[0].isascii():
            raise msg_reader.error(line, f"Time is not seconds after midnight: {fields[0]!r}")
        ts = midnight + int(secs) * 10**9 + int((frac + "000000000")[:9])
        try:  # fast path; the checked parse below names the bad field
            if not text.isascii() or "_" in text:
                raise ValueError
            kind, oid, size, price, direction = map(int, fields[1:])
        except ValueError:
            kind = parse_int(fields[1], "Type", msg_reader, line)
            oid = parse_int(fields[2], "OrderId", msg_reader, line)
            size = parse_int(fields[3], "Size", msg_reader, line)
            price = parse_int(fields[4], "Price", msg_reader, line)
            direction = parse_int(fields[5], "Direction", msg_reader, line)
        if kind not in _TYPES:
            raise msg_reader.error(line, f"unknown event Type {kind}")
        if direction not in (1, -1):
            raise msg_reader.error(line, f"Direction must be 1 or -1, got {direction}")
        if kind in (1, 2, 3, 4) and (size <= 0 or price <= 0 or oid < 0):
            raise msg_reader.error(line, "an order event needs a positive Size and Price")
        if messages and ts < messages[-1][1]:
            raise msg_reader.error(line, "Time goes backwards")
        messages.append((line, ts, kind, oid, size, price, direction))

    books: list[tuple[tuple[PriceQty, ...], tuple[PriceQty, ...]]] = []
    book_lines: list[int] = []
    depth = 0
    for line, text in book_reader:
        if not text.strip():
            continue
        fields = text.split(",")
        if line == 1 and _is_header(fields[0]):
            continue
        if depth and len(fields) != 4 * depth:
            raise book_reader.error(
                line, f"expected {4 * depth} columns like the rows before, got {len(fields)}"
            )
        depth = len(fields) // 4
        books.append(_parse_book_row(fields, book_reader, line))
        book_lines.append(line)
    if len(books) != len(messages):
        counts = f"the message file has {len(messages)} rows and the orderbook file {len(books)}"
        if len(books) > len(messages):
            raise book_reader.error(book_lines[len(messages)], f"no message for this row: {counts}")
        raise msg_reader.error(
            messages[len(books)][0], f"no orderbook row for this message: {counts}"
        )
    return _build(symbol, msg_path, book_path, messages, books, depth)


def _build(
    symbol: str,
    msg_path: Path,
    book_path: Path,
    messages: list[tuple[int, int, int, int, int, int, int]],
    books: list[tuple[tuple[PriceQty, ...], tuple[PriceQty, ...]]],
    depth: int,
) -> ReplaySource:
    tick = 0
    for bids, asks in books[:1]:
        for p, _ in (*bids, *asks):
            tick = gcd(tick, p)
    for _, _, kind, _, _, price, _ in messages:
        if kind in (1, 2, 3, 4):
            tick = gcd(tick, price)
    tick = gcd(tick, 100) or 1  # at most a cent, never coarser than the data
    spec = replay_spec(symbol, 4, 0, tick)
    first_ts = messages[0][1] if messages else 0
    setup: list[Command] = list(replay_accounts(first_ts))
    book = LobsterBook(symbol)
    if messages:
        # The state before message 1: row 1 with message 1 undone.
        seed: dict[tuple[str, int], int] = {}
        bids, asks = books[0]
        for p, q in bids:
            seed[("buy", p)] = q
        for p, q in asks:
            seed[("sell", p)] = q
        _, _, kind, _, size, price, direction = messages[0]
        if kind in (1, 2, 3, 4):
            key = ("buy" if direction == 1 else "sell", price)
            seed[key] = seed.get(key, 0) + (-size if kind == 1 else size)
        for (side, price), qty in seed.items():
            if qty > 0:
                setup.extend(book.add(f"seed-{side[0]}{price}", side, price, qty, first_ts)[1])
    steps: list[ReplayStep] = []
    for (line, ts, kind, oid, size, price, direction), expected in zip(
        messages, books, strict=True
    ):
        side = "buy" if direction == 1 else "sell"
        cmds: list[Command] = []
        before = book.corrections
        if kind == 1:
            order, added = book.add(f"L{oid}", side, price, size, ts)
            book.by_id[oid] = order
            cmds.extend(added)
        elif kind in (2, 3):
            cmds.extend(book.remove(side, price, size, book.by_id.get(oid), ts))
        elif kind == 4:
            cmds.append(book.execute(side, price, size, line, ts))
        elif kind == 7 and price in (-1, 1):
            cmds.append(SetSymbolState(symbol, "halted" if price == -1 else "open", ts=ts))
        cmds.extend(book.follow(expected[0], expected[1], depth, line, ts))
        steps.append(
            ReplayStep(
                ts,
                tuple(cmds),
                line,
                symbol=symbol,
                book=expected,
                corrections=book.corrections - before,
            )
        )
    return ReplaySource("lobster", (msg_path, book_path), [spec], setup, steps)
