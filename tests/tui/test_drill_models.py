"""The pure parts of the fault drills: the timeline, the fault switches, the corruptor, and
the connection's discard of a duplicate market-data frame by id (no socket involved)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from client_tui.connection import Connection
from client_tui.faults import Faults, corrupt_best_bid
from client_tui.model.market import MarketState
from client_tui.model.orders import OrderTracker, Portfolio
from client_tui.model.timeline import (
    CLIENT,
    DOWN,
    SERVER,
    UP,
    Outcome,
    Timeline,
    describe,
    lag_median,
)
from tests.tui.test_market_model import delta, fresh


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_timeline_rows_are_timed_from_start_and_render_as_text() -> None:
    clock = Clock()
    tl = Timeline(clock)
    tl.start("Drop it")
    tl.log(CLIENT, "cut")
    clock.now += 0.0125
    tl.log(UP, "order.new")
    clock.now += 0.5
    tl.log(DOWN, "order.ack")
    tl.log(SERVER, "GET /api/orders/k: filled")
    assert [r.t_ms for r in tl.rows] == pytest.approx([0.0, 12.5, 512.5, 512.5])
    tl.finish(Outcome.check(True, "traded once"))
    text = tl.to_text()
    assert text.splitlines() == [
        "tickwire drill: Drop it",
        "      0.0 ms  client  cut",
        "     12.5 ms  wire ↑  order.new",
        "    512.5 ms  wire ↓  order.ack",
        "    512.5 ms  server  GET /api/orders/k: filled",
        "outcome: PASS: traded once",
    ]
    version = tl.version
    tl.start("again")
    assert tl.rows == [] and tl.outcome is None and tl.version > version


def test_timeline_refuses_an_unknown_source() -> None:
    with pytest.raises(ValueError, match="source"):
        Timeline().log("elsewhere", "x")


def test_outcomes_and_describe() -> None:
    assert Outcome.check(False, "twice").line() == "FAIL: twice"
    assert not Outcome.not_run("no --drills").ok and Outcome.not_run("x").status == "NOT RUN"
    msg = {"type": "order.ack", "client_order_id": "k", "status": "filled", "exec_seq": None,
           "duplicate": True, "req_id": 3}  # fmt: skip
    assert describe(msg) == "order.ack client_order_id=k status=filled duplicate=true"
    assert describe({"op": "deadman", "timeout_ms": 1000}) == "deadman timeout_ms=1000"
    assert lag_median([]) is None and lag_median([3.0, 1.0, 2.0]) == 2.0


def test_holds_and_delays_end_by_the_clock() -> None:
    f = Faults()
    now = time.monotonic()
    assert f.orders_held(now) == 0 and f.md_held(now) == 0
    f.orders_down_until = now + 1.5
    assert f.orders_held(now) == pytest.approx(1.5) and f.orders_held(now + 2) == 0
    f.md_delay_s, f.md_delay_until = 0.4, now + 3
    fresh_ts = time.time_ns()
    assert 0.3 < f.md_hold_s({"ts": fresh_ts}, now) <= 0.4  # held until 0.4 s after its ts
    assert f.md_hold_s({"ts": fresh_ts - 10**9}, now) == 0  # already older than the delay
    assert f.md_hold_s({"ts": fresh_ts + 10**10}, now) == 0.4  # never more than the delay
    assert f.md_hold_s({}, now) == 0  # no ts: it waits behind the held one before it
    assert f.md_hold_s({"ts": fresh_ts}, now + 3) == 0  # the delay is over
    f.md_delay_base_s = 1.0  # a feed already 1 s behind: the delay adds to that
    assert 0.3 < f.md_hold_s({"ts": fresh_ts - 10**9}, now) <= 0.4
    f.md_duplicate = 1
    assert f.take_duplicate() and not f.take_duplicate()


def test_corrupting_the_best_bid_fails_the_checksum() -> None:
    m = fresh()  # bids 99.99 x 1.000, 99.98 x 2.000
    d = delta(6, [["99.97", "1.000"]], [], ([["99.99", "1.000"], ["99.98", "2.000"],
                                            ["99.97", "1.000"]], [["100.01", "1.500"],
                                                                  ["100.02", "0.500"]]))  # fmt: skip
    assert corrupt_best_bid(m, "trade", d) is None
    bad = corrupt_best_bid(m, "book", d)
    assert bad is not None and d["bids"] == [["99.97", "1.000"]]  # the original is untouched
    assert bad["bids"] == [["99.97", "1.000"], ["99.99", "1.001"]]
    problem = m.apply("book", bad)
    assert problem is not None and "checksum" in problem
    assert m.checksum_bad == 1


def test_corrupting_a_delta_that_moves_the_best_bid_itself() -> None:
    m = fresh()
    d = delta(6, [["99.99", "0.500"]], [], ([["99.99", "0.500"], ["99.98", "2.000"]],
                                           [["100.01", "1.500"], ["100.02", "0.500"]]))  # fmt: skip
    bad = corrupt_best_bid(m, "book", d)
    assert bad is not None and bad["bids"] == [["99.99", "0.501"]]
    assert m.apply("book", bad) is not None


def test_corrupting_needs_a_synced_book() -> None:
    m = MarketState()
    assert corrupt_best_bid(m, "book", {"symbol": "BTC-USD", "bids": []}) is None


async def test_a_duplicate_frame_is_discarded_by_its_id() -> None:
    market = fresh()
    posted: list[Any] = []
    conn = Connection("http://127.0.0.1:9", "alice", market=market, tracker=OrderTracker(),
                      portfolio=Portfolio(), post=posted.append)  # fmt: skip
    seen: list[tuple[str | None, bool]] = []
    conn.md_taps.append(lambda i, _e, _d, dup: seen.append((i, dup)))
    after_bids = [["99.99", "1.000"], ["99.98", "2.000"], ["99.97", "1.000"]]
    after_asks = [["100.01", "1.500"], ["100.02", "0.500"]]
    book = delta(6, [["99.97", "1.000"]], [], (after_bids, after_asks))
    trade = {"symbol": "BTC-USD", "trade_id": 1, "price": "100.01", "qty": "0.100",
             "taker_side": "buy", "ts": 1}  # fmt: skip
    conn.faults.md_duplicate = 1
    await conn._deliver("book", book, "e1-7")  # delivered twice by the fault
    conn._apply("trade", trade, "e1-8")
    conn._apply("trade", trade, "e1-8")  # a copy from the wire
    snap = {"symbol": "BTC-USD", "bids": after_bids, "asks": after_asks, "seq": 6,
            "checksum": book["checksum"]}  # fmt: skip
    conn._apply("snapshot", snap, "e1-7")
    assert seen == [
        ("e1-7", False),
        ("e1-7", True),
        ("e1-8", False),
        ("e1-8", True),
        ("e1-7", False),
    ]  # a snapshot may carry the id of a delta: not a copy
    assert conn.md_duplicates == 2 and market.resyncs == 0 and market.checksum_bad == 0
    assert len(market.symbols["BTC-USD"].trades) == 1
    await conn.close()
