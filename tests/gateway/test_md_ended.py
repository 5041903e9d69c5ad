"""A market-data subscription the server ends while it runs on (a cluster gateway rebuilding
its hub: ``hub.close()``): ``/ws/md`` closes with 1012 and ``/ws`` sends ``SUBSCRIPTION_ENDED``,
so clients resubscribe with ``after``; a stop still closes with 1001."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.gateway.helpers import OrderClient, login


async def _subscribed(ws: Any) -> str | None:
    """Subscribe on a /ws/md socket; the last event id of what the answer starts with."""
    await ws.send(orjson.dumps({"op": "subscribe", "req_id": 1, "channels": ["book"]}).decode())
    last = None
    while True:
        msg = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        if msg["type"] == "subscribed":
            return last
        last = msg.get("id", last)


async def _closed_with(ws: Any) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    return info.value.rcvd.code if info.value.rcvd is not None else None


async def test_a_subscription_ended_by_the_hub_closes_1012_and_errors_on_ws(
    live_server_factory: Any,
) -> None:
    srv = live_server_factory()
    md = await websockets.connect(f"{srv.ws_url}/ws/md")
    await _subscribed(md)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "ender"))
    sub = await c.request("subscribe", timeout=30, channels=["book"])
    assert sub["type"] == "subscribed", sub
    seen = await c.drain(0.3)
    ids = [m["id"] for m in seen if m.get("type", "").startswith("md.")]
    assert ids, seen

    # what the cluster gateway's hub rebuild does to the old hub, on the server's loop
    srv.node.loop.call_soon_threadsafe(srv.node.hub.close)
    assert await _closed_with(md) == 1012
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        msg = await c.recv(max(0.01, deadline - asyncio.get_running_loop().time()))
        if msg["type"] == "error":
            break
    assert msg["code"] == "SUBSCRIPTION_ENDED" and "after" in msg["message"], msg
    again = await c.request("subscribe", timeout=30, channels=["book"], after=ids[-1])
    assert again["type"] == "subscribed" and again["after"] == ids[-1], again
    assert not c.ws.close_code  # /ws (orders) stays open

    # a stop still closes market-data sockets with 1001 (going away)
    md2 = await websockets.connect(f"{srv.ws_url}/ws/md")
    await _subscribed(md2)
    stopper = asyncio.get_running_loop().run_in_executor(None, srv.stop)
    assert await _closed_with(md2) == 1001
    await stopper
