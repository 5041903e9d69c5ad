"""Issue 18's abuse cases: REST takes no ``?token=``, binary frames on ``/ws`` change
nothing, per-account rejects do not close a socket, per-address limits on new accounts and on
orders, and demo login (anyone as anyone) refused on a public address without an opt-in."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rest_takes_the_bearer_header_only(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for path in ("/api/account", "/api/orders"):
            r = await http.get(path, params={"token": token})
            assert r.status_code == 401, r.text
            assert r.json()["code"] == "UNAUTHORIZED" and "Authorization" in r.json()["message"]
            assert (await http.get(path, headers=bearer(token))).status_code == 200
        r = await http.delete("/api/orders/x", params={"token": token})
        assert r.status_code == 401


async def test_a_binary_order_frame_is_refused_and_changes_nothing(live_server: Any) -> None:
    c = await OrderClient.connect(live_server.ws_url, await login(live_server.url, "alice"))
    before = live_server.node.engine.state_hash()
    order = {"op": "order.new", "req_id": 1, **limit("b1", BTC, "buy", "1", "10")}
    await c.send(orjson.dumps(order))  # bytes: a binary frame
    reply = await c.recv()
    assert reply["type"] == "error" and reply["code"] == "BAD_REQUEST"
    assert "text frames only" in reply["message"]
    status = await c.request("order.status", client_order_id="b1")
    assert status["type"] == "order.reject" and status["code"] == "UNKNOWN_ORDER"
    assert live_server.node.engine.state_hash() == before
    # the same message as a text frame is executed, with the same key (not used up)
    ack = await c.request("order.new", **limit("b1", BTC, "buy", "1", "10"))
    assert ack["type"] == "order.ack" and ack["duplicate"] is False
    await c.close()


async def test_new_accounts_per_address_are_limited(live_server_factory: Any) -> None:
    srv = live_server_factory(account_create_rate=0.01, account_create_burst=5)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        codes = []
        for i in range(8):
            r = await http.post("/api/sessions", json={"account": f"new-{i}"})
            codes.append(r.status_code)
        assert codes == [200] * 5 + [429] * 3
        assert r.json()["code"] == "RATE_LIMITED"
        assert srv.node.engine.account_view("new-7") is None  # nothing opened
        # logging in again to an account already opened is not limited
        for _ in range(3):
            r = await http.post("/api/sessions", json={"account": "new-0"})
            assert r.status_code == 200 and r.json()["token"]


async def test_orders_per_address_are_limited_across_accounts(live_server_factory: Any) -> None:
    """Many accounts from one address share the address's order budget (the per-account
    limit alone would let a client multiply its rate by opening accounts)."""
    srv = live_server_factory(ip_order_rate=0.01, ip_order_burst=6)
    clients = [
        await OrderClient.connect(srv.ws_url, await login(srv.url, f"acct-{i}")) for i in range(3)
    ]
    replies = []
    for n in range(4):
        for c in clients:
            replies.append(await c.request("order.new", **limit(f"o{n}", BTC, "buy", "1", "1")))
    kinds = [(m["type"], m.get("code")) for m in replies]
    assert kinds.count(("order.ack", None)) == 6
    assert kinds.count(("order.reject", "RATE_LIMITED")) == 6
    async with httpx.AsyncClient(base_url=srv.url) as http:  # REST shares the budget
        token = await login(srv.url, "acct-0")
        r = await http.post("/api/orders", json=limit("r1", BTC, "buy", "1", "1"),
                            headers={**bearer(token), "Idempotency-Key": "r1"})  # fmt: skip
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
    for c in clients:
        await c.close()


async def test_account_limit_rejects_do_not_close_the_socket(live_server_factory: Any) -> None:
    """Ten sockets of one account, each well under its own limit, together over the
    account's: the excess is refused, and no socket is closed for abuse."""
    srv = live_server_factory(account_rate=5.0, account_burst=5.0, abuse_limit=3)
    token = await login(srv.url, "alice")
    clients = [await OrderClient.connect(srv.ws_url, token) for _ in range(10)]
    replies = []
    for n in range(5):
        for i, c in enumerate(clients):
            coid = f"c{i}-{n}"
            replies.append(await c.request("order.new", **limit(coid, BTC, "buy", "1", "1")))
    limited = [m for m in replies if m.get("code") == "RATE_LIMITED"]
    assert len(limited) >= 30  # far more in a row than abuse_limit on several sockets
    for c in clients:  # every socket still open and answering
        assert (await c.request("ping"))["type"] == "pong"
        await c.close()
