"""Order entry over the real WebSocket: every op, reply shapes, idempotency, resume."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from exchange.engine import types as t
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


async def connect(srv: Any, account: str) -> OrderClient:
    return await OrderClient.connect(srv.ws_url, await login(srv.url, account))


def run_on_server(srv: Any, coro: Any) -> Any:
    """Run a coroutine on the server's own loop (for set-up the protocol has no op for)."""
    return asyncio.run_coroutine_threadsafe(coro, srv.node.loop).result(10)


async def open_orders(srv: Any, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        orders: list[dict[str, Any]] = r.json()
        return orders


async def test_session_is_first_message(live_server: Any) -> None:
    c = await connect(live_server, "alice")
    assert c.session["account"] == "alice"
    assert c.session["protocol"] == "tickwire/1"
    assert c.session["latest_exec_seq"] == 0
    assert isinstance(c.session["server_time"], int)
    await c.close()


async def test_new_order_ack_fields_and_req_id_echo(live_server: Any) -> None:
    c = await connect(live_server, "alice")
    ack = await c.request("order.new", **limit("a1", BTC, "buy", "0.5", "100.5"))
    assert ack["type"] == "order.ack"
    assert ack["client_order_id"] == "a1"
    assert ack["price"] == "100.50" and ack["qty"] == "0.5000"  # canonical decimals
    assert (
        ack["status"] == "open" and ack["leaves_qty"] == "0.5000" and ack["filled_qty"] == "0.0000"
    )
    assert ack["tif"] == "gtc" and ack["post_only"] is False and ack["duplicate"] is False
    assert ack["exec_seq"] == 1
    st = await c.request("order.status", client_order_id="a1")
    assert st["type"] == "order.status" and st["order_id"] == ack["order_id"]
    assert "duplicate" not in st
    await c.close()


async def test_retry_same_socket_new_socket_and_after_restart(live_server_factory: Any) -> None:
    srv = live_server_factory()
    token = await login(srv.url, "alice")
    c = await OrderClient.connect(srv.ws_url, token)
    order = limit("k1", BTC, "buy", "1", "99")
    first = await c.request("order.new", **order)
    again = await c.request("order.new", **order)
    assert again["duplicate"] is True and again["order_id"] == first["order_id"]
    assert "exec_seq" not in again or again["exec_seq"] is None
    await c.close()
    c2 = await OrderClient.connect(srv.ws_url, token)
    third = await c2.request("order.new", **order)
    assert third["duplicate"] is True and third["order_id"] == first["order_id"]
    await c2.close()
    port, data_dir = srv.port, srv.settings.data_dir
    srv.stop()
    srv2 = live_server_factory(port=port, data_dir=data_dir)
    c3 = await OrderClient.connect(srv2.ws_url, token)  # the signing secret survived too
    assert c3.session["latest_exec_seq"] == 1
    fourth = await c3.request("order.new", **order)
    assert fourth["duplicate"] is True and fourth["order_id"] == first["order_id"]
    assert [o["client_order_id"] for o in await open_orders(srv2, token)] == ["k1"]
    await c3.close()


async def test_key_reused_for_a_different_request_is_refused(live_server: Any) -> None:
    c = await connect(live_server, "alice")
    await c.request("order.new", **limit("k1", BTC, "buy", "1", "99"))
    rej = await c.request("order.new", **limit("k1", BTC, "buy", "2", "99"))
    assert rej["type"] == "order.reject" and rej["code"] == "DUPLICATE_CLIENT_ORDER_ID"
    st = await c.request("order.status", client_order_id="k1")
    assert st["qty"] == "1.0000"
    await c.close()


async def test_refused_request_does_not_use_up_its_key(live_server: Any) -> None:
    c = await connect(live_server, "alice")
    rej = await c.request("order.new", **limit("k2", BTC, "buy", "1", "99.999"))
    assert rej["code"] == "INVALID_PRICE"
    ack = await c.request("order.new", **limit("k2", BTC, "buy", "1", "99.99"))
    assert ack["type"] == "order.ack" and ack["duplicate"] is False
    await c.close()


async def test_fill_cancel_replace_and_cancel_all(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    b = await connect(live_server, "bob")
    await a.request("order.new", **limit("s1", BTC, "sell", "1", "101"))
    ack = await b.request("order.new", **limit("b1", BTC, "buy", "0.4", "101"))
    assert ack["type"] == "order.ack"
    b_msgs = await b.drain()
    b_fill = next(m for m in b_msgs if m["type"] == "order.fill")
    assert (
        b_fill["liquidity"] == "taker" and b_fill["price"] == "101.00" and b_fill["qty"] == "0.4000"
    )
    a_msgs = await a.drain()
    a_fill = next(m for m in a_msgs if m["type"] == "order.fill")
    assert a_fill["liquidity"] == "maker" and a_fill["leaves_qty"] == "0.6000"
    assert a_fill["trade_id"] == b_fill["trade_id"]
    # replace the rest: price change re-queues and is acked under the new key
    rep = await a.request(
        "order.replace", client_order_id="s1b", orig_client_order_id="s1", price="102"
    )
    assert (
        rep["type"] == "order.ack" and rep["client_order_id"] == "s1b" and rep["price"] == "102.00"
    )
    # cancel, then cancel again: duplicate; cancel a filled order: ORDER_NOT_OPEN
    can = await a.request("order.cancel", client_order_id="s1b")
    assert can["type"] == "order.canceled" and can["exec_seq"] is not None
    can2 = await a.request("order.cancel", client_order_id="s1b")
    assert can2["type"] == "order.canceled" and can2["duplicate"] is True
    filled = await b.request("order.cancel", client_order_id="b1")
    assert filled["type"] == "order.reject" and filled["code"] == "ORDER_NOT_OPEN"
    # cancel-all: every order's cancel, then the count
    for i in range(3):
        await a.request("order.new", **limit(f"r{i}", BTC, "buy", "0.1", f"9{i}"))
    done = await a.request("orders.cancel_all", symbol=BTC)
    assert done["type"] == "orders.canceled_all" and done["count"] == 3
    canceled = [m for m in a.inbox if m["type"] == "order.canceled"]
    assert {m["client_order_id"] for m in canceled} >= {"r0", "r1", "r2"}
    # the execution stream is gap-free on both sockets
    for c in (a, b):
        seqs = [m["exec_seq"] for m in c.stream()]
        assert seqs == list(range(1, len(seqs) + 1))
    await a.close()
    await b.close()


async def test_foreign_order_is_unknown(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    b = await connect(live_server, "bob")
    ack = await a.request("order.new", **limit("x1", BTC, "buy", "1", "50"))
    for op in ("order.cancel", "order.status"):
        rej = await b.request(op, order_id=ack["order_id"])
        assert rej["type"] == "order.reject" and rej["code"] == "UNKNOWN_ORDER"
    rej = await b.request("order.cancel", client_order_id="x1")
    assert rej["code"] == "UNKNOWN_ORDER"
    assert (await a.request("order.status", client_order_id="x1"))["status"] == "open"
    await a.close()
    await b.close()


async def test_executions_resume_replays_the_stream(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    for i in range(4):
        await a.request("order.new", **limit(f"e{i}", BTC, "buy", "0.1", f"8{i}"))
    await a.request("order.cancel", client_order_id="e0")
    await a.drain()
    live = a.stream()
    await a.close()
    c = await connect(live_server, "alice")
    assert c.session["latest_exec_seq"] == live[-1]["exec_seq"]
    done = await c.request("executions.resume", after=2)
    assert done["type"] == "executions.resumed" and done["latest_exec_seq"] == live[-1]["exec_seq"]
    replayed = [m for m in c.inbox if m.get("exec_seq") is not None]
    strip = lambda m: {k: v for k, v in m.items() if k != "req_id"}  # noqa: E731
    assert [strip(m) for m in replayed] == [strip(m) for m in live if m["exec_seq"] > 2]
    await c.close()


async def test_resume_from_before_the_kept_history_is_refused(live_server_factory: Any) -> None:
    srv = live_server_factory(exec_history=3)
    a = await connect(srv, "alice")
    for i in range(6):
        await a.request("order.new", **limit(f"h{i}", BTC, "buy", "0.1", f"7{i}"))
    err = await a.request("executions.resume", after=0)
    assert (
        err["type"] == "error"
        and err["code"] == "BAD_REQUEST"
        and "no longer kept" in err["message"]
    )
    done = await a.request("executions.resume", after=3)
    assert done["type"] == "executions.resumed" and done["latest_exec_seq"] == 6
    assert [m["exec_seq"] for m in a.inbox if m.get("exec_seq")][-3:] == [4, 5, 6]
    await a.close()


async def test_deadman_cancels_when_the_socket_goes_quiet(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    await a.request("order.new", **limit("d1", BTC, "buy", "1", "50"))
    setr = await a.request("deadman", timeout_ms=300)
    assert setr["type"] == "deadman.set" and setr["timeout_ms"] == 300
    msg = await a.recv(timeout=5)
    while msg["type"] != "order.canceled":
        msg = await a.recv(timeout=5)
    assert msg["client_order_id"] == "d1" and msg["reason"] == "deadman"
    off = await a.request("deadman", timeout_ms=0)
    assert off["timeout_ms"] == 0
    await a.close()


async def test_ping_pong(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    pong = await a.request("ping")
    assert pong["type"] == "pong" and isinstance(pong["server_time"], int)
    await a.close()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"symbol": "NOPE-USD"}, "INVALID_SYMBOL"),
        ({"price": "1e3"}, "INVALID_PRICE"),
        ({"price": "100.001"}, "INVALID_PRICE"),
        ({"price": "0"}, "INVALID_PRICE"),
        ({"price": "NaN"}, "INVALID_PRICE"),
        ({"price": "+1"}, "INVALID_PRICE"),
        ({"price": ".5"}, "INVALID_PRICE"),
        ({"qty": "0"}, "INVALID_QTY"),
        ({"qty": "0.00001"}, "INVALID_QTY"),
        ({"qty": "-1"}, "INVALID_QTY"),
        ({"qty": "9" * 30}, "INVALID_QTY"),
        ({"side": "up"}, "INVALID_SIDE"),
        ({"order_type": "trailing_stop"}, "INVALID_TYPE"),
        ({"tif": "day"}, "INVALID_TIF"),
        ({"qty": "900000", "price": "100"}, "INSUFFICIENT_FUNDS"),
        ({"side": "sell", "qty": "1000"}, "INSUFFICIENT_FUNDS"),
        ({"price": 100}, "BAD_REQUEST"),
    ],
)
async def test_reject_codes_change_nothing(
    live_server: Any, fields: dict[str, Any], code: str
) -> None:
    c = await connect(live_server, "alice")
    before = live_server.node.engine.state_hash()
    order = {**limit("bad1", BTC, "buy", "1", "100"), **fields}
    reply = await c.request("order.new", **order)
    assert reply["code"] == code, reply
    assert reply["type"] in ("order.reject", "error")
    assert live_server.node.engine.state_hash() == before
    await c.close()


async def test_business_rejects(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    b = await connect(live_server, "bob")
    rej = await a.request(
        "order.new", client_order_id="m1", symbol=BTC, side="buy", order_type="market", qty="1"
    )
    assert rej["code"] == "NO_LIQUIDITY"
    rej = await a.request(
        "order.new",
        client_order_id="m2",
        symbol=BTC,
        side="buy",
        order_type="market",
        qty="1",
        tif="gtc",
    )
    assert rej["code"] == "INVALID_TIF"
    await b.request("order.new", **limit("s1", BTC, "sell", "1", "100"))
    rej = await a.request("order.new", **limit("p1", BTC, "buy", "1", "100", post_only=True))
    assert rej["code"] == "POST_ONLY_WOULD_TAKE"
    rej = await a.request("order.new", **limit("f1", BTC, "buy", "2", "100", tif="fok"))
    assert rej["code"] == "FOK_NOT_FILLABLE"
    run_on_server(live_server, live_server.node.submit(t.SetSymbolState(BTC, "halted")))
    rej = await a.request("order.new", **limit("h1", BTC, "buy", "1", "90"))
    assert rej["code"] == "MARKET_HALTED"
    err = await a.request("order.explode")
    assert err["type"] == "error" and err["code"] == "UNKNOWN_OP"
    await a.close()
    await b.close()


async def test_self_trade_prevention(live_server: Any) -> None:
    a = await connect(live_server, "alice")
    await a.request("order.new", **limit("s1", BTC, "sell", "1", "100"))
    await a.request("order.new", **limit("b1", BTC, "buy", "1", "100"))
    msgs = await a.drain()
    canceled = [m for m in msgs if m["type"] == "order.canceled" and m["client_order_id"] == "b1"]
    assert canceled and canceled[0]["reason"] == "self_trade"
    assert not [m for m in msgs if m["type"] == "order.fill"]
    await a.close()


def test_every_op_the_codec_accepts_has_exactly_one_handler() -> None:
    from exchange.gateway.ws_orders import _HANDLERS, _ORDER_OPS, _PIPELINED
    from shared.models.ops import OP_NAMES

    assert set(_HANDLERS) == OP_NAMES
    assert _PIPELINED <= _ORDER_OPS <= OP_NAMES
