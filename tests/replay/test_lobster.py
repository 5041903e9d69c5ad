"""LOBSTER reader: parsing, semantics on small files, and the samples through the engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.engine.types import CancelOrder, NewOrder, ReplaceOrder, Trade
from exchange.replay import MAKER, TAKER, ReplayFormatError, read_lobster
from exchange.replay.lobster import lobster_paths

from .conftest import drive, sample

AMZN = ("lobster-amzn-2012-06-21-level1", "AMZN_2012-06-21_34200000_57600000_message_1.csv")
AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)

# 09:30:00 New York on 2012-06-21 (EDT, UTC-4) is 13:30:00 UTC.
OPEN_NS = 1340285400 * 10**9

MESSAGES = [
    "34200.000000001,1,11,100,1000000,1",  # buy 100 @ 100.00 (best bid 99.00 before)
    "34200.5,2,11,40,1000000,1",  # partial cancel of 40
    "34201,4,11,10,1000000,1",  # execution of 10 of it: a seller hits it
    "34202,3,11,50,1000000,1",  # the rest is deleted
    "34203,3,7,5,1010000,-1",  # an order from before the open leaves the ask
    "34204,5,0,3,1005000,1",  # hidden execution: nothing
]
BOOKS = [
    "1010000,20,1000000,100,1020000,10,990000,50",
    "1010000,20,1000000,60,1020000,10,990000,50",
    "1010000,20,1000000,50,1020000,10,990000,50",
    "1010000,20,990000,50,1020000,10,-9999999999,0",
    "1010000,15,990000,50,1020000,10,-9999999999,0",
    "1010000,15,990000,50,1020000,10,-9999999999,0",
]


def write_pair(tmp_path: Path, messages: list[str], books: list[str], header: bool) -> Path:
    msg = tmp_path / "TEST_2012-06-21_34200000_57600000_message_2.csv"
    book = tmp_path / "TEST_2012-06-21_34200000_57600000_orderbook_2.csv"
    msg_head = ["Time,Type,OrderId,Size,Price,Direction"] if header else []
    book_head = (
        ["AskPrice1,AskSize1,BidPrice1,BidSize1,AskPrice2,AskSize2,BidPrice2,BidSize2"]
        if header
        else []
    )
    msg.write_text("\n".join(msg_head + messages))
    book.write_text("\n".join(book_head + books) + "\n")
    return msg


@pytest.mark.parametrize("header", [True, False])
def test_small_file_semantics(tmp_path: Path, header: bool) -> None:
    src = read_lobster(write_pair(tmp_path, MESSAGES, BOOKS, header))
    (spec,) = src.symbols
    assert (spec.symbol, spec.price_decimals, spec.qty_decimals, spec.tick_size) == (
        "TEST",
        4,
        0,
        100,
    )
    assert len(src) == 6
    first = 2 if header else 1
    assert [s.line for s in src.steps] == list(range(first, first + 6))
    assert src.steps[0].ts == OPEN_NS + 1
    assert src.steps[1].ts == OPEN_NS + 500_000_000
    # seed: row 1 with message 1 undone, one order per level, risk-exempt accounts
    seeds = [c for c in src.setup if isinstance(c, NewOrder)]
    assert {(c.side, c.price, c.qty) for c in seeds} == {
        ("sell", "101.0000", "20"),
        ("sell", "102.0000", "10"),
        ("buy", "99.0000", "50"),
    }
    s = src.steps
    (new,) = s[0].commands
    assert isinstance(new, NewOrder) and (new.account, new.side, new.price, new.qty) == (
        MAKER,
        "buy",
        "100.0000",
        "100",
    )
    (amend,) = s[1].commands
    assert (
        isinstance(amend, ReplaceOrder)
        and amend.orig_client_order_id == new.client_order_id
        and amend.qty == "60"
    )
    (ioc,) = s[2].commands
    assert isinstance(ioc, NewOrder) and (ioc.account, ioc.side, ioc.tif, ioc.price, ioc.qty) == (
        TAKER,
        "sell",
        "ioc",
        "100.0000",
        "10",
    )
    (cancel,) = s[3].commands
    assert isinstance(cancel, CancelOrder) and cancel.client_order_id == amend.client_order_id
    (seed_cut,) = s[4].commands  # the unknown order's 5 come off the seeded level
    assert isinstance(seed_cut, ReplaceOrder) and seed_cut.qty == "15"
    assert s[5].commands == ()
    assert all(step.corrections == 0 for step in s)
    # and the engine agrees with the orderbook file after every message
    trades = []
    for engine, step, events in drive(src):
        snap = engine.book_snapshot("TEST", 2)
        assert step.book is not None
        assert (snap.bids, snap.asks) == step.book
        trades += [e for e in events if isinstance(e, Trade)]
    assert [(t.price, t.qty, t.taker_side) for t in trades] == [(1000000, 10, "sell")]


def test_paths_from_either_file() -> None:
    m, b = lobster_paths("/x/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv")
    assert m.name == "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    assert b.name == "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"


def test_symbol_and_date_override(tmp_path: Path) -> None:
    msg = write_pair(tmp_path, MESSAGES, BOOKS, header=False)
    src = read_lobster(msg, symbol="XYZ", day=date(2012, 1, 3))  # EST, UTC-5
    assert src.symbols[0].symbol == "XYZ"
    assert src.steps[0].ts == (1325566800 + 34200) * 10**9 + 1


def test_row_count_mismatch_names_file_and_line(tmp_path: Path) -> None:
    msg = write_pair(tmp_path, MESSAGES, BOOKS[:-1], header=False)
    with pytest.raises(ReplayFormatError) as info:
        read_lobster(msg)
    assert info.value.line == 6 and info.value.path.name == msg.name
    assert str(info.value).startswith(f"{msg.name}:6: ")


BAD_TOKENS = st.sampled_from(["abc", "", "1e3", "0x1F", "--2", "1 2", "1_0", "+-1", "٣"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.sampled_from(["message", "orderbook"]),
    row=st.integers(1, len(MESSAGES) - 1),
    col=st.integers(0, 7),
    kind=st.sampled_from(["token", "drop", "extra"]),
    token=BAD_TOKENS,
    header=st.booleans(),
)
def test_malformed_line_reports_its_number(
    tmp_path: Path, which: str, row: int, col: int, kind: str, token: str, header: bool
) -> None:
    messages, books = list(MESSAGES), list(BOOKS)
    lines = messages if which == "message" else books
    fields = lines[row].split(",")
    col %= len(fields)
    if kind == "token":
        fields[col] = token
    elif kind == "drop":
        del fields[col]
    else:
        fields.insert(col, "1")
    lines[row] = ",".join(fields)
    msg = write_pair(tmp_path, messages, books, header)
    with pytest.raises(ReplayFormatError) as info:
        read_lobster(msg)
    assert info.value.line == row + 1 + header
    assert which in info.value.path.name
    assert str(info.value).startswith(f"{info.value.path.name}:{row + 1 + header}: ")


def _predict(prev: tuple, kind: int, size: int, price: int, direction: int) -> tuple:
    """The README's check: apply a message at its level of the previous row."""
    bids, asks = dict(prev[0]), dict(prev[1])
    side = bids if direction == 1 else asks
    if kind == 1:
        side[price] = side.get(price, 0) + size
    elif kind in (2, 3, 4):
        side[price] = side.get(price, 0) - size
        if side[price] <= 0:
            del side[price]
    return bids, asks


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("parts", [AMZN, AAPL], ids=["amzn-level1", "aapl-level10"])
def test_sample_through_engine_reproduces_the_orderbook_file(parts: tuple[str, str]) -> None:
    path = sample(*parts)
    progress: list[tuple[int, int]] = []
    src = read_lobster(path, progress=lambda done, total: progress.append((done, total)))
    total = path.stat().st_size + lobster_paths(path)[1].stat().st_size
    assert progress[-1] == (total, total)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    raw = [ln.split(",") for ln in path.read_text().splitlines() if ln[:1].isdigit()]
    assert len(src) == len(raw)
    secs, _, frac = raw[0][0].partition(".")
    midnight = OPEN_NS - 34200 * 10**9
    assert src.steps[0].ts == midnight + int(secs) * 10**9 + int(frac.ljust(9, "0"))
    depth = 10 if "level10" in parts[0] else 1
    equal = corrected = unpredictable = executed = traded = 0
    prev = None
    for i, (engine, step, events) in enumerate(drive(src)):
        assert step.book is not None
        snap = engine.book_snapshot(src.symbols[0].symbol, depth)
        equal += (snap.bids, snap.asks) == step.book
        corrected += step.corrections > 0
        kind, size, price, direction = (
            int(raw[i][1]),
            int(raw[i][3]),
            int(raw[i][4]),
            int(raw[i][5]),
        )
        executed += size if kind == 4 else 0
        traded += sum(e.qty for e in events if isinstance(e, Trade))
        if prev is not None:
            bids, asks = _predict(prev, kind, size, price, direction)
            exact = (
                tuple(sorted(bids.items(), reverse=True))[:depth] == step.book[0]
                and tuple(sorted(asks.items()))[:depth] == step.book[1]
            )
            if exact:
                # predictable from the messages alone: the reader must not need the file
                assert step.corrections == 0, step.line
            else:
                unpredictable += 1
        prev = step.book
    print(
        f"{parts[1]}: {equal}/{len(src)} books equal, {corrected} steps followed the file "
        f"({unpredictable} not predictable from the previous row)"
    )
    assert equal == len(src)  # every transition
    assert traded == executed  # every visible execution printed as a trade of its size
