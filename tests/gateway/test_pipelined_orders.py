"""Orders a connection sends together share one group commit (issue 16).

The reader used to await each order's durability before reading the next frame, so a
connection with 20 orders in flight paid 20 fsync windows in a row. Now the reader hands
each order to the sequencer and goes on; the acks are released, in order, with the batch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"
WINDOW_MS = 300.0
ORDERS = 20


async def test_a_burst_from_one_connection_is_one_group_commit(live_server_factory: Any) -> None:
    srv = live_server_factory(
        fsync="batch", batch_window_ms=WINDOW_MS, conn_burst=1000.0, account_burst=1000.0
    )
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "burst"))
    loop = asyncio.get_running_loop()
    frames = [
        orjson.dumps({"op": "order.new", "req_id": i, **limit(f"b{i}", BTC, "buy", "0.1", "100")})
        for i in range(ORDERS)
    ]
    t0 = loop.time()
    for frame in frames:
        await c.ws.send(frame.decode())
    acks = [await c.reply_to(i, timeout=30) for i in range(ORDERS)]
    took = loop.time() - t0
    assert [a["type"] for a in acks] == ["order.ack"] * ORDERS
    seqs = [a["exec_seq"] for a in acks]
    assert seqs == sorted(seqs) and len(set(seqs)) == ORDERS  # released in order
    # one or two windows (the burst may straddle a commit), never one per order
    assert took < 3 * WINDOW_MS / 1000, f"{ORDERS} orders took {took:.2f} s"
    # and a read after them waits for nothing more: they are all durable
    st = await c.request("order.status", client_order_id=f"b{ORDERS - 1}")
    assert st["type"] == "order.status" and st["status"] == "open"
    await c.close()


async def test_replies_keep_request_order_on_a_connection(live_server_factory: Any) -> None:
    """What follows pipelined orders (a ping, a malformed frame, a status) is answered after
    their replies, never before."""
    srv = live_server_factory(fsync="batch", batch_window_ms=WINDOW_MS)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "order"))
    new = {"op": "order.new", "req_id": 1, **limit("o1", BTC, "buy", "0.1", "100")}
    await c.ws.send(orjson.dumps(new).decode())
    await c.ws.send('{"op": "ping", "req_id": 2}')
    await c.ws.send("not json")
    await c.ws.send('{"op": "order.status", "req_id": 3, "client_order_id": "o1"}')
    got = [await c.recv(10) for _ in range(4)]
    assert [m["type"] for m in got] == ["order.ack", "pong", "error", "order.status"], got
    assert got[0]["req_id"] == 1 and got[1]["req_id"] == 2 and got[3]["status"] == "open"
    await c.close()
