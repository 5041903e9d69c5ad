"""Market data per batch (``market_batches=True`` + ``Publish``) against per-command output.

Two engines take the same commands, one publishing per command and one per batch (the
``Publish`` points drawn by hypothesis). At every ``Publish`` the batched engine's market
data must bring a client to the state the per-command stream brings it to: books rebuilt
from the deltas equal level by level and the delta's checksum is the CRC32 of that book;
the same trades in the same order; closed candles identical; tickers and current candles
equal to the per-command engine's state. Private events are identical command by command,
and the engine state differs only in the book ``seq`` counters.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.engine import Engine
from exchange.engine.snapshot import encode
from exchange.engine.types import (
    BookDelta,
    CancelAll,
    CancelOrder,
    Candle,
    Command,
    Event,
    NewOrder,
    OpenAccount,
    Publish,
    ReplaceOrder,
    SetSymbolState,
    Tick,
    Ticker,
    Trade,
)
from shared.checksum import book_checksum
from tests.engine.conftest import BTC, ETH, RICH

MARKET = (BookDelta, Trade, Ticker, Candle)
ACCOUNTS = ("a", "b", "c")
SYMBOLS = ("BTC-USD", "ETH-USD")


def _setup() -> list[Command]:
    pos = (("BTC-USD", 10**12), ("ETH-USD", 10**12))
    return [OpenAccount(a, RICH, pos, False, 1) for a in ACCOUNTS]


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """(kind, args) steps; ``publish`` marks where the batched engine publishes."""
    n = draw(st.integers(1, 120))
    out: list[tuple[str, Any]] = []
    for _ in range(n):
        kind = draw(
            st.sampled_from(
                ["limit"] * 6 + ["market", "cancel", "cancel", "replace", "cancel_all", "tick"]
                + ["publish"] * 3
            )
        )  # fmt: skip
        out.append(
            (
                kind,
                (
                    draw(st.sampled_from(ACCOUNTS)),
                    draw(st.sampled_from(SYMBOLS)),
                    draw(st.sampled_from(["buy", "sell"])),
                    draw(st.integers(-12, 12)),  # price offset in ticks around 100
                    draw(st.integers(1, 5)),  # qty in min sizes
                    draw(st.integers(0, 40)),  # which earlier order (cancel / replace)
                    draw(st.sampled_from([1, 1, 1, 1000, 10**8, 7 * 10**8, 3 * 10**9, 61 * 10**9])),
                    draw(st.sampled_from([None, "gtc", "gtc", "ioc", "fok"])),
                ),
            )
        )
    return out


def _commands(steps: list[tuple[str, Any]]) -> list[Command]:
    cmds: list[Command] = []
    ts = 10**9
    coids: list[tuple[str, str]] = []
    for i, (kind, (acct, symbol, side, off, q, pick, dt, tif)) in enumerate(steps):
        ts += dt
        tick = 0.05 if symbol == "ETH-USD" else 0.01
        price = f"{100 + off * tick:.2f}"
        qty = "0.10" if symbol == "ETH-USD" else "0.0001"
        qty = f"{float(qty) * q:.4f}" if symbol == "BTC-USD" else f"{0.10 * q:.2f}"
        coid = f"o{i}"
        if kind == "limit":
            cmds.append(NewOrder(acct, coid, symbol, side, "limit", qty, price, tif, False, ts))
            coids.append((acct, coid))
        elif kind == "market":
            cmds.append(NewOrder(acct, coid, symbol, side, "market", qty, None, None, False, ts))
        elif kind == "cancel" and coids:
            a, c = coids[pick % len(coids)]
            cmds.append(CancelOrder(a, c, None, ts))
        elif kind == "replace" and coids:
            a, c = coids[pick % len(coids)]
            cmds.append(ReplaceOrder(a, coid, c, price, None, ts))
            coids.append((a, coid))
        elif kind == "cancel_all":
            cmds.append(CancelAll(acct, symbol if pick % 2 else None, ts=ts))
        elif kind == "tick":
            cmds.append(Tick(ts))
        elif kind == "publish":
            cmds.append(Publish(ts))
    cmds.append(Publish(ts + 1))
    return cmds


def _apply_delta(book: dict[str, dict[int, int]], delta: BookDelta) -> None:
    for side, levels in (("bids", delta.bids), ("asks", delta.asks)):
        for price, qty in levels:
            if qty:
                book[side][price] = qty
            else:
                book[side].pop(price, None)


def _crc(book: dict[str, dict[int, int]]) -> int:
    # the protocol's checksum over the levels as a client renders them (integer units are
    # already the canonical form: no '.', no leading zeros)
    asks = [(str(p), str(q)) for p, q in sorted(book["asks"].items())[:10]]
    bids = [(str(p), str(q)) for p, q in sorted(book["bids"].items(), reverse=True)[:10]]
    return book_checksum(asks, bids)


def _no_ts(ev: Ticker) -> tuple[Any, ...]:
    return (ev.symbol, ev.bid, ev.ask, ev.last, ev.open, ev.high, ev.low, ev.volume)


def _state_without_seq(engine: Engine) -> dict[str, Any]:
    doc = json.loads(encode(engine))
    for record in doc["markets"].values():
        record[1] = None  # the book seq: one per delta, so it differs by design
    return doc


def _run(cmds: list[Command]) -> None:
    specs = [BTC, ETH]
    per_cmd = Engine(specs, taker_fee_bps=5, maker_fee_bps=1)
    batched = Engine(specs, taker_fee_bps=5, maker_fee_bps=1, market_batches=True)
    books: dict[str, dict[str, dict[str, dict[int, int]]]] = {
        name: {s: {"bids": {}, "asks": {}} for s in SYMBOLS} for name in ("per", "bat")
    }
    batch_a: list[Event] = []  # per-command market data since the last Publish
    for cmd in _setup() + cmds:
        ev_a = per_cmd.handle(cmd)
        ev_b = batched.handle(cmd)
        priv_a = [e for e in ev_a if not isinstance(e, MARKET)]
        batch_a.extend(e for e in ev_a if isinstance(e, MARKET))
        if type(cmd) is not Publish:
            assert ev_b == priv_a, cmd
            assert not any(isinstance(e, MARKET) for e in ev_b)
            continue
        assert not batched.has_unpublished()
        assert not [e for e in ev_b if not isinstance(e, MARKET)]
        _check_batch(per_cmd, batched, batch_a, ev_b, books)
        batch_a = []
    assert _state_without_seq(per_cmd) == _state_without_seq(batched)


def _check_batch(
    per_cmd: Engine,
    batched: Engine,
    ev_a: list[Event],
    ev_b: list[Event],
    books: dict[str, dict[str, dict[str, dict[int, int]]]],
) -> None:
    # trades: the same, in the same order
    assert [e for e in ev_b if isinstance(e, Trade)] == [e for e in ev_a if isinstance(e, Trade)]
    # books: one delta per symbol, seq + 1, rebuilt books equal, checksum of the rebuilt book
    deltas_b = [e for e in ev_b if isinstance(e, BookDelta)]
    assert len({d.symbol for d in deltas_b}) == len(deltas_b)
    for d in [e for e in ev_a if isinstance(e, BookDelta)]:
        _apply_delta(books["per"][d.symbol], d)
    for d in deltas_b:
        assert d.first_seq == d.seq == batched.markets[d.symbol].seq
        _apply_delta(books["bat"][d.symbol], d)
        assert d.checksum == _crc(books["bat"][d.symbol])
        assert d.checksum == batched.books[d.symbol].checksum()
    assert books["per"] == books["bat"]
    changed_a = {e.symbol for e in ev_a if isinstance(e, BookDelta)}
    assert changed_a <= {d.symbol for d in deltas_b}
    # tickers: at least where the per-command stream had one, each equal to the engine's state
    tick_a = {e.symbol for e in ev_a if isinstance(e, Ticker)}
    tick_b = [e for e in ev_b if isinstance(e, Ticker)]
    assert tick_a <= {e.symbol for e in tick_b}
    for tk in tick_b:
        book, market = per_cmd.books[tk.symbol], per_cmd.markets[tk.symbol]
        assert _no_ts(tk) == (
            tk.symbol, book.best_bid(), book.best_ask(), market.last, market.open,
            market.high, market.low, market.volume,
        )  # fmt: skip
        last_a = [e for e in ev_a if isinstance(e, Ticker) and e.symbol == tk.symbol]
        if last_a:
            assert _no_ts(last_a[-1]) == _no_ts(tk)
    # candles: closed ones identical and in order; current ones as the per-command state
    closed_a = [e for e in ev_a if isinstance(e, Candle) and e.closed]
    closed_b = [e for e in ev_b if isinstance(e, Candle) and e.closed]
    assert closed_a == closed_b
    for c in [e for e in ev_b if isinstance(e, Candle) and not e.closed]:
        state = per_cmd.markets[c.symbol].candles[c.interval]
        assert [c.t, c.o, c.h, c.l, c.c, c.v] == state
    traded = {e.symbol for e in ev_b if isinstance(e, Trade)}
    current = {(e.symbol, e.interval) for e in ev_b if isinstance(e, Candle) and not e.closed}
    assert current == {(s, i) for s in traded for i in per_cmd.markets[s].candles}
    # order of the kinds: trades, deltas, tickers, closed candles, current candles
    rank = [
        0 if isinstance(e, Trade) else 1 if isinstance(e, BookDelta)
        else 2 if isinstance(e, Ticker) else 3 if isinstance(e, Candle) and e.closed else 4
        for e in ev_b
    ]  # fmt: skip
    assert rank == sorted(rank)


@settings(max_examples=75, deadline=None)
@given(_steps())
def test_batched_market_data_reaches_the_per_command_state(steps: list[tuple[str, Any]]) -> None:
    _run(_commands(steps))


def test_a_batch_is_one_delta_per_symbol() -> None:
    engine = Engine([BTC, ETH], market_batches=True)
    for cmd in _setup():
        engine.handle(cmd)
    ts = 2 * 10**9
    for i in range(5):
        ev = engine.handle(
            NewOrder("a", f"b{i}", "BTC-USD", "buy", "limit", "0.0001", f"9{i}.00", None, False, ts)
        )
        assert [type(e).__name__ for e in ev] == ["OrderAccepted"]
    assert engine.has_unpublished()
    out = engine.handle(Publish(ts + 1))
    (delta,) = [e for e in out if isinstance(e, BookDelta)]
    assert (delta.first_seq, delta.seq) == (1, 1)
    assert [p for p, _ in delta.bids] == [9000, 9100, 9200, 9300, 9400]
    assert not engine.has_unpublished()
    assert engine.handle(Publish(ts + 2)) == []  # nothing new: an empty batch


def test_without_batches_publish_is_a_tick() -> None:
    engine = Engine([BTC])
    engine.handle(OpenAccount("a", RICH, (("BTC-USD", 10**9),), False, 1))
    ev = engine.handle(
        NewOrder("a", "x", "BTC-USD", "sell", "limit", "0.0001", "100.00", None, False, 5)
    )
    assert any(isinstance(e, BookDelta) for e in ev)
    assert not engine.has_unpublished()
    assert engine.handle(Publish(6)) == []


def test_a_halt_ends_the_batch() -> None:
    """Found in review: the status of a halt went out before the trades of the commands
    before it (they waited for the next Publish)."""
    engine = Engine([BTC], market_batches=True)
    for cmd in _setup():
        engine.handle(cmd)
    engine.handle(
        NewOrder("a", "s", "BTC-USD", "sell", "limit", "0.0001", "100.00", None, False, 5)
    )
    engine.handle(NewOrder("b", "t", "BTC-USD", "buy", "limit", "0.0001", "100.00", None, False, 6))
    out = engine.handle(SetSymbolState("BTC-USD", "halted", 7))
    names = [type(e).__name__ for e in out]
    assert names[0] == "Trade" and names[-1] == "SymbolStatus" and "BookDelta" in names
    assert not engine.has_unpublished()
