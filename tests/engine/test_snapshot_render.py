"""Snapshots round-trip (keys, history included); render gives the protocol payloads."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.engine import Engine
from exchange.engine.errors import SnapshotError
from exchange.engine.render import (
    render_account,
    render_market,
    render_order,
    render_private,
    render_snapshot,
)
from exchange.engine.types import CanceledAll, NewOrder, OrderAccepted, OrderRejected, SymbolStatus

Harness = Any


def busy(h: Harness) -> None:
    h.new("alice", "a1", "sell", "2", "100.00")
    h.new("alice", "a2", "sell", "1", "100.50")
    h.new("bob", "b1", "buy", "1", "100.00")
    h.new("bob", "b2", "buy", "1", "99.00")
    h.replace("bob", "b2r", "b2", qty="0.5")
    h.new("carol", "c1", "buy", "1", "1.00", symbol="ETH-USD")
    h.cancel("alice", "a2")


def test_snapshot_round_trip_preserves_everything(h: Harness) -> None:
    busy(h)
    data = h.engine.to_snapshot()
    restored = Engine.from_snapshot(data)
    assert restored.to_snapshot() == data
    assert restored.state_hash() == h.engine.state_hash()
    assert restored.executions_after("bob", 0) == h.engine.executions_after("bob", 0)
    # keys survived: a retry is a duplicate in the restored engine too
    retry = next(c for c in h.log if getattr(c, "client_order_id", None) == "b1")
    ev = restored.handle(retry)
    assert isinstance(ev[0], OrderAccepted) and ev[0].duplicate
    # and both engines continue identically
    nxt = NewOrder("carol", "c9", "BTC-USD", "sell", "limit", "1", "99.00", ts=h.ts + 5)
    assert restored.handle(nxt) == h.engine.handle(nxt)
    assert restored.state_hash() == h.engine.state_hash()


def test_replay_of_log_reproduces_hash(h: Harness) -> None:
    busy(h)
    fresh = Engine(list(h.engine.specs.values()))
    for cmd in h.log:
        fresh.handle(cmd)
    assert fresh.state_hash() == h.engine.state_hash()


def test_bad_snapshot_raises() -> None:
    with pytest.raises(SnapshotError):
        Engine.from_snapshot(b"not json")
    with pytest.raises(SnapshotError):
        Engine.from_snapshot(b'{"version": 99}')


def test_executions_after(h: Harness) -> None:
    busy(h)
    stream = h.engine.executions_after("bob", 0)
    assert [e.exec_seq for e in stream] == list(range(1, h.engine.latest_exec_seq("bob") + 1))
    assert [e.exec_seq for e in h.engine.executions_after("bob", 2)] == [3, 4]
    assert h.engine.executions_after("bob", 99) == []


def test_exec_history_is_bounded(make_harness: Any) -> None:
    h = make_harness(exec_history=3)
    h.open("alice")
    for i in range(5):
        h.new("alice", f"a{i}", "buy", "1", "10.00")
    assert h.engine.earliest_exec_seq("alice") == 3
    assert [e.exec_seq for e in h.engine.executions_after("alice", 0)] == [3, 4, 5]


def test_render_private_payloads(h: Harness) -> None:
    h.new("alice", "a1", "sell", "2", "100.00")
    ev = h.new("bob", "b1", "buy", "1.5", "100.50")
    ack = render_private(ev[0], h.engine)
    assert ack == {
        "type": "order.ack",
        "client_order_id": "b1",
        "order_id": "O2",
        "symbol": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "price": "100.50",
        "qty": "1.5000",
        "tif": "gtc",
        "post_only": False,
        "status": "open",
        "filled_qty": "0.0000",
        "leaves_qty": "1.5000",
        "duplicate": False,
        "ts": ev[0].order.ts,
        "exec_seq": 1,
    }
    fill = render_private(ev[1], h.engine)
    assert fill["type"] == "order.fill" and fill["price"] == "100.00" and fill["fee"] == "0.000000"
    assert fill["leaves_qty"] == "0.0000" and fill["liquidity"] == "taker"
    dup = render_private(h.new("bob", "b1", "buy", "1.5", "100.50")[0], h.engine)
    assert dup["duplicate"] is True and "exec_seq" not in dup and dup["status"] == "filled"
    cancel = render_private(h.cancel("alice", "a1")[0], h.engine)
    assert cancel["type"] == "order.canceled" and cancel["filled_qty"] == "1.5000"
    rej = render_private(OrderRejected("bob", "x", "INVALID_QTY", "m"), h.engine)
    assert rej == {
        "type": "order.reject",
        "client_order_id": "x",
        "code": "INVALID_QTY",
        "message": "m",
    }
    assert render_private(CanceledAll("bob", 2), h.engine) == {
        "type": "orders.canceled_all",
        "count": 2,
    }
    with pytest.raises(TypeError):
        render_private(SymbolStatus("BTC-USD", "open", 0), h.engine)


def test_render_market_and_views(h: Harness) -> None:
    h.new("alice", "a1", "sell", "2", "100.00")
    ev = h.new("bob", "b1", "buy", "1", "100.00")
    names = [render_market(e, h.engine)[0] for e in ev[3:]]
    assert names == ["trade", "book", "ticker", "candle", "candle"]
    trade = render_market(ev[3], h.engine)[1]
    assert trade == {
        "symbol": "BTC-USD",
        "trade_id": 1,
        "price": "100.00",
        "qty": "1.0000",
        "taker_side": "buy",
        "ts": ev[3].ts,
    }
    book = render_market(ev[4], h.engine)[1]
    assert book["asks"] == [["100.00", "1.0000"]] and book["first_seq"] == book["seq"] == 2
    ticker = render_market(ev[5], h.engine)[1]
    assert ticker["bid"] is None and ticker["ask"] == "100.00" and ticker["volume"] == "1.0000"
    candle = render_market(ev[6], h.engine)[1]
    assert candle["interval"] == "1s" and candle["o"] == "100.00" and candle["closed"] is False
    snap = render_snapshot(h.engine.book_snapshot("BTC-USD"), h.engine)
    assert snap["asks"] == [["100.00", "1.0000"]] and snap["last_trade_id"] == 1
    assert set(snap) == {"symbol", "seq", "bids", "asks", "last_trade_id", "checksum"}
    order = render_order(h.engine.find_order("alice", "a1"), h.engine)
    assert order["status"] == "partially_filled" and order["filled_qty"] == "1.0000"
    acct = render_account(h.engine.account_view("bob"), h.engine)
    assert acct["account"] == "bob" and acct["latest_exec_seq"] == 2
    assert acct["positions"][0]["symbol"] == "BTC-USD"
    assert acct["balances"]["cash"]["total"].endswith(".000000")
