"""DNS rebinding: ``Host`` is checked against the server's names on every request and
WebSocket handshake, and the same-host Origin rule compares the scheme as well."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from exchange.gateway.deps import host_allowed, host_name
from tests.gateway.helpers import OrderClient, login

REFUSED = {"code": "BAD_REQUEST", "message": "host not allowed"}


async def test_a_foreign_host_is_refused_on_every_path(live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for path in ("/healthz", "/api/symbols", "/md/poll?timeout=0", "/md/stream", "/"):
            r = await http.get(path, headers={"Host": "evil.example"})
            assert r.status_code == 400, (path, r.text)
            assert r.json() == REFUSED
        r = await http.post("/api/sessions", json={"account": "x"},
                            headers={"Host": f"evil.example:{live_server.port}"})  # fmt: skip
        assert r.status_code == 400
        # the names a local client uses still work, with any port
        for host in ("127.0.0.1", f"127.0.0.1:{live_server.port}", "localhost:1", "[::1]:80"):
            r = await http.get("/healthz", headers={"Host": host})
            assert r.status_code == 200, host
    assert live_server.node.engine.account_view("x") is None


async def test_two_host_headers_are_refused(live_server: Any) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
                 b"Connection: close\r\n\r\n")  # fmt: skip
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 400 ")
    writer.close()


async def test_no_host_is_not_a_browser_and_passes(live_server: Any) -> None:
    """HAProxy's health check (``option httpchk GET /healthz``) is HTTP/1.0 without Host."""
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    writer.close()


async def test_rebinding_page_is_refused_on_the_websockets(live_server: Any) -> None:
    """A page on evil.example that resolves to this server: its Origin matches its Host,
    which the same-host rule alone would accept."""
    token = await login(live_server.url, "alice")
    evil = f"evil.example:{live_server.port}"
    for path in (f"/ws?token={token}", "/ws/md"):
        with pytest.raises(InvalidStatus) as info:
            # the URL's host goes in Host; the socket goes to this server (as rebinding does)
            await websockets.connect(
                f"ws://{evil}{path}",
                origin=f"http://{evil}",  # type: ignore[arg-type]
                host="127.0.0.1",
                port=live_server.port,
            )
        assert info.value.response.status_code == 400
        assert orjson.loads(info.value.response.body) == REFUSED
    # the normal client (no Origin) and a same-host page still work
    c = await OrderClient.connect(live_server.ws_url, token)
    assert (await c.request("ping"))["type"] == "pong"
    await c.close()
    same = f"http://127.0.0.1:{live_server.port}"
    async with websockets.connect(f"{live_server.ws_url}/ws/md", origin=same) as ws:  # type: ignore[arg-type]
        await ws.send('{"op": "ping", "req_id": 1}')
        assert orjson.loads(await ws.recv())["type"] == "pong"


async def test_same_host_origin_must_match_the_scheme(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    other_scheme = f"https://127.0.0.1:{live_server.port}"
    for path in (f"/ws?token={token}", "/ws/md"):
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(f"{live_server.ws_url}{path}", origin=other_scheme)  # type: ignore[arg-type]
        assert info.value.response.status_code == 403


async def test_allowed_hosts_setting(live_server_factory: Any) -> None:
    srv = live_server_factory(allowed_hosts=("exchange.example",))
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/healthz", headers={"Host": "exchange.example"})).status_code == 200
        ok = await http.get("/healthz", headers={"Host": "Exchange.Example.:8443"})
        assert ok.status_code == 200
        assert (await http.get("/healthz")).status_code == 400  # 127.0.0.1 is not listed
    srv = live_server_factory(allowed_hosts=("*",), data_dir=srv.settings.data_dir.parent / "d2")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/healthz", headers={"Host": "anything"})).status_code == 200


def test_host_names() -> None:
    assert host_name("Example.COM:80") == "example.com"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    names = frozenset({"localhost", "::1"})
    assert host_allowed("localhost:9", names) and host_allowed("[::1]", names)
    assert not host_allowed(None, names) and not host_allowed("localhost.evil", names)
    assert host_allowed(None, None)
