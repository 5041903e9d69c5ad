"""The fault drills' server-side hook (``drill`` op, docs/drills.md) over the real socket:
off by default and refused, on only with ``--drills``, and it faults only the connection
that asked (another connection of the account, or another account, sees nothing change)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from exchange.config import ConfigError, Settings
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


async def test_drill_is_refused_when_the_server_has_no_drills(live_server: Any) -> None:
    c = await OrderClient.connect(live_server.ws_url, await login(live_server.url, "alice"))
    reply = await c.request("drill", fault="withhold_ack", count=1)
    assert reply["type"] == "error" and reply["code"] == "BAD_REQUEST"
    assert "--drills" in reply["message"]
    # nothing was armed: the next order's ack comes as always
    ack = await c.request("order.new", **limit("d0", BTC, "buy", "1", "90"))
    assert ack["type"] == "order.ack" and ack["exec_seq"] == 1
    await c.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"fault": "drop_everything"},
        {"fault": "withhold_ack", "count": -1},
        {"fault": "withhold_ack", "count": 101},
        {"fault": "withhold_ack", "count": "1"},
        {"count": 1},
    ],
)
async def test_malformed_drill_is_a_bad_request(
    live_server_factory: Any, bad: dict[str, Any]
) -> None:
    srv = live_server_factory(drills=True)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "alice"))
    reply = await c.request("drill", **bad)
    assert reply["type"] == "error" and reply["code"] == "BAD_REQUEST"
    ack = await c.request("order.new", **limit("d1", BTC, "buy", "1", "90"))
    assert ack["type"] == "order.ack"  # a refused drill armed nothing
    await c.close()


async def test_withheld_ack_reaches_only_the_connection_that_asked(
    live_server_factory: Any,
) -> None:
    srv = live_server_factory(drills=True)
    token = await login(srv.url, "alice")
    c = await OrderClient.connect(srv.ws_url, token)
    other = await OrderClient.connect(srv.ws_url, token)  # the same account, another socket
    bob = await OrderClient.connect(srv.ws_url, await login(srv.url, "bob"))
    armed = await c.request("drill", fault="withhold_ack", count=1)
    assert armed == {
        "type": "drill.set",
        "req_id": armed["req_id"],
        "fault": "withhold_ack",
        "count": 1,
    }
    order = limit("w1", BTC, "buy", "1", "90")
    await c.send({"op": "order.new", "req_id": 77, **order})
    with pytest.raises(TimeoutError):
        await c.recv(0.5)  # the ack was withheld from this socket
    # ... but it was executed, and is in the account's execution stream
    seen = await other.recv()
    assert seen["type"] == "order.ack" and seen["client_order_id"] == "w1" and seen["exec_seq"] == 1
    assert "req_id" not in seen
    # a resume on the faulted socket replays it
    await c.send({"op": "executions.resume", "req_id": "r", "after": 0})
    replayed = await c.recv()
    assert replayed["type"] == "order.ack" and replayed["exec_seq"] == 1
    assert (await c.recv())["type"] == "executions.resumed"
    # a retry with the same key is a duplicate of that one order, not a second order
    again = await c.request("order.new", **order)
    assert again["duplicate"] is True and again["order_id"] == seen["order_id"]
    # only one ack was armed: the next one comes
    ack = await c.request("order.new", **limit("w2", BTC, "buy", "1", "91"))
    assert ack["type"] == "order.ack" and ack["exec_seq"] == 2
    # bob (another account) saw nothing of it, and his own acks are not withheld
    assert await bob.drain(0.2) == []
    bob_ack = await bob.request("order.new", **limit("b1", BTC, "sell", "1", "200"))
    assert bob_ack["type"] == "order.ack"
    for conn in (c, other, bob):
        await conn.close()


async def test_drill_count_zero_disarms(live_server_factory: Any) -> None:
    srv = live_server_factory(drills=True)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "alice"))
    await c.request("drill", fault="withhold_ack", count=3)
    disarmed = await c.request("drill", fault="withhold_ack", count=0)
    assert disarmed["count"] == 0
    ack = await c.request("order.new", **limit("z1", BTC, "buy", "1", "90"))
    assert ack["type"] == "order.ack"
    await c.close()


async def test_a_new_connection_starts_without_faults(live_server_factory: Any) -> None:
    srv = live_server_factory(drills=True)
    token = await login(srv.url, "alice")
    c = await OrderClient.connect(srv.ws_url, token)
    await c.request("drill", fault="withhold_ack", count=5)
    await c.close()
    await asyncio.sleep(0.05)
    c2 = await OrderClient.connect(srv.ws_url, token)
    ack = await c2.request("order.new", **limit("n1", BTC, "buy", "1", "90"))
    assert ack["type"] == "order.ack"
    await c2.close()


def test_drills_need_demo_login() -> None:
    with pytest.raises(ConfigError, match="demo servers only"):
        Settings(drills=True, demo_login=False)
    assert Settings().drills is False
