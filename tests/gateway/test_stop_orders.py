"""Stop and stop-limit orders end to end: real uvicorn, real ``websockets`` and ``httpx``.

Entry over the order socket and REST, the wrong-side reject, a waiting stop surviving a
restart, the trigger on the execution stream (``order.triggered`` then the fill), its
replay by ``executions.resume``, and every message the strict client models accept.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from shared.codec import decode_message
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


def stop(
    coid: str, side: str, qty: str, stop_price: str, price: str | None = None
) -> dict[str, Any]:
    return {
        "client_order_id": coid, "symbol": BTC, "side": side,
        "order_type": "stop" if price is None else "stop_limit", "qty": qty,
        "stop_price": stop_price, **({"price": price} if price is not None else {}),
    }  # fmt: skip


async def trade_at(maker: OrderClient, taker: OrderClient, price: str, tag: str) -> None:
    await maker.request("order.new", **limit(f"m{tag}", BTC, "sell", "0.1", price))
    ack = await taker.request("order.new", **limit(f"t{tag}", BTC, "buy", "0.1", price))
    assert ack["type"] == "order.ack"


async def test_stop_orders_wait_survive_a_restart_and_trigger(live_server_factory: Any) -> None:
    srv = live_server_factory()
    ta = await login(srv.url, "alice")
    a = await OrderClient.connect(srv.ws_url, ta)
    b = await OrderClient.connect(srv.ws_url, await login(srv.url, "bob"))
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "carol"))
    await trade_at(b, c, "60000", "1")  # the last trade: 60,000
    wrong = await a.request("order.new", **stop("w1", "buy", "0.1", "59999"))
    assert wrong["type"] == "order.reject" and wrong["code"] == "INVALID_PRICE"
    assert "above the last trade (60000.00)" in wrong["message"]
    ack = await a.request("order.new", **stop("s1", "buy", "0.1", "60100"))
    assert ack["type"] == "order.ack" and ack["status"] == "open"
    assert ack["order_type"] == "stop" and ack["tif"] == "ioc" and ack["price"] is None
    assert ack["stop_price"] == "60100.00" and ack["triggered"] is False
    async with httpx.AsyncClient(base_url=srv.url) as http:
        body = stop("s2", "sell", "0.1", "59000", price="58900")
        r = await http.post("/api/orders", json=body,
                            headers={"Authorization": f"Bearer {ta}", "Idempotency-Key": "s2"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["order_type"] == "stop_limit" and r.json()["stop_price"] == "59000.00"
    # the book does not show waiting stops
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.get(f"/api/book/{BTC}")
        assert r.status_code == 200
        book = r.json()
    assert book["bids"] == [] and book["asks"] == []  # two waiting stops, nothing shown
    for client in (a, b, c):
        await client.close()

    port, data_dir = srv.port, srv.settings.data_dir
    srv.stop()
    srv = live_server_factory(port=port, data_dir=data_dir)
    a = await OrderClient.connect(srv.ws_url, ta)
    b = await OrderClient.connect(srv.ws_url, await login(srv.url, "bob"))
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "carol"))
    status = await a.request("order.status", client_order_id="s1")
    assert status["stop_price"] == "60100.00" and status["triggered"] is False
    await b.request("order.new", **limit("ask", BTC, "sell", "0.5", "60200"))
    await trade_at(b, c, "60100", "2")  # reaches the stop: alice buys the 60,200 ask
    msgs = await a.drain(0.5)
    trig = next(m for m in msgs if m["type"] == "order.triggered")
    assert trig["client_order_id"] == "s1" and trig["trigger_price"] == "60100.00"
    fill = next(m for m in msgs if m["type"] == "order.fill")
    assert fill["price"] == "60200.00" and fill["liquidity"] == "taker"
    assert fill["exec_seq"] == trig["exec_seq"] + 1
    after = await a.request("order.status", client_order_id="s1")
    assert after["status"] == "filled" and after["triggered"] is True
    # the execution stream replays the trigger in its place, and every message is valid
    await a.send({"op": "executions.resume", "req_id": "r", "after": 0})
    replayed = []
    while True:
        m = await a.recv()
        if m["type"] == "executions.resumed":
            break
        replayed.append(m)
    assert [m["type"] for m in replayed] == [
        "order.ack",
        "order.ack",
        "order.triggered",
        "order.fill",
    ]
    assert [m["exec_seq"] for m in replayed] == [1, 2, 3, 4]
    for m in a.seen:
        decode_message(orjson.dumps(m))
    for client in (a, b, c):
        await client.close()
