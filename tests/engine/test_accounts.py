"""Reservations, fees, average cost and realized P&L."""

from __future__ import annotations

from typing import Any

from exchange.engine.types import OpenAccount, OrderFilled

Harness = Any
# BTC-USD: price 2 decimals, qty 4 decimals -> cash_decimals 6; 1 USD = 10**6 cash units.
USD = 10**6


def test_cash_decimals_and_notional_exact(h: Harness) -> None:
    assert h.engine.cash_decimals == 6
    h.new("alice", "a1", "sell", "0.0003", "123.45")
    h.new("bob", "b1", "buy", "0.0003", "123.45")
    # 123.45 * 0.0003 = 0.037035 exactly
    assert h.engine.account_view("bob").cash == 10**18 - 37035


def test_buy_reserves_cash_and_cancel_releases(h: Harness) -> None:
    h.open("dan", cash=1000 * USD, btc=0)
    h.new("dan", "d1", "buy", "4", "200.00")
    view = h.engine.account_view("dan")
    assert view.cash == 1000 * USD and view.cash_available == 200 * USD
    assert h.new("dan", "d2", "buy", "2", "100.01")[0].code == "INSUFFICIENT_FUNDS"
    assert h.new("dan", "d3", "buy", "2", "100.00")[0].order.order_id
    assert h.engine.account_view("dan").cash_available == 0
    h.cancel("dan", "d1")
    assert h.engine.account_view("dan").cash_available == 800 * USD


def test_sell_reserves_inventory(h: Harness) -> None:
    h.open("eve", cash=0, btc=20000)  # 2 BTC
    h.new("eve", "e1", "sell", "1.5", "100.00")
    assert h.new("eve", "e2", "sell", "0.6", "100.00")[0].code == "INSUFFICIENT_FUNDS"
    assert h.new("eve", "e3", "sell", "0.5", "100.00")[0].exec_seq == 2


def test_market_buy_reserves_by_walking_the_book(h: Harness) -> None:
    h.open("dan", cash=250 * USD, btc=0)
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("alice", "a2", "sell", "1", "200.00")
    assert h.new("dan", "d1", "buy", "2")[0].code == "INSUFFICIENT_FUNDS"  # needs 300
    ev = h.new("dan", "d2", "buy", "1")
    assert h.only(ev, OrderFilled)[0].price == 10000
    view = h.engine.account_view("dan")
    assert view.cash == 150 * USD and view.cash_available == 150 * USD


def test_fees_ceil_and_charged_in_cash(make_harness: Any) -> None:
    h = make_harness(maker_fee_bps=10, taker_fee_bps=25)
    h.open("alice", btc=10**8)
    h.open("bob")
    h.new("alice", "a1", "sell", "0.0001", "100.01")
    ev = h.new("bob", "b1", "buy", "0.0001", "100.01")
    fills = {f.liquidity: f for f in h.only(ev, OrderFilled)}
    notional = 10001 * 1  # price units * qty units * scale(1) = 10001 cash units
    assert fills["taker"].fee == -(-notional * 25 // 10_000) == 26  # 25.0025 -> 26
    assert fills["maker"].fee == 11  # 10.001 -> 11
    assert h.engine.account_view("bob").cash == 10**18 - notional - 26
    assert h.engine.account_view("alice").cash == 10**18 + notional - 11
    assert h.engine.account_view("bob").fees_paid == 26
    assert h.engine.fees_collected == 37


def test_buy_reservation_covers_fees(make_harness: Any) -> None:
    h = make_harness(maker_fee_bps=10, taker_fee_bps=20)
    h.open("dan", cash=100 * USD, btc=0)
    assert h.new("dan", "d1", "buy", "1", "100.00")[0].code == "INSUFFICIENT_FUNDS"
    ev = h.new("dan", "d2", "buy", "0.99", "100.00")
    assert ev[0].exec_seq == 1
    avail = h.engine.account_view("dan").cash_available
    assert avail == 100 * USD - (99 * USD + 198_000 + 2 * 9900)


def test_average_cost_and_realized_pnl(h: Harness) -> None:
    h.open("dan", cash=10**6 * USD, btc=0)
    h.new("alice", "a1", "sell", "1", "100.00")
    h.new("dan", "d1", "buy", "1", "100.00")
    h.new("alice", "a2", "sell", "3", "120.00")
    h.new("dan", "d2", "buy", "3", "120.00")
    pos = h.engine.account_view("dan").positions[0]
    assert pos.qty == 40000 and pos.avg_price == 11500 and pos.realized_pnl == 0
    h.new("bob", "b1", "buy", "2", "130.00")
    h.new("dan", "d3", "sell", "2", "130.00")
    pos = h.engine.account_view("dan").positions[0]
    assert pos.qty == 20000 and pos.avg_price == 11500
    assert pos.realized_pnl == 2 * 15 * USD  # (130 - 115) * 2
    h.new("bob", "b2", "buy", "2", "100.00")
    h.new("dan", "d4", "sell", "2", "100.00")
    pos = h.engine.account_view("dan").positions[0]
    assert pos.qty == 0 and pos.avg_price is None
    assert pos.realized_pnl == 30 * USD - 30 * USD


def test_risk_exempt_account_skips_reservations(h: Harness) -> None:
    h.open("replay", cash=0, btc=0, exempt=True)
    h.new("replay", "r1", "sell", "5", "100.00")
    h.new("bob", "b1", "buy", "5", "100.00")
    view = h.engine.account_view("replay")
    assert view.cash == 500 * USD and view.positions[0].qty == -50000
    h.new("replay", "r2", "buy", "10", "100.00")
    h.new("alice", "a1", "sell", "10", "90.00")
    view = h.engine.account_view("replay")
    assert view.positions[0].qty == 50000 and view.cash == 500 * USD - 1000 * USD
    # the short of 5 at 100 was closed at 100 (maker price): no P&L
    assert view.positions[0].realized_pnl == 0 and view.positions[0].avg_price == 10000


def test_starting_inventory_takes_the_cost_basis_given(h: Harness) -> None:
    # 2 BTC booked at 100.00: avg price 100.00; selling one at 101.00 realizes 1.00.
    positions = (("BTC-USD", 20000), ("ETH-USD", 5))
    h.do(
        OpenAccount("sam", 0, positions, costs=(("BTC-USD", 200 * USD), ("ETH-USD", -1), ("X", 9)))
    )
    view = h.engine.account_view("sam")
    pos = {p.symbol: p for p in view.positions}
    assert pos["BTC-USD"].avg_price == 10000
    assert pos["ETH-USD"].avg_price == 0  # a negative basis is ignored: cost 0 as before
    h.new("sam", "s1", "sell", "1", "101.00")
    h.new("bob", "b1", "buy", "1", "101.00")
    pos = {p.symbol: p for p in h.engine.account_view("sam").positions}
    assert pos["BTC-USD"].realized_pnl == 1 * USD and pos["BTC-USD"].avg_price == 10000


def test_a_cost_without_a_starting_position_is_ignored(h: Harness) -> None:
    h.do(OpenAccount("tom", 0, (), costs=(("BTC-USD", 5 * USD),)))
    assert h.engine.account_view("tom").positions == ()
