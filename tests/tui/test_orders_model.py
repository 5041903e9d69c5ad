"""OrderTracker: keys before sending, exec_seq order, unanswered requests, replace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from client_tui.model.orders import OrderTracker, Portfolio, Position


def ack(coid: str, seq: int | None, **kw: Any) -> dict[str, Any]:
    msg = {
        "type": "order.ack",
        "client_order_id": coid,
        "order_id": kw.pop("order_id", "O1"),
        "symbol": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "price": "100.00",
        "qty": "2.0",
        "tif": "gtc",
        "post_only": False,
        "status": "open",
        "filled_qty": "0.0",
        "leaves_qty": "2.0",
        "duplicate": seq is None,
        "ts": 1,
    }
    if seq is not None:
        msg["exec_seq"] = seq
    msg.update(kw)
    return msg


def test_key_is_assigned_before_sending_and_shown_in_advance() -> None:
    t = OrderTracker(prefix="k")
    assert t.next_client_order_id() == "k-1"
    req = t.new_order("BTC-USD", "buy", "limit", "2.0", "100.00")
    assert req["client_order_id"] == "k-1" and req["op"] == "order.new"
    assert t.orders["k-1"].status == "pending"
    assert t.unanswered_requests() == [req]
    assert t.next_client_order_id() == "k-2"
    mkt = t.new_order("BTC-USD", "sell", "market", "1.0", "99.00", tif="ioc")
    assert "price" not in mkt


def test_ack_fill_cancel_in_exec_seq_order() -> None:
    t = OrderTracker(prefix="k", last_exec_seq=10)
    req = t.new_order("BTC-USD", "buy", "limit", "2.0", "100.00")
    assert t.apply(ack("k-1", 11, req_id=req["req_id"]))
    assert t.in_flight() == 0 and t.orders["k-1"].status == "open" and t.last_exec_seq == 11
    fill = {
        "type": "order.fill",
        "order_id": "O1",
        "client_order_id": "k-1",
        "trade_id": 5,
        "symbol": "BTC-USD",
        "side": "buy",
        "price": "100.00",
        "qty": "0.5",
        "leaves_qty": "1.5",
        "liquidity": "maker",
        "fee": "0.01",
        "ts": 2,
        "exec_seq": 12,
    }
    assert t.apply(fill)
    o = t.orders["k-1"]
    assert (o.status, o.filled_qty, o.leaves_qty) == ("partially_filled", "0.5", "1.5")
    assert not t.apply(fill)  # a replayed message is applied once
    assert len(t.fills) == 1
    gap = {**fill, "exec_seq": 14, "trade_id": 6}
    assert t.needs_resume(gap)
    assert not t.needs_resume({**fill, "exec_seq": 13})
    assert t.resting_by_price("BTC-USD", "buy") == {"100.00": Decimal("1.5")}
    creq = t.cancel("k-1")
    assert t.orders["k-1"].cancel_requested
    t.apply(
        {
            "type": "order.canceled",
            "order_id": "O1",
            "client_order_id": "k-1",
            "reason": "canceled",
            "filled_qty": "0.5",
            "ts": 3,
            "exec_seq": 13,
            "req_id": creq["req_id"],
        }
    )
    assert t.orders["k-1"].status == "canceled" and t.open_orders() == []
    assert t.in_flight() == 0


def test_replayed_ack_without_req_id_answers_the_request() -> None:
    t = OrderTracker(prefix="k")
    t.new_order("BTC-USD", "buy", "limit", "2.0", "100.00")
    assert t.in_flight() == 1
    t.apply(ack("k-1", 1))  # replayed by executions.resume: no req_id
    assert t.in_flight() == 0
    t.apply(ack("k-1", None))  # duplicate ack: current state, no exec_seq
    assert t.last_exec_seq == 1 and len(t.orders) == 1


def test_reject_and_error() -> None:
    t = OrderTracker(prefix="k")
    req = t.new_order("BTC-USD", "buy", "limit", "2.0", "100.001")
    t.apply(
        {
            "type": "order.reject",
            "req_id": req["req_id"],
            "client_order_id": "k-1",
            "code": "INVALID_PRICE",
            "message": "off tick",
        }
    )
    assert t.orders["k-1"].status == "rejected" and t.in_flight() == 0
    assert "INVALID_PRICE" in t.rejects[-1]
    assert t.open_orders() == []


def test_replace_retires_the_old_key() -> None:
    t = OrderTracker(prefix="k")
    t.new_order("BTC-USD", "buy", "limit", "2.0", "100.00")
    t.apply(ack("k-1", 1))
    req = t.replace("k-1", price="101.00")
    assert req["orig_client_order_id"] == "k-1" and req["client_order_id"] == "k-2"
    t.apply(ack("k-2", 2, price="101.00", req_id=req["req_id"]))
    assert [o.client_order_id for o in t.open_orders()] == ["k-2"]
    assert t.orders["k-1"].status == "canceled"


def test_portfolio_loads_the_account_and_marks_to_market() -> None:
    p = Portfolio()
    p.load(
        {
            "account": "a",
            "balances": {"cash": {"total": "1000.00", "available": "900.00"}},
            "positions": [
                {"symbol": "BTC-USD", "qty": "2", "avg_price": "100.00", "realized_pnl": "5.00"}
            ],
            "latest_exec_seq": 7,
        }
    )
    assert p.balances == {"cash": ("1000.00", "900.00")}
    pos = p.positions["BTC-USD"]
    assert pos.unrealized(Decimal("101.50")) == Decimal("3.00")
    assert pos.unrealized(None) is None
    assert Position("X", Decimal(0), Decimal(0), Decimal(0)).unrealized(Decimal(1)) == 0
    assert p.latest_exec_seq == 7


def test_stop_order_request_trigger_and_unknown_types() -> None:
    t = OrderTracker(prefix="k")
    req = t.new_order("BTC-USD", "buy", "stop", "2.0", "100.00", "ioc", stop_price="105.00")
    assert "price" not in req and req["stop_price"] == "105.00" and req["order_type"] == "stop"
    req = t.new_order("BTC-USD", "buy", "stop_limit", "2.0", "106.00", stop_price="105.00")
    assert (req["price"], req["stop_price"]) == ("106.00", "105.00")
    assert "stop_price" not in t.new_order(
        "BTC-USD", "sell", "limit", "1.0", "99.00", stop_price="1"
    )
    t.apply(ack("k-2", 1, order_type="stop_limit", price="106.00", stop_price="105.00",
                triggered=False))  # fmt: skip
    o = t.orders["k-2"]
    assert o.is_stop and o.waiting and not o.triggered
    assert t.resting_by_price("BTC-USD", "buy") == {}  # waiting: not in the book
    # a message type this client does not know: no crash, no change, its exec_seq taken
    assert t.apply({"type": "order.someday", "client_order_id": "k-2", "exec_seq": 2}) is False
    assert t.last_exec_seq == 2 and o.waiting
    trig = {"type": "order.triggered", "order_id": "O1", "client_order_id": "k-2",
            "symbol": "BTC-USD", "side": "buy", "order_type": "stop_limit",
            "stop_price": "105.00", "trigger_price": "105.50", "ts": 2, "exec_seq": 3}  # fmt: skip
    assert t.apply(trig) is True
    assert o.triggered and not o.waiting and o.trigger_price == "105.50"
    assert t.resting_by_price("BTC-USD", "buy") == {"106.00": Decimal("2.0")}
