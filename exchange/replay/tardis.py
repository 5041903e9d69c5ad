"""Tardis.dev trades CSV -> replay steps (one per trade); the trades drive the clock.

Exports ``read_tardis``.

Columns (header required): ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``;
``timestamp`` is the exchange time in µs since the epoch, ``side`` the aggressor's. Each trade
becomes three commands: a resting GTC limit from ``MAKER`` on the passive side at the trade's
price and amount, an IOC limit from ``TAKER`` crossing it (so the engine prints exactly that
trade: price, quantity, taker side), and a ``CancelAll`` of ``MAKER`` in that symbol, which
takes the resting order down if a trader's better-priced order filled the IOC first. A symbol
like ``BTCUSDT`` is named ``BTC-USDT``; its decimals are the most any of its strings use.
"""

from __future__ import annotations

from pathlib import Path

from exchange.engine.types import CancelAll, Command, NewOrder
from exchange.replay.source import (
    MAKER,
    TAKER,
    LineReader,
    Progress,
    ReplaySource,
    ReplayStep,
    parse_int,
    replay_accounts,
    replay_spec,
)

__all__ = ["read_tardis", "symbol_name"]

_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount")
_QUOTES = ("USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "JPY", "BTC", "ETH", "BNB")


def symbol_name(raw: str) -> str:
    """``BTCUSDT -> BTC-USDT``, ``ETH-USD`` unchanged, ``XBTUSD -> XBT-USD``."""
    if "-" in raw or "/" in raw:
        return raw.replace("/", "-").upper()
    up = raw.upper()
    for quote in _QUOTES:
        if up.endswith(quote) and len(up) - len(quote) >= 3:
            return f"{up[: -len(quote)]}-{quote}"
    return up


def _decimal(text: str, what: str, reader: LineReader, line: int) -> tuple[str, int]:
    whole, dot, frac = text.partition(".")
    if (
        not whole.isdigit()
        or not whole.isascii()
        or (dot and (not frac.isdigit() or not frac.isascii()))
    ):
        raise reader.error(line, f"{what} is not a decimal number: {text!r}")
    if int(whole + frac) == 0:
        raise reader.error(line, f"{what} must be positive: {text!r}")
    return text, len(frac)


def read_tardis(path: str | Path, *, progress: Progress | None = None) -> ReplaySource:
    """Parse a Tardis trades CSV; a bad line raises ``ReplayFormatError`` with its number."""
    reader = LineReader(path, progress)
    rows: list[
        tuple[int, int, str, str, str, str, str]
    ] = []  # line, ts, symbol, id, side, price, amount
    decimals: dict[str, list[int]] = {}
    index: dict[str, int] = {}
    for line, text in reader:
        if not text.strip():
            continue
        fields = text.split(",")
        if line == 1:
            names = tuple(f.strip() for f in fields)
            missing = [
                c
                for c in ("symbol", "timestamp", "id", "side", "price", "amount")
                if c not in names
            ]
            if missing:
                raise reader.error(
                    line,
                    f"expected a header with {', '.join(_COLUMNS)}; missing {', '.join(missing)}",
                )
            index = {name: i for i, name in enumerate(names)}
            width = len(names)
            continue
        if len(fields) != width:
            raise reader.error(line, f"expected {width} columns, got {len(fields)}")
        raw_symbol = fields[index["symbol"]].strip()
        if (
            not raw_symbol
            or not raw_symbol.replace("-", "").replace("/", "").replace("_", "").isalnum()
        ):
            raise reader.error(line, f"bad symbol {raw_symbol!r}")
        ts_us = parse_int(fields[index["timestamp"]], "timestamp", reader, line)
        if ts_us <= 0:
            raise reader.error(line, "timestamp must be positive µs since the epoch")
        side = fields[index["side"]].strip()
        if side not in ("buy", "sell"):
            raise reader.error(line, f"side must be buy or sell, got {side!r}")
        trade_id = fields[index["id"]].strip()
        if not trade_id or not trade_id.replace("-", "").isalnum() or not trade_id.isascii():
            raise reader.error(line, f"bad trade id {trade_id!r}")
        price, pd = _decimal(fields[index["price"]].strip(), "price", reader, line)
        amount, qd = _decimal(fields[index["amount"]].strip(), "amount", reader, line)
        symbol = symbol_name(raw_symbol)
        d = decimals.setdefault(symbol, [0, 0])
        d[0], d[1] = max(d[0], pd), max(d[1], qd)
        rows.append((line, ts_us * 1000, symbol, trade_id[:40], side, price, amount))
    if not index:
        raise reader.error(1, "empty file: expected a header row")
    specs = [replay_spec(s, pd, qd) for s, (pd, qd) in decimals.items()]
    steps: list[ReplayStep] = []
    for line, ts, symbol, trade_id, side, price, amount in rows:
        passive = "sell" if side == "buy" else "buy"
        cmds: tuple[Command, ...] = (
            NewOrder(
                MAKER,
                f"T{trade_id}m{line}",
                symbol,
                passive,
                "limit",
                amount,
                price=price,
                tif="gtc",
                ts=ts,
            ),
            NewOrder(
                TAKER,
                f"T{trade_id}t{line}",
                symbol,
                side,
                "limit",
                amount,
                price=price,
                tif="ioc",
                ts=ts,
            ),
            CancelAll(MAKER, symbol, ts=ts),
        )
        steps.append(ReplayStep(ts, cmds, line, symbol=symbol))
    first = steps[0].ts if steps else 0
    return ReplaySource("tardis", (Path(path),), specs, replay_accounts(first), steps)
