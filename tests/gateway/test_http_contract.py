"""HTTP as third-party tools read it: HEAD on every GET route, the API's own 404/405 (never
the UI's file server), and the dead-man limit the contract states (issue 18 item 10)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.helpers import OrderClient, login

HEAD_ROUTES = (
    ("/healthz", "application/json"),
    ("/api/symbols", "application/json"),
    ("/api/book/BTC-USD", "application/json"),
    ("/api/trades/BTC-USD", "application/json"),
    ("/md/poll?timeout=5", "application/json"),
    ("/md/stream", "text/event-stream"),
    ("/metrics", "text/plain"),
)


async def test_head_answers_every_get_route_without_a_body(live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=5) as http:
        for path, media in HEAD_ROUTES:
            r = await http.head(path)
            assert r.status_code == 200, (path, r.status_code)
            assert r.headers["content-type"].startswith(media), (path, r.headers)
            assert r.content == b"", path
        r = await http.head("/api/book/NOPE-USD")
        assert r.status_code == 404 and r.content == b""
        r = await http.head("/md/stream?channels=nope")
        assert r.status_code == 400


async def test_the_api_answers_for_its_own_paths(live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/api/symbols")
        assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
        assert "GET" in r.headers["allow"]
        r = await http.delete("/healthz")
        assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
        r = await http.get("/api/no-such-route")
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
        r = await http.get("/")  # the UI is still served
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]


async def test_deadman_accepts_up_to_one_day(live_server: Any) -> None:
    c = await OrderClient.connect(live_server.ws_url, await login(live_server.url, "dm"))
    ok = await c.request("deadman", timeout_ms=86_400_000)
    assert ok["type"] == "deadman.set" and ok["timeout_ms"] == 86_400_000
    bad = await c.request("deadman", timeout_ms=86_400_001)
    assert bad["type"] == "error" and bad["code"] == "BAD_REQUEST"
    off = await c.request("deadman", timeout_ms=0)
    assert off["type"] == "deadman.set" and off["timeout_ms"] == 0
    await c.close()
