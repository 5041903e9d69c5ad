"""Every reject code of the engine; a refused command changes nothing (state_hash)."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.engine.errors import REJECT_CODES
from exchange.engine.types import NewOrder, OrderRejected, ReplaceOrder

Harness = Any

GOOD = {"symbol": "BTC-USD", "side": "buy", "order_type": "limit", "qty": "1", "price": "100.00"}

CASES = [
    ({"symbol": "NOPE"}, "INVALID_SYMBOL"),
    ({"symbol": 3}, "INVALID_SYMBOL"),
    ({"side": "BUY"}, "INVALID_SIDE"),
    ({"side": "hold"}, "INVALID_SIDE"),
    ({"order_type": "trailing_stop"}, "INVALID_TYPE"),
    ({"tif": "day"}, "INVALID_TIF"),
    ({"order_type": "market", "price": None, "tif": "gtc"}, "INVALID_TIF"),
    ({"price": "100.001"}, "INVALID_PRICE"),  # off tick (2 decimals)
    ({"price": "0"}, "INVALID_PRICE"),
    ({"price": "0.00"}, "INVALID_PRICE"),
    ({"price": "-1"}, "INVALID_PRICE"),
    ({"price": "1e3"}, "INVALID_PRICE"),
    ({"price": "NaN"}, "INVALID_PRICE"),
    ({"price": "inf"}, "INVALID_PRICE"),
    ({"price": ".5"}, "INVALID_PRICE"),
    ({"price": "+1"}, "INVALID_PRICE"),
    ({"price": "1\n"}, "INVALID_PRICE"),
    ({"price": "9" * 30}, "INVALID_PRICE"),  # too large
    ({"price": None}, "INVALID_PRICE"),  # limit without price
    ({"order_type": "market"}, "INVALID_PRICE"),  # market with price
    ({"qty": "0"}, "INVALID_QTY"),
    ({"qty": "-1"}, "INVALID_QTY"),
    ({"qty": "0.00001"}, "INVALID_QTY"),  # off lot
    ({"qty": "1e2"}, "INVALID_QTY"),
    ({"qty": "NaN"}, "INVALID_QTY"),
    ({"qty": "9" * 25}, "INVALID_QTY"),
    ({"qty": 1}, "BAD_REQUEST"),  # a number where a string belongs
    ({"price": 100}, "BAD_REQUEST"),
    ({"post_only": "yes"}, "BAD_REQUEST"),
    ({"client_order_id": ""}, "BAD_REQUEST"),
    ({"client_order_id": "x" * 65}, "BAD_REQUEST"),
    ({"client_order_id": "has space"}, "BAD_REQUEST"),
    ({"client_order_id": "ok\n"}, "BAD_REQUEST"),
    ({"client_order_id": "é"}, "BAD_REQUEST"),
    ({"post_only": True, "tif": "ioc"}, "INVALID_TIF"),
    ({"account": "nobody"}, "INSUFFICIENT_FUNDS"),
    ({"qty": "100000000"}, "INSUFFICIENT_FUNDS"),  # 1e8 BTC at 100 > alice's cash
]


@pytest.mark.parametrize(("override", "code"), CASES)
def test_new_order_field_rejects(h: Harness, override: dict[str, Any], code: str) -> None:
    h.open("poor", cash=10**9, btc=0)
    fields: dict[str, Any] = {"account": "poor", "client_order_id": "k1", **GOOD, **override}
    before = h.engine.state_hash()
    events = h.do(NewOrder(ts=h.ts, **fields))
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].code == code, events[0]
    assert events[0].code in REJECT_CODES
    assert h.engine.state_hash() == before


def test_eth_min_qty_and_tick(h: Harness) -> None:
    base: dict[str, Any] = {
        "account": "alice",
        "client_order_id": "e1",
        "symbol": "ETH-USD",
        "side": "buy",
    }
    cases = [("0.09", "10.00", "INVALID_QTY"), ("0.10", "10.01", "INVALID_PRICE")]
    for qty, price, code in cases:
        ev = h.do(NewOrder(order_type="limit", qty=qty, price=price, ts=h.ts, **base))
        assert ev[0].code == code
    ev = h.do(NewOrder(order_type="limit", qty="0.10", price="10.05", ts=h.ts, **base))
    assert ev[0].order.qty == 10 and ev[0].order.price == 1005


def test_sell_without_inventory(h: Harness) -> None:
    h.open("empty", cash=10**12, btc=0)
    assert h.new("empty", "s1", "sell", "1", "100.00")[0].code == "INSUFFICIENT_FUNDS"
    h.new("alice", "a1", "buy", "1", "100.00")
    assert h.new("empty", "s2", "sell", "1")[0].code == "INSUFFICIENT_FUNDS"


def test_replace_rejects(h: Harness) -> None:
    h.new("alice", "a1", "buy", "2", "99.00")
    h.new("bob", "b1", "sell", "1", "99.00")  # alice filled 1 of 2
    before = h.engine.state_hash()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"orig_client_order_id": "zzz", "qty": "1"}, "UNKNOWN_ORDER"),
        ({"qty": "1"}, "INVALID_QTY"),  # not above filled
        ({"qty": "0.5"}, "INVALID_QTY"),
        ({"qty": "x"}, "INVALID_QTY"),
        ({"price": "0"}, "INVALID_PRICE"),
        ({}, "BAD_REQUEST"),
        ({"client_order_id": "bad id", "qty": "3"}, "BAD_REQUEST"),
        ({"account": "ghost", "qty": "3"}, "INSUFFICIENT_FUNDS"),
        ({"qty": "100000000000"}, "INSUFFICIENT_FUNDS"),
    ]
    for override, code in cases:
        fields: dict[str, Any] = {"account": "alice", "client_order_id": "r1"}
        fields["orig_client_order_id"] = "a1"
        fields.update(override)
        ev = h.do(ReplaceOrder(ts=h.ts, **fields))
        assert ev[0].code == code, (override, ev)
        assert h.engine.state_hash() == before
    h.new("bob", "b2", "sell", "1", "99.00")  # fills alice
    assert h.replace("alice", "r2", "a1", qty="5")[0].code == "ORDER_NOT_OPEN"
