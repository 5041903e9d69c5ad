"""Replace: queue priority rules, re-queue, crossing replace, reservations."""

from __future__ import annotations

from typing import Any

from exchange.engine.types import BookDelta, OrderAccepted, OrderCanceled, OrderFilled

Harness = Any


def _makers(ev: list[Any]) -> list[str]:
    return [f.order_id for f in ev if isinstance(f, OrderFilled) and f.liquidity == "maker"]


def test_qty_down_same_price_keeps_priority(h: Harness) -> None:
    h.new("alice", "a1", "sell", "2", "100.00")
    h.new("bob", "b1", "sell", "2", "100.00")
    ev = h.replace("alice", "a1r", "a1", qty="1")
    assert isinstance(ev[0], OrderAccepted) and ev[0].order.order_id == "O1"
    assert ev[0].order.leaves_qty == 10000 and ev[0].order.client_order_id == "a1r"
    assert h.only(ev, BookDelta)[0].asks == ((10000, 30000),)
    assert _makers(h.new("carol", "c1", "buy", "1", "100.00")) == ["O1"]


def test_qty_up_loses_priority(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("bob", "b1", "sell", "1", "100.00")
    h.replace("alice", "a1r", "a1", qty="2")
    assert _makers(h.new("carol", "c1", "buy", "1", "100.00")) == ["O2"]


def test_price_change_requeues(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("bob", "b1", "sell", "1", "100.00")
    h.replace("alice", "a1r", "a1", price="100.50")
    h.replace("alice", "a1s", "a1r", price="100.00")
    assert _makers(h.new("carol", "c1", "buy", "1", "100.00")) == ["O2"]
    assert h.engine.book_snapshot("BTC-USD").asks == ((10000, 10000),)


def test_replace_that_crosses_trades(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "101.00")
    h.new("bob", "b1", "buy", "2", "100.00")
    ev = h.replace("bob", "b1r", "b1", price="101.00")
    assert isinstance(ev[0], OrderAccepted)
    fills = h.only(ev, OrderFilled)
    assert fills[0].order_id == "O2" and fills[0].client_order_id == "b1r"
    assert h.engine.book_snapshot("BTC-USD").bids == ((10100, 10000),)


def test_replace_keeps_filled_and_qty_is_total(h: Harness) -> None:
    h.new("alice", "a1", "sell", "3", "100.00")
    h.new("bob", "b1", "buy", "1", "100.00")
    ev = h.replace("alice", "a1r", "a1", qty="2")
    order = ev[0].order
    assert (order.qty, order.filled_qty, order.leaves_qty) == (20000, 10000, 10000)
    assert order.status == "partially_filled"


def test_replace_of_post_only_that_would_take_is_refused(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "101.00")
    h.new("bob", "b1", "buy", "1", "100.00", post_only=True)
    assert h.replace("bob", "b1r", "b1", price="101.00")[0].code == "POST_ONLY_WOULD_TAKE"


def test_replace_adjusts_buy_reservation(h: Harness) -> None:
    h.open("dan", cash=1000 * 10**6, btc=0)
    h.new("dan", "d1", "buy", "5", "100.00")
    assert h.engine.account_view("dan").cash_available == 500 * 10**6
    assert h.replace("dan", "d2", "d1", qty="11")[0].code == "INSUFFICIENT_FUNDS"
    h.replace("dan", "d3", "d1", price="50.00")
    assert h.engine.account_view("dan").cash_available == 750 * 10**6


def test_replace_into_self_trade_cancels_replaced_order(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "101.00")
    h.new("alice", "a2", "buy", "1", "100.00")
    ev = h.replace("alice", "a2r", "a2", price="101.00")
    cancels = h.only(ev, OrderCanceled)
    assert cancels[0].reason == "self_trade" and cancels[0].order_id == "O2"
    assert h.engine.open_orders("alice")[0].order_id == "O1"
