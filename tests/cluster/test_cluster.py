"""Idempotency and resume across the gateways of a real cluster (the package's ``cluster``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from exchange.cluster.cluster import Cluster
from tests.cluster.helpers import offset, read_sse, ws
from tests.gateway.helpers import OrderClient, limit, login


async def test_a_retry_through_another_gateway_creates_one_order(cluster: Cluster) -> None:
    token = await login(cluster.gateway_url(0), "idem")
    order = limit("idem-1", "BTC-USD", "buy", "1", "10.00")
    a = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    first = await a.request("order.new", timeout=15, **order)
    await a.close()
    assert first["type"] == "order.ack" and not first["duplicate"], first

    # the same token works on the other gateway (shared secret), and the key is the writer's
    b = await OrderClient.connect(ws(cluster.gateway_url(1)), token)
    again = await b.request("order.new", timeout=15, **order)
    assert again["type"] == "order.ack" and again["duplicate"], again
    assert again["order_id"] == first["order_id"]
    status = await b.request("order.status", timeout=15, client_order_id="idem-1")
    assert status["order_id"] == first["order_id"] and Decimal(status["leaves_qty"]) == 1, status
    await b.close()

    # and through HAProxy, whichever gateway it picks
    c = await OrderClient.connect(ws(cluster.url), token)
    third = await c.request("order.new", timeout=15, **order)
    assert third["duplicate"] and third["order_id"] == first["order_id"], third
    # the one order's execution stream is the same on every gateway
    async with httpx.AsyncClient(timeout=10) as http:
        accounts = [
            (await http.get(f"{u}/api/account", headers={"Authorization": f"Bearer {token}"}))
            for u in (cluster.gateway_url(0), cluster.gateway_url(1))
        ]
    assert all(r.status_code == 200 for r in accounts), [r.text for r in accounts]
    assert accounts[0].json() == accounts[1].json()
    await c.close()


async def test_sse_resumes_on_another_gateway_through_haproxy(cluster: Cluster) -> None:
    first = await read_sse(cluster.gateway_url(0), None, 5)
    assert first[0][1] == "snapshot"
    last = first[-1][0]
    await asyncio.sleep(1.0)  # the simulator keeps trading: events the client misses
    cluster.kill_gateway(0)
    try:
        resumed = await read_sse(cluster.url, last, 30)  # HAProxy: only gateway 1 is left
        assert all(e[1] not in ("snapshot", "reset") for e in resumed), resumed[:3]
        offsets = [offset(e[0]) for e in resumed]
        assert offsets == list(range(offset(last) + 1, offset(last) + 1 + len(offsets)))
        assert resumed[0][0].split("-")[0] == last.split("-")[0], "same epoch"
        # exactly what a reader of gateway 1 gets from the same id
        reference = await read_sse(cluster.gateway_url(1), last, 30)
        assert reference == resumed
    finally:
        await asyncio.to_thread(cluster.start_gateway, 0)


async def test_kill_9_of_a_gateway_under_load_loses_nothing_acknowledged(cluster: Cluster) -> None:
    token = await login(cluster.gateway_url(0), "load")
    keys = [f"load-{i}" for i in range(40)]
    acked: dict[str, str] = {}
    client = await OrderClient.connect(ws(cluster.gateway_url(0)), token)

    async def send_all(c: OrderClient) -> None:
        for i, key in enumerate(keys):
            if key in acked:
                continue
            price = f"{1 + i % 5}.00"
            reply = await c.request(
                "order.new", timeout=20, **limit(key, "SOL-USD", "buy", "1", price)
            )
            assert reply["type"] == "order.ack", reply
            acked[key] = reply["order_id"]

    task = asyncio.create_task(send_all(client))
    while len(acked) < 10:
        await asyncio.sleep(0.01)
    cluster.kill_gateway(0)  # mid-stream: some orders sent but not acknowledged
    with pytest.raises(Exception):  # noqa: B017 - the socket dies however it dies
        await task
    before = dict(acked)
    try:
        # the client reconnects through HAProxy (only gateway 1 is up) and resends from the
        # first key it has no ack for; the writer deduplicates whatever gateway 0 had sent
        again = await OrderClient.connect(ws(cluster.url), token)
        retried = keys[len(before)]
        reply = await again.request("order.new", timeout=20, **limit(retried, "SOL-USD", "buy", "1", f"{1 + len(before) % 5}.00"))  # fmt: skip
        acked[retried] = reply["order_id"]
        await send_all(again)
        await again.close()
        assert {k: acked[k] for k in before} == before  # nothing acknowledged changed
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(
                f"{cluster.gateway_url(1)}/api/orders", headers={"Authorization": f"Bearer {token}"}
            )
        r.raise_for_status()
        orders = r.json()
        assert sorted(o["client_order_id"] for o in orders) == sorted(keys)  # one order per key
        assert {o["client_order_id"]: o["order_id"] for o in orders} == acked
    finally:
        await asyncio.to_thread(cluster.start_gateway, 0)
