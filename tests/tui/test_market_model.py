"""MarketState: snapshot + deltas checked by seq and checksum; gaps and bad checksums."""

from __future__ import annotations

from typing import Any

from client_tui.model.market import MarketState
from shared.checksum import book_checksum

SYMBOLS = [
    {
        "symbol": "BTC-USD",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_qty": "0.001",
        "price_decimals": 2,
        "qty_decimals": 3,
    }
]


def snapshot(seq: int = 5) -> dict[str, Any]:
    bids = [["99.99", "1.000"], ["99.98", "2.000"]]
    asks = [["100.01", "1.500"], ["100.02", "0.500"]]
    return {
        "symbol": "BTC-USD",
        "seq": seq,
        "bids": bids,
        "asks": asks,
        "checksum": book_checksum(asks, bids),
    }


def delta(
    first: int,
    bids: list[list[str]],
    asks: list[list[str]],
    book_after: tuple[list[list[str]], list[list[str]]],
) -> dict[str, Any]:
    after_bids, after_asks = book_after
    return {
        "symbol": "BTC-USD",
        "first_seq": first,
        "seq": first,
        "bids": bids,
        "asks": asks,
        "checksum": book_checksum(after_asks, after_bids),
        "ts": 1,
    }


def fresh() -> MarketState:
    m = MarketState()
    m.load_symbols(SYMBOLS)
    assert m.apply("snapshot", snapshot()) is None
    return m


def test_snapshot_then_deltas_including_level_removal() -> None:
    m = fresh()
    book = m.symbols["BTC-USD"]
    assert book.best_bid == 9999 and book.best_ask == 10001 and m.book_ok("BTC-USD")
    d = delta(
        6,
        [["99.99", "0"]],
        [["100.00", "0.250"]],
        ([["99.98", "2.000"]], [["100.00", "0.250"], ["100.01", "1.500"], ["100.02", "0.500"]]),
    )
    assert m.apply("book", d) is None
    assert book.best_bid == 9998 and book.best_ask == 10000 and book.seq == 6
    assert m.checksum_ok == 2 and m.checksum_bad == 0


def test_a_gap_asks_for_a_resync() -> None:
    m = fresh()
    d = delta(
        7,
        [],
        [],
        ([["99.99", "1.000"], ["99.98", "2.000"]], [["100.01", "1.500"], ["100.02", "0.500"]]),
    )
    problem = m.apply("book", d)
    assert problem is not None and "gap" in problem


def test_a_corrupted_delta_fails_the_checksum() -> None:
    m = fresh()
    good = delta(
        6,
        [["99.99", "3.000"]],
        [],
        ([["99.99", "3.000"], ["99.98", "2.000"]], [["100.01", "1.500"], ["100.02", "0.500"]]),
    )
    bad = {**good, "bids": [["99.99", "4.000"]]}
    problem = m.apply("book", bad)
    assert problem is not None and "checksum" in problem
    assert not m.book_ok("BTC-USD") and m.checksum_bad == 1
    # after reset + fresh snapshot all is well again
    m.reset_books()
    assert m.apply("book", good) is not None  # delta before snapshot
    assert m.apply("snapshot", snapshot(6)) is None and m.book_ok("BTC-USD")


def test_tape_ticker_candles_and_lag() -> None:
    m = fresh()
    m.apply(
        "trade",
        {
            "symbol": "BTC-USD",
            "trade_id": 1,
            "price": "100.01",
            "qty": "0.100",
            "taker_side": "buy",
            "ts": 1,
        },
    )
    m.apply(
        "ticker",
        {
            "symbol": "BTC-USD",
            "bid": "99.99",
            "ask": "100.01",
            "last": "100.01",
            "open": "99.00",
            "high": "101.00",
            "low": "98.00",
            "volume": "3",
            "ts": 1,
        },
    )
    m.apply(
        "candle",
        {
            "symbol": "BTC-USD",
            "interval": "1s",
            "t": 10,
            "o": "1",
            "h": "1",
            "l": "1",
            "c": "1",
            "v": "1",
            "closed": False,
        },
    )
    m.apply(
        "candle",
        {
            "symbol": "BTC-USD",
            "interval": "1s",
            "t": 10,
            "o": "1",
            "h": "2",
            "l": "1",
            "c": "2",
            "v": "2",
            "closed": True,
        },
    )
    s = m.symbols["BTC-USD"]
    assert s.last_price() == 100.01 and len(s.trades) == 1
    assert list(s.candles["1s"]) == [10] and s.candles["1s"][10]["c"] == "2"
    assert m.lag_ms(50) is not None and m.silent_for() is not None
    assert m.apply("status", {"symbol": "BTC-USD", "state": "halted"}) is None
    assert s.state == "halted"


def test_replay_lag_is_measured_against_the_replay_clock() -> None:
    """A recorded event's ts is recorded time: against the wall clock a replay of 2020 data
    showed a lag of years (issue 17 #2)."""
    from client_tui.model.market import ReplayClockEstimate

    wall = [100.0]
    start = 1_582_329_600 * 10**9  # 2020-02-22
    status = {"clock": start, "speed": "2", "paused": False, "finished": False,
              "end": start + 60 * 10**9}  # fmt: skip
    clock = ReplayClockEstimate(status, mono=lambda: wall[0])
    m = fresh()
    m.clock = clock.now_ns
    wall[0] += 1.0  # one wall second at 2x: the replay clock is 2 s on
    trade = {"symbol": "BTC-USD", "trade_id": 1, "price": "100.01", "qty": "0.100",
             "taker_side": "buy", "ts": start + 1_900_000_000}  # fmt: skip
    m.apply("trade", trade)
    assert m.lag_ms(50) == 100.0  # 2.0 s of replay clock - 1.9 s of event time
    # paused: the clock stands still; past the end: it stops there
    clock.update({**status, "paused": True, "clock": start + 10**9})
    wall[0] += 30
    assert clock.now_ns(0) == start + 10**9
    clock.update({**status, "clock": start + 59 * 10**9})
    wall[0] += 30
    assert clock.now_ns(0) == start + 60 * 10**9
    # at max speed the newest event stands for the clock: lag 0 for the newest
    clock.update({**status, "speed": "max"})
    assert clock.now_ns(start + 70 * 10**9) == start + 70 * 10**9


def _candle(t: int, c: str = "100.00") -> dict[str, Any]:
    return {"symbol": "BTC-USD", "interval": "1s", "t": t, "o": c, "h": c, "l": c, "c": c,
            "v": "1.000", "closed": True}  # fmt: skip


def _trade(tid: int, ts: int) -> dict[str, Any]:
    return {"symbol": "BTC-USD", "trade_id": tid, "price": "100.01", "qty": "0.100",
            "taker_side": "buy", "ts": ts}  # fmt: skip


def _status(seeks: int) -> dict[str, Any]:
    return {"symbol": "BTC-USD", "state": "replay", "ts": 1,
            "replay": {"clock": 1, "speed": "1", "paused": False, "seeks": seeks}}  # fmt: skip


def test_candles_stay_in_time_order_whatever_order_they_arrive_in() -> None:
    """An older candle is inserted in its place, not appended after newer ones (the chart's
    time axis ran 15:17 -> 14:0x after a seek back; issue 17 #1)."""
    m = fresh()
    for t in (30, 10, 40, 20, 10):
        m.apply("candle", _candle(t, f"{t}.00"))
    series = m.symbols["BTC-USD"].candles["1s"]
    assert list(series) == [10, 20, 30, 40]
    assert series[10]["c"] == "10.00"


def test_a_replay_seek_starts_tape_and_candles_afresh() -> None:
    """Backwards: ``reset`` (seek) clears them; the status that counts that seek must not
    clear what arrived after the reset. Forwards (no reset): the status' ``seeks`` does."""
    m = fresh()
    s = m.symbols["BTC-USD"]
    m.apply("status", _status(0))
    m.apply("trade", _trade(1, 5_000))
    m.apply("candle", _candle(5_000))
    m.apply("ticker", {"symbol": "BTC-USD", "last": "100.01", "open": "99"})
    assert m.replay is not None and m.replay["seeks"] == 0
    # a seek back: reset, fresh snapshot, a trade of the earlier time, then the status
    m.apply_reset("seek")
    assert not s.trades and not s.candles["1s"] and s.ticker is None and not s.bids
    assert m.apply("snapshot", snapshot(9)) is None
    m.apply("trade", _trade(1, 1_000))
    m.apply("candle", _candle(1_000))
    m.apply("status", _status(0))  # a periodic status before the seek is counted
    m.apply("status", _status(1))
    assert [t["ts"] for t in s.trades] == [1_000] and list(s.candles["1s"]) == [1_000]
    # a seek forward that needed no reset: only the status says so
    m.apply("trade", _trade(2, 2_000))
    m.apply("status", _status(2))
    assert not s.trades and not s.candles["1s"] and not s.spark
    assert s.bids  # the book is not touched: it stays exact (no reset came)
    # a reset for another reason keeps the tape
    m.apply("trade", _trade(3, 90_000))
    m.apply_reset("too_old")
    assert len(s.trades) == 1
