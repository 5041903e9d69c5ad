"""Stop and stop-limit orders: entry rules, triggers, cascades, cancels, funds, snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.engine import Engine
from exchange.engine.render import render_order, render_private
from exchange.engine.types import (
    BookDelta,
    NewOrder,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    SymbolSpec,
    Trade,
)

Harness = Any


def stop(
    h: Harness,
    account: str,
    coid: str,
    side: str,
    qty: str,
    stop_price: str,
    price: str | None = None,
    tif: str | None = None,
) -> list[Any]:
    h.ts += 1
    otype = "stop_limit" if price is not None else "stop"
    return h.do(
        NewOrder(account, coid, "BTC-USD", side, otype, qty, price, tif, False, h.ts, stop_price)
    )


def trade_at(h: Harness, price: str, qty: str = "1", n: int = 0) -> list[Any]:
    """carol rests a sell and bob lifts it: one trade at ``price``."""
    h.new("carol", f"mk{price}-{n}", "sell", qty, price)
    return h.new("bob", f"tk{price}-{n}", "buy", qty, price)


def test_a_buy_stop_waits_outside_the_book_then_buys_at_market(h: Harness) -> None:
    trade_at(h, "100.00")
    ev = stop(h, "alice", "s1", "buy", "1", "105.00")
    ack = ev[0]
    assert isinstance(ack, OrderAccepted) and ack.exec_seq == 1
    assert ack.order.order_type == "stop" and ack.order.stop_price == 10500
    assert ack.order.triggered is False and ack.order.status == "open"
    assert not h.only(ev, BookDelta)  # invisible to the market
    assert h.engine.book_snapshot("BTC-USD").bids == ()
    h.new("carol", "ask1", "sell", "2", "106.00")
    trade_at(h, "104.99")  # below the stop: nothing
    assert h.engine.find_order("alice", "s1", None).triggered is False
    ev = trade_at(h, "105.00", n=1)  # at the stop: triggers and buys the 106 ask
    trig = h.only(ev, OrderTriggered)
    assert len(trig) == 1 and trig[0].trigger_price == 10500 and trig[0].exec_seq == 2
    fills = [f for f in h.only(ev, OrderFilled) if f.account == "alice"]
    assert [(f.price, f.qty, f.liquidity, f.exec_seq) for f in fills] == [
        (10600, 10000, "taker", 3)
    ]
    # the trigger comes after the fill that caused it, and before its own fills
    kinds = [type(e).__name__ for e in ev if getattr(e, "account", "") in ("alice", "bob")]
    assert kinds.index("OrderTriggered") > kinds.index("OrderFilled")
    view = h.engine.find_order("alice", "s1", None)
    assert view.status == "filled" and view.triggered is True


def test_a_sell_stop_limit_rests_its_remainder_once_triggered(h: Harness) -> None:
    trade_at(h, "100.00")
    stop(h, "alice", "s1", "sell", "3", "95.00", price="94.00")
    h.new("bob", "bid1", "buy", "1", "94.50")
    ev = trade_at(h, "95.00")  # triggers: sells 1 at 94.50, rests 2 at 94.00
    assert len(h.only(ev, OrderTriggered)) == 1
    fills = [f for f in h.only(ev, OrderFilled) if f.account == "alice"]
    assert [(f.price, f.qty) for f in fills] == [(9450, 10000)]
    snap = h.engine.book_snapshot("BTC-USD")
    assert snap.asks == ((9400, 20000),)
    assert h.engine.find_order("alice", "s1", None).status == "partially_filled"


def test_entry_rules(h: Harness) -> None:
    trade_at(h, "100.00")
    cases = [
        (dict(side="buy", stop_price="100.00"), "INVALID_PRICE"),  # not above the last
        (dict(side="sell", stop_price="100.00"), "INVALID_PRICE"),  # not below the last
        (dict(side="buy", stop_price="100.001"), "INVALID_PRICE"),  # off the grid
        (dict(side="buy", stop_price="0"), "INVALID_PRICE"),
        (dict(side="buy", stop_price=None), "INVALID_PRICE"),  # a stop needs one
        (dict(side="buy", stop_price="101.00", tif="gtc"), "INVALID_TIF"),  # a stop is ioc/fok
        (dict(side="buy", stop_price=101), "BAD_REQUEST"),  # a number, not a string
    ]
    for i, (kw, code) in enumerate(cases):
        h.ts += 1
        ev = h.do(
            NewOrder(
                "alice",
                f"bad{i}",
                "BTC-USD",
                kw["side"],
                "stop",
                "1",
                None,
                kw.get("tif"),
                False,
                h.ts,
                kw["stop_price"],
            )
        )
        assert isinstance(ev[0], OrderRejected) and ev[0].code == code, (kw, ev)
    before = h.engine.state_hash()
    ev = h.new("alice", "lim", "buy", "1", "90.00")
    assert isinstance(ev[0], OrderAccepted)
    # a limit order with a stop_price, a stop_limit without a price, post_only on a stop
    h.ts += 1
    ev = h.do(NewOrder("alice", "x1", "BTC-USD", "buy", "limit", "1", "90.00", None, False,
                       h.ts, "101.00"))  # fmt: skip
    assert ev[0].code == "INVALID_PRICE"
    h.ts += 1
    ev = h.do(NewOrder("alice", "x2", "BTC-USD", "buy", "stop_limit", "1", None, None, False,
                       h.ts, "101.00"))  # fmt: skip
    assert ev[0].code == "INVALID_PRICE"
    h.ts += 1
    ev = h.do(NewOrder("alice", "x3", "BTC-USD", "buy", "stop_limit", "1", "101.00", None, True,
                       h.ts, "101.00"))  # fmt: skip
    assert ev[0].code == "INVALID_TYPE"
    assert h.engine.state_hash() != before  # the limit order counted; the rejects did not
    assert h.engine.find_order("alice", "x1", None) is None


def test_cancel_and_cancel_all_release_the_hold(make_harness: Any) -> None:
    h = make_harness()
    h.open("alice", cash=200 * 10**6)  # 200.000000 (cash_decimals 6): one stop's worth
    h.open("bob")
    h.open("carol")
    trade_at(h, "100.00")
    free = h.engine.account_view("alice").cash_available
    ev = stop(h, "alice", "s1", "buy", "1", "105.00", price="106.00")
    assert isinstance(ev[0], OrderAccepted)
    held = free - h.engine.account_view("alice").cash_available
    assert held >= 106 * 10**6  # the stop-limit holds its limit notional
    ev = stop(h, "alice", "s0", "buy", "1", "107.00", price="108.00")
    assert isinstance(ev[0], OrderRejected) and ev[0].code == "INSUFFICIENT_FUNDS"
    ev = h.cancel("alice", "s1")
    assert isinstance(ev[0], OrderCanceled) and ev[0].reason == "canceled"
    assert h.engine.account_view("alice").cash_available == free
    stop(h, "alice", "s2", "sell", "1", "95.00")
    stop(h, "alice", "s3", "buy", "1", "110.00")
    h.ts += 1
    from exchange.engine.types import CancelAll

    ev = h.do(CancelAll("alice", None, "canceled", h.ts))
    assert len(h.only(ev, OrderCanceled)) == 2
    assert h.engine.account_view("alice").cash_available == free
    assert not h.engine.stops  # nothing waits any more
    trade_at(h, "111.00", n=1)  # would have triggered s3: nothing happens
    assert h.engine.open_orders("alice") == []


def test_a_cascade_triggers_in_price_then_time_order(h: Harness) -> None:
    trade_at(h, "100.00")
    # asks at 101..104: each triggered buy stop lifts the next level and triggers the next
    for i, px in enumerate(("101.00", "102.00", "103.00", "104.00")):
        h.new("carol", f"ask{i}", "sell", "1", px)
    stop(h, "alice", "late", "buy", "1", "102.00")
    stop(h, "bob", "early", "buy", "1", "101.00")
    stop(h, "alice", "same", "buy", "1", "102.00")  # same stop as "late", younger
    ev = h.new("bob", "lift", "buy", "1", "101.00")  # trades 101: triggers the 101 stop
    order = [t.client_order_id for t in h.only(ev, OrderTriggered)]
    assert order == ["early", "late", "same"]
    prices = [t.price for t in h.only(ev, Trade)]
    assert prices == [10100, 10200, 10300, 10400]


def test_a_stop_market_with_nothing_to_buy_is_canceled_with_the_reason(h: Harness) -> None:
    trade_at(h, "100.00")
    stop(h, "alice", "s1", "buy", "1", "100.50")
    ev = trade_at(h, "100.50")  # the only ask is consumed by the trade itself
    canceled = [e for e in h.only(ev, OrderCanceled) if e.account == "alice"]
    assert [c.reason for c in canceled] == ["no_liquidity"]


def test_replace_of_a_stop_is_refused(h: Harness) -> None:
    trade_at(h, "100.00")
    stop(h, "alice", "s1", "buy", "1", "105.00", price="106.00")
    before = h.engine.state_hash()
    ev = h.replace("alice", "s1r", "s1", price="107.00")
    assert isinstance(ev[0], OrderRejected) and ev[0].code == "INVALID_TYPE"
    assert h.engine.state_hash() == before


def test_the_same_key_again_is_a_duplicate_and_a_different_stop_price_is_not(h: Harness) -> None:
    trade_at(h, "100.00")
    stop(h, "alice", "s1", "buy", "1", "105.00")
    ev = stop(h, "alice", "s1", "buy", "1", "105.00")
    assert isinstance(ev[0], OrderAccepted) and ev[0].duplicate
    ev = stop(h, "alice", "s1", "buy", "1", "106.00")
    assert isinstance(ev[0], OrderRejected) and ev[0].code == "DUPLICATE_CLIENT_ORDER_ID"


def test_snapshot_keeps_waiting_stops_and_triggers_them_the_same(h: Harness) -> None:
    trade_at(h, "100.00")
    stop(h, "alice", "s1", "buy", "1", "105.00")
    stop(h, "bob", "s2", "sell", "1", "95.00", price="94.00")
    h.new("carol", "ask", "sell", "5", "106.00")
    copy = Engine.from_snapshot(h.engine.to_snapshot())
    assert copy.state_hash() == h.engine.state_hash()
    h.ts += 1
    cmds = [
        NewOrder("carol", "m2", "BTC-USD", "sell", "limit", "1", "105.00", None, False, h.ts),
        NewOrder("bob", "t2", "BTC-USD", "buy", "limit", "1", "105.00", None, False, h.ts + 1),
    ]
    a = [e for c in cmds for e in h.engine.handle(c)]
    b = [e for c in cmds for e in copy.handle(c)]
    assert a == b and any(isinstance(e, OrderTriggered) for e in a)
    assert copy.state_hash() == h.engine.state_hash()


def test_an_engine_without_stops_hashes_as_before(make_harness: Any) -> None:
    """A snapshot of orders without stop fields has the record shape of before stop orders
    (14 fields, a 14-field view in the execution history), so recorded hashes still hold."""
    import json

    h = make_harness()
    h.open("alice")
    h.new("alice", "a1", "buy", "1", "90.00")
    doc = json.loads(h.engine.to_snapshot())
    assert all(len(rec) == 14 for rec in doc["orders"])
    hist = doc["accounts"][0][9]
    assert len(hist[0][1][1]) == 14


def test_wire_payloads() -> None:
    spec = SymbolSpec("BTC-USD", price_decimals=2, qty_decimals=4, tick_size=1, lot_size=1,
                      min_qty=1)  # fmt: skip
    e = Engine([spec])
    from exchange.engine.types import OpenAccount

    e.handle(OpenAccount("a", 10**18, (("BTC-USD", 10**9),), False))
    ev = e.handle(NewOrder("a", "s", "BTC-USD", "buy", "stop", "1", None, None, False, 1, "5.00"))
    msg = render_private(ev[0], e)
    assert msg["order_type"] == "stop" and msg["stop_price"] == "5.00"
    assert msg["triggered"] is False and msg["price"] is None and msg["tif"] == "ioc"
    plain = render_order(e.open_orders("a")[0], e)
    assert plain["stop_price"] == "5.00"
    ev = e.handle(NewOrder("a", "l", "BTC-USD", "buy", "limit", "1", "1.00", None, False, 2))
    assert "stop_price" not in render_private(ev[0], e)
    trig = OrderTriggered("a", 3, "O1", "s", "BTC-USD", "buy", "stop", 500, 501, 9)
    assert render_private(trig, e) == {
        "type": "order.triggered", "order_id": "O1", "client_order_id": "s",
        "symbol": "BTC-USD", "side": "buy", "order_type": "stop", "stop_price": "5.00",
        "trigger_price": "5.01", "ts": 9, "exec_seq": 3,
    }  # fmt: skip


@pytest.mark.parametrize("batches", [False, True])
def test_stops_trigger_the_same_with_market_batches(batches: bool, make_harness: Any) -> None:
    h = make_harness(market_batches=batches)
    for name in ("alice", "bob", "carol"):
        h.open(name)
    trade_at(h, "100.00")
    stop(h, "alice", "s1", "buy", "1", "101.00")
    h.new("carol", "ask", "sell", "1", "102.00")
    ev = trade_at(h, "101.00")
    assert [t.client_order_id for t in h.only(ev, OrderTriggered)] == ["s1"]
    assert h.engine.find_order("alice", "s1", None).status == "filled"
