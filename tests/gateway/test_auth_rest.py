"""Auth (tokens, origin), account isolation and the REST endpoints of PROTOCOL.md section 6."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from exchange.compiled import engine_build
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_ws_handshake_refused_with_401_before_upgrade(live_server: Any) -> None:
    secret = live_server.node.meta.secret
    expired = jwt.encode(
        {"sub": "alice", "aud": "tickwire", "exp": int(time.time()) - 5}, secret, "HS256"
    )
    forged = jwt.encode(
        {"sub": "alice", "aud": "tickwire", "exp": int(time.time()) + 60}, b"x" * 32, "HS256"
    )
    for query in ("", "?token=", f"?token={expired}", f"?token={forged}", "?token=not.a.jwt"):
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(f"{live_server.ws_url}/ws{query}")
        assert info.value.response.status_code == 401
    # the header works as well as the query parameter
    token = await login(live_server.url, "alice")
    async with websockets.connect(
        f"{live_server.ws_url}/ws", additional_headers=bearer(token)
    ) as ws:
        assert b'"session"' in (await ws.recv()).encode()


async def test_origin_checked_against_allowed_list(live_server_factory: Any) -> None:
    srv = live_server_factory(allowed_origins=("https://good.example",))
    token = await login(srv.url, "alice")
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(f"{srv.ws_url}/ws?token={token}", origin="https://evil.example")
    assert info.value.response.status_code == 403
    async with websockets.connect(
        f"{srv.ws_url}/ws?token={token}", origin="https://good.example"
    ) as ws:
        assert "session" in await ws.recv()


async def test_same_host_origin_allowed_by_default(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    host = f"http://127.0.0.1:{live_server.port}"
    async with websockets.connect(f"{live_server.ws_url}/ws?token={token}", origin=host) as ws:
        assert "session" in await ws.recv()
    with pytest.raises(InvalidStatus):
        await websockets.connect(f"{live_server.ws_url}/ws?token={token}", origin="http://other:1")


async def test_rest_requires_token_and_isolates_accounts(live_server: Any) -> None:
    ta = await login(live_server.url, "alice")
    tb = await login(live_server.url, "bob")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for path in ("/api/account", "/api/orders", "/api/orders/x"):
            r = await http.get(path)
            assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
        r = await http.post("/api/orders", json=limit("a1", BTC, "buy", "1", "10"),
                            headers={**bearer(ta), "Idempotency-Key": "a1"})  # fmt: skip
        assert r.status_code == 201 and r.json()["type"] == "order.ack"
        # bob sees nothing of alice's and cannot cancel it
        assert (await http.get("/api/orders", headers=bearer(tb))).json() == []
        assert (await http.get("/api/orders/a1", headers=bearer(tb))).status_code == 404
        r = await http.delete("/api/orders/a1", headers=bearer(tb))
        assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_ORDER"
        mine = (await http.get("/api/orders", headers=bearer(ta))).json()
        assert [o["client_order_id"] for o in mine] == ["a1"]
        acct = (await http.get("/api/account", headers=bearer(ta))).json()
        assert acct["account"] == "alice" and acct["latest_exec_seq"] == 1
        assert {p["symbol"] for p in acct["positions"]} >= {BTC}


async def test_rest_idempotency_rules(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    body = limit("k1", BTC, "buy", "1", "10")
    async with httpx.AsyncClient(base_url=live_server.url, headers=bearer(token)) as http:
        r1 = await http.post("/api/orders", json=body, headers={"Idempotency-Key": "k1"})
        r2 = await http.post("/api/orders", json=body, headers={"Idempotency-Key": "k1"})
        assert (r1.status_code, r2.status_code) == (201, 200)
        assert r2.json()["duplicate"] is True and r2.json()["order_id"] == r1.json()["order_id"]
        r3 = await http.post(
            "/api/orders", json={**body, "qty": "2"}, headers={"Idempotency-Key": "k1"}
        )
        assert r3.status_code == 409 and r3.json()["code"] == "DUPLICATE_CLIENT_ORDER_ID"
        r4 = await http.post("/api/orders", json=body, headers={"Idempotency-Key": "other"})
        assert r4.status_code == 400
        r5 = await http.post("/api/orders", json=body)
        assert r5.status_code == 400
        # the same key over the WebSocket is the same order
        c = await OrderClient.connect(live_server.ws_url, token)
        dup = await c.request("order.new", **body)
        assert dup["duplicate"] is True and dup["order_id"] == r1.json()["order_id"]
        await c.close()
        r6 = await http.delete("/api/orders/k1")
        assert r6.status_code == 200 and r6.json()["type"] == "order.canceled"
        r7 = await http.delete("/api/orders/k1")
        assert r7.status_code == 200 and r7.json()["duplicate"] is True
        one = (await http.get("/api/orders/k1")).json()
        assert one["status"] == "canceled"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1,2]", b'{"symbol": "BTC-USD"}', b'{"op": "order.new"}', b'{"qty": 1}'],
)
async def test_rest_bad_bodies_change_nothing(live_server: Any, body: bytes) -> None:
    token = await login(live_server.url, "alice")
    before = live_server.node.engine.state_hash()
    async with httpx.AsyncClient(base_url=live_server.url, headers=bearer(token)) as http:
        r = await http.post(
            "/api/orders",
            content=body,
            headers={"Idempotency-Key": "z1", "Content-Type": "application/json"},
        )
    assert r.status_code == 400 and set(r.json()) == {"code", "message"}
    assert live_server.node.engine.state_hash() == before


async def test_sessions_validation_and_public_endpoints(live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for bad in ({}, {"account": ""}, {"account": "a b"}, {"account": 5}, {"account": "x" * 33}):
            r = await http.post("/api/sessions", json=bad)
            assert r.status_code in (400, 422) and "code" in r.json()
        r = await http.post("/api/sessions", json={"account": "carol"})
        # whole seconds since the epoch, the token's lifetime from now (not nanoseconds)
        ttl = live_server.node.settings.token_ttl_s
        assert r.status_code == 200 and abs(r.json()["expires_at"] - time.time() - ttl) < 60
        # the document declares the answer (the conformance test holds the server to it)
        doc = (await http.get("/openapi.json")).json()
        ok = doc["paths"]["/api/sessions"]["post"]["responses"]["200"]["content"]
        assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/SessionResponse"}
        assert (
            doc["components"]["schemas"]["SessionResponse"]["properties"]["expires_at"]["minimum"]
            == 0
        )
        syms = (await http.get("/api/symbols")).json()
        assert {s["symbol"] for s in syms} == {"BTC-USD", "ETH-USD", "SOL-USD"}
        assert (await http.get("/api/trades/BTC-USD", params={"limit": 5})).json() == []
        assert (await http.get("/api/candles/BTC-USD", params={"interval": "1s"})).json() == []
        assert (
            await http.get("/api/candles/BTC-USD", params={"interval": "5m"})
        ).status_code == 400
        assert (await http.get("/api/trades/NOPE")).status_code == 404
        health = (await http.get("/healthz")).json()
        assert health["status"] == "ok"
        assert health["engine"] == engine_build()  # what this process imported
        assert health["engine"].startswith(("compiled", "pure ("))
        metrics = (await http.get("/metrics")).text
        assert "tickwire_connections" in metrics and "tickwire_order_ack_seconds" in metrics
        assert (await http.get("/docs")).status_code == 200
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "tickwire"


async def test_trades_and_candles_fill_from_the_market(live_server_factory: Any) -> None:
    srv = live_server_factory(sim_rate=50.0)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        deadline = time.monotonic() + 10
        trades: list[Any] = []
        while time.monotonic() < deadline and len(trades) < 3:
            trades = (await http.get("/api/trades/BTC-USD", params={"limit": 50})).json()
        assert len(trades) >= 3
        ids = [t["trade_id"] for t in trades]
        assert ids == sorted(ids) and ids == list(range(ids[0], ids[0] + len(ids)))
        candles = (await http.get("/api/candles/BTC-USD", params={"interval": "1s"})).json()
        assert candles and all(c["interval"] == "1s" for c in candles)


async def test_no_session_for_the_simulators_accounts(live_server: Any) -> None:
    """The simulator's ``sim-*`` accounts keep idempotency keys 120 s, not the 24 h PROTOCOL
    promises: a trader may not log in as one (nor is such an account opened)."""
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/api/sessions", json={"account": "sim-mm1"})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "BAD_REQUEST" and "simulator" in r.json()["message"]
        assert "token" not in r.json()
        assert live_server.node.engine.account_view("sim-newcomer") is None
        r = await http.post("/api/sessions", json={"account": "sim-newcomer"})
        assert r.status_code == 400 and live_server.node.engine.account_view("sim-newcomer") is None
        ok = await http.post("/api/sessions", json={"account": "simon"})  # only the prefix
        assert ok.status_code == 200 and ok.json()["token"]
