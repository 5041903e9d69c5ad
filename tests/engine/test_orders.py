"""Order types, TIFs, matching priority, self-trade prevention, cancel and cancel-all."""

from __future__ import annotations

from typing import Any

from exchange.engine.types import (
    BookDelta,
    CancelAll,
    CanceledAll,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    Trade,
)

Harness = Any  # the conftest fixture's class


def test_limit_rests_and_acks_first(h: Harness) -> None:
    ev = h.new("alice", "a1", "buy", "1.5", "100.00")
    assert isinstance(ev[0], OrderAccepted)
    assert ev[0].exec_seq == 1 and ev[0].order.order_id == "O1"
    assert ev[0].order.price == 10000 and ev[0].order.qty == 15000
    assert h.engine.book_snapshot("BTC-USD").bids == ((10000, 15000),)
    delta = h.only(ev, BookDelta)
    assert len(delta) == 1 and delta[0].bids == ((10000, 15000),)


def test_crossing_limit_trades_at_maker_price_and_rests_remainder(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    ev = h.new("bob", "b1", "buy", "3", "101.00")
    fills = h.only(ev, OrderFilled)
    assert [(f.account, f.liquidity, f.price, f.qty) for f in fills] == [
        ("bob", "taker", 10000, 10000),
        ("alice", "maker", 10000, 10000),
    ]
    trades = h.only(ev, Trade)
    assert trades[0].maker_order_id == "O1" and trades[0].taker_order_id == "O2"
    assert trades[0].taker_side == "buy"
    snap = h.engine.book_snapshot("BTC-USD")
    assert snap.asks == () and snap.bids == ((10100, 20000),)
    view = h.engine.find_order("bob", client_order_id="b1")
    assert view.status == "partially_filled" and view.filled_qty + view.leaves_qty == view.qty


def test_price_time_priority(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "101.00")
    h.new("bob", "b1", "sell", "1", "100.00")
    h.new("alice", "a2", "sell", "1", "100.00")
    ev = h.new("carol", "c1", "buy", "2.5", "101.00")
    makers = [f.order_id for f in h.only(ev, OrderFilled) if f.liquidity == "maker"]
    assert makers == ["O2", "O3", "O1"]  # better price first, then time
    assert [f.qty for f in h.only(ev, OrderFilled) if f.liquidity == "maker"] == [
        10000,
        10000,
        5000,
    ]


def test_market_order_walks_book_and_expires_remainder(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("alice", "a2", "sell", "1", "102.00")
    ev = h.new("bob", "b1", "buy", "3")
    assert isinstance(ev[0], OrderAccepted) and ev[0].order.tif == "ioc"
    assert [t.price for t in h.only(ev, Trade)] == [10000, 10200]
    cancels = h.only(ev, OrderCanceled)
    assert len(cancels) == 1 and cancels[0].reason == "ioc_expired"
    assert cancels[0].filled_qty == 20000
    assert h.engine.find_order("bob", "b1").status == "canceled"


def test_market_on_empty_side_is_no_liquidity(h: Harness) -> None:
    ev = h.new("bob", "b1", "sell", "1")
    assert isinstance(ev[0], OrderRejected) and ev[0].code == "NO_LIQUIDITY"


def test_ioc_limit_never_rests(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    ev = h.new("bob", "b1", "buy", "2", "100.00", tif="ioc")
    assert sum(f.qty for f in h.only(ev, OrderFilled) if f.account == "bob") == 10000
    assert h.only(ev, OrderCanceled)[0].reason == "ioc_expired"
    assert h.engine.book_snapshot("BTC-USD").bids == ()


def test_ioc_without_cross_just_expires(h: Harness) -> None:
    ev = h.new("bob", "b1", "buy", "2", "99.00", tif="ioc")
    assert [type(e).__name__ for e in ev] == ["OrderAccepted", "OrderCanceled"]


def test_fok_fills_fully_or_not_at_all(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("alice", "a2", "sell", "1", "101.00")
    before = h.engine.state_hash()
    ev = h.new("bob", "b1", "buy", "2", "100.50", tif="fok")
    assert isinstance(ev[0], OrderRejected) and ev[0].code == "FOK_NOT_FILLABLE"
    assert h.engine.state_hash() == before
    ev = h.new("bob", "b2", "buy", "2", "101.00", tif="fok")
    assert sum(t.qty for t in h.only(ev, Trade)) == 20000
    assert h.engine.find_order("bob", "b2").status == "filled"
    ev = h.new("bob", "b3", "sell", "1", tif="fok")  # market fok, empty side
    assert ev[0].code == "NO_LIQUIDITY"


def test_fok_counts_only_liquidity_before_own_order(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("bob", "b0", "sell", "1", "100.00")
    h.new("carol", "c1", "sell", "1", "100.00")
    ev = h.new("bob", "b1", "buy", "2", "100.00", tif="fok")
    assert ev[0].code == "FOK_NOT_FILLABLE"


def test_post_only(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    ev = h.new("bob", "b1", "buy", "1", "100.00", post_only=True)
    assert ev[0].code == "POST_ONLY_WOULD_TAKE"
    ev = h.new("bob", "b2", "buy", "1", "99.99", post_only=True)
    assert isinstance(ev[0], OrderAccepted) and ev[0].order.post_only
    ev = h.new("bob", "b3", "buy", "1", post_only=True)
    assert ev[0].code == "INVALID_TYPE"


def test_self_trade_prevention_cancels_incoming_remainder(h: Harness) -> None:
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("bob", "b1", "sell", "1", "100.50")
    h.new("carol", "c1", "sell", "1", "101.00")
    ev = h.new("bob", "b2", "buy", "3", "101.00")
    assert [t.maker_order_id for t in h.only(ev, Trade)] == ["O1"]
    cancel = h.only(ev, OrderCanceled)
    assert len(cancel) == 1 and cancel[0].order_id == "O4" and cancel[0].reason == "self_trade"
    assert h.engine.find_order("bob", "b1").status == "open"  # the resting one stays
    snap = h.engine.book_snapshot("BTC-USD")
    assert snap.bids == () and snap.asks == ((10050, 10000), (10100, 10000))


def test_cancel_by_either_id_and_duplicate_and_filled(h: Harness) -> None:
    h.new("alice", "a1", "buy", "1", "99.00")
    ev = h.cancel("alice", "a1")
    assert isinstance(ev[0], OrderCanceled) and ev[0].exec_seq == 2 and not ev[0].duplicate
    assert h.only(ev, BookDelta)[0].bids == ((9900, 0),)
    ev = h.cancel("alice", order_id="O1")
    assert ev == [ev[0]] and ev[0].duplicate and ev[0].exec_seq is None
    h.new("alice", "a2", "sell", "1", "100.00")
    h.new("bob", "b1", "buy", "1", "100.00")
    ev = h.cancel("alice", "a2")
    assert isinstance(ev[0], OrderRejected) and ev[0].code == "ORDER_NOT_OPEN"
    ev = h.cancel("bob", order_id="O2")  # alice's order id
    assert ev[0].code == "UNKNOWN_ORDER"
    ev = h.cancel("bob", "nope")
    assert ev[0].code == "UNKNOWN_ORDER"
    ev = h.cancel("nobody", "a1")
    assert ev[0].code == "UNKNOWN_ORDER"


def test_cancel_all_per_account_and_symbol(h: Harness) -> None:
    h.new("alice", "a1", "buy", "1", "99.00")
    h.new("alice", "a2", "sell", "1", "101.00")
    h.new("alice", "a3", "buy", "1", "50.00", symbol="ETH-USD")
    h.new("bob", "b1", "buy", "1", "98.00")
    ev = h.do(CancelAll("alice", "BTC-USD", ts=h.ts))
    cancels = h.only(ev, OrderCanceled)
    assert [c.order_id for c in cancels] == ["O1", "O2"]
    assert [c.exec_seq for c in cancels] == [4, 5]
    assert isinstance(ev[2], CanceledAll) and ev[2].count == 2
    assert ev.index(ev[2]) < min(ev.index(d) for d in h.only(ev, BookDelta))
    ev = h.do(CancelAll("alice", reason="deadman", ts=h.ts))
    assert [c.reason for c in h.only(ev, OrderCanceled)] == ["deadman"]
    assert h.only(ev, CanceledAll)[0].count == 1
    assert [o.order_id for o in h.engine.open_orders("bob")] == ["O4"]
    ev = h.do(CancelAll("alice", "NOPE", ts=h.ts))
    assert ev[0].code == "INVALID_SYMBOL"


def test_halted_symbol_rejects_orders_but_allows_cancel(h: Harness) -> None:
    from exchange.engine.types import SetSymbolState, SymbolStatus

    h.new("alice", "a1", "buy", "1", "99.00")
    ev = h.do(SetSymbolState("BTC-USD", "halted", ts=h.ts))
    assert ev == [SymbolStatus("BTC-USD", "halted", h.ts)]
    assert h.new("bob", "b1", "sell", "1", "99.00")[0].code == "MARKET_HALTED"
    assert h.replace("alice", "a1r", "a1", qty="0.5")[0].code == "MARKET_HALTED"
    assert isinstance(h.cancel("alice", "a1")[0], OrderCanceled)
    h.do(SetSymbolState("BTC-USD", "open", ts=h.ts))
    assert isinstance(h.new("bob", "b2", "sell", "1", "99.00")[0], OrderAccepted)


def test_order_ids_are_deterministic_counters(h: Harness) -> None:
    ids = [h.new("alice", f"x{i}", "buy", "1", "90.00")[0].order.order_id for i in range(3)]
    assert ids == ["O1", "O2", "O3"]
    h.new("alice", "bad", "buy", "0", "90.00")  # refused: no id used
    assert h.new("alice", "x9", "buy", "1", "90.00")[0].order.order_id == "O4"
