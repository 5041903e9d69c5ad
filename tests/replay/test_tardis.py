"""Tardis trades CSV: every trade printed exactly, 1 m candles equal an independent OHLCV."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.engine.types import Candle, Trade
from exchange.replay import ReplayFormatError, read_tardis
from exchange.replay.tardis import symbol_name

from .conftest import drive, sample

TARDIS = (
    "tardis-binance-futures-btcusdt-trades-2020-02-22",
    "binance-futures_trades_BTCUSDT_2020-02-22.csv",
)
HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
ROWS = [
    "binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132",
    "binance-futures,BTCUSDT,1582329602116000,1582329602418420,42377945,sell,9681.5,0.4",
    "binance-futures,BTCUSDT,1582329662150000,1582329602421528,42377946,buy,9682.19,0.01",
]


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "trades.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_symbol_names() -> None:
    assert [symbol_name(s) for s in ("BTCUSDT", "XBTUSD", "ETH-USD", "eth/btc", "ABC")] == [
        "BTC-USDT",
        "XBT-USD",
        "ETH-USD",
        "ETH-BTC",
        "ABC",
    ]


def test_small_file(tmp_path: Path) -> None:
    src = read_tardis(write(tmp_path, ROWS))
    (spec,) = src.symbols
    assert (spec.symbol, spec.price_decimals, spec.qty_decimals) == ("BTC-USDT", 2, 3)
    assert [s.ts for s in src.steps] == [
        1582329602111000000,
        1582329602116000000,
        1582329662150000000,
    ]
    trades = [e for _, _, ev in drive(src) for e in ev if isinstance(e, Trade)]
    assert [(t.price, t.qty, t.taker_side) for t in trades] == [
        (968200, 132, "buy"),
        (968150, 400, "sell"),
        (968219, 10, "buy"),
    ]


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=st.integers(0, len(ROWS) - 1),
    col=st.sampled_from([2, 5, 6, 7]),
    token=st.sampled_from(["", "abc", "1e3", "-5", "0", "1.2.3", "nan", " "]),
    drop=st.booleans(),
)
def test_malformed_line_reports_its_number(
    tmp_path: Path, row: int, col: int, token: str, drop: bool
) -> None:
    rows = list(ROWS)
    fields = rows[row].split(",")
    if drop:
        del fields[col]
    else:
        fields[col] = token
    rows[row] = ",".join(fields)
    path = write(tmp_path, rows)
    with pytest.raises(ReplayFormatError) as info:
        read_tardis(path)
    assert info.value.line == row + 2
    assert str(info.value).startswith(f"trades.csv:{row + 2}: ")


def test_missing_header(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("\n".join(ROWS))
    with pytest.raises(ReplayFormatError) as info:
        read_tardis(path)
    assert info.value.line == 1


@pytest.mark.data
def test_sample_trades_and_candles() -> None:
    path = sample(*TARDIS)
    src = read_tardis(path)
    lines = path.read_text().splitlines()[1:]
    assert len(src) == len(lines) == 9999
    trades: list[Trade] = []
    candles: dict[int, Candle] = {}
    for _, _, events in drive(src):
        for e in events:
            if isinstance(e, Trade):
                trades.append(e)
            elif isinstance(e, Candle) and e.interval == "1m":
                candles[e.t] = e  # the latest state of each minute
    expected = []
    ohlcv: dict[int, list[Decimal]] = {}
    for line in lines:
        f = line.split(",")
        price, qty = Decimal(f[6]), Decimal(f[7])
        expected.append((int(price * 100), int(qty * 1000), f[5]))
        minute = int(f[2]) * 1000 // 60_000_000_000 * 60_000_000_000
        bar = ohlcv.setdefault(minute, [price, price, price, price, Decimal(0)])
        bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price
        bar[4] += qty
    assert [(t.price, t.qty, t.taker_side) for t in trades] == expected
    assert sorted(candles) == sorted(ohlcv)
    for t, (o, h, lo, c, v) in ohlcv.items():
        got = candles[t]
        assert (got.o, got.h, got.l, got.c, got.v) == (
            int(o * 100),
            int(h * 100),
            int(lo * 100),
            int(c * 100),
            int(v * 1000),
        )
