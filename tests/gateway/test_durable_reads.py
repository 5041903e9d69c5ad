"""Nothing a crash could undo is visible: reads wait for the group commit (issue 18 item 2).

With ``fsync=batch`` the engine applies an order at once while its journal record becomes
durable with the batch's fsync. A read of engine state (REST orders, the account,
``order.status``) taken in that window must not answer before the batch is durable, or a
``kill -9`` there loses an order a client has seen. A long batch window makes the window
wide enough to look into.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"
WINDOW_MS = 400.0


async def test_reads_wait_until_the_batch_is_durable(live_server_factory: Any) -> None:
    srv = live_server_factory(fsync="batch", batch_window_ms=WINDOW_MS)
    token = await login(srv.url, "alice")
    trader = await OrderClient.connect(srv.ws_url, token)
    reader = await OrderClient.connect(srv.ws_url, token)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=srv.url, headers=headers) as http:
        await trader.send({"op": "order.new", "req_id": 1, **limit("d1", BTC, "buy", "0.5", "100")})
        await asyncio.sleep(0.05)  # applied by the engine, its batch not yet durable
        reads = [
            asyncio.create_task(http.get("/api/orders/d1")),
            asyncio.create_task(http.get("/api/orders")),
            asyncio.create_task(http.get("/api/account")),
            asyncio.create_task(reader.request("order.status", client_order_id="d1")),
        ]
        await asyncio.sleep(WINDOW_MS / 1000 / 4)
        assert not any(r.done() for r in reads), "a read answered before the batch was durable"
        ack = await trader.reply_to(1)
        assert ack["type"] == "order.ack" and ack["status"] == "open"
        one, listed, account, status = await asyncio.gather(*reads)
    assert one.status_code == 200 and one.json()["order_id"] == ack["order_id"]
    assert [o["client_order_id"] for o in listed.json()] == ["d1"]
    assert account.json()["latest_exec_seq"] == ack["exec_seq"]
    assert status["type"] == "order.status" and status["order_id"] == ack["order_id"]
    await trader.close()
    await reader.close()


async def test_reads_answer_at_once_when_nothing_is_in_flight(live_server_factory: Any) -> None:
    srv = live_server_factory(fsync="batch", batch_window_ms=WINDOW_MS)
    token = await login(srv.url, "bob")
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(
        base_url=srv.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        t0 = loop.time()
        r = await http.get("/api/orders/nope")
        took = loop.time() - t0
    assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_ORDER"
    assert took < WINDOW_MS / 1000 / 2
