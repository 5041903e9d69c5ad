"""Connection limits at the uvicorn edge (``exchange.gateway.edge``), on real sockets: an
oversized or endless request head, too many header lines, a slow head (slowloris), too many
connections from one address or in all, and idle ``/ws/md`` sockets. Each refusal is a status
line and a closed socket, and a normal request still works afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.gateway.helpers import OrderClient, login


async def _open(srv: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", srv.port)


async def _answer(reader: asyncio.StreamReader, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (fails if it does not)."""
    return await asyncio.wait_for(reader.read(), timeout)


def _status(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1.1 "), answer[:200]
    return int(line.split()[1])


def _body(answer: bytes) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
    return body


async def _still_serves(srv: Any) -> None:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/healthz")).status_code == 200


async def _closed_by_server(reader: asyncio.StreamReader) -> None:
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_an_oversized_header_block_is_refused_with_431(live_server_factory: Any) -> None:
    srv = live_server_factory(max_header_bytes=4096)
    reader, writer = await _open(srv)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    sent = 0
    with contextlib.suppress(ConnectionError):  # the server may close while we still write
        for i in range(200):  # 200 * 200 bytes = 40 KB of header lines, 10x the limit
            writer.write(b"X-Pad-%d: %s\r\n" % (i, b"a" * 190))
            await writer.drain()
            sent += 200
    answer = await _answer(reader)
    assert _status(answer) == 431
    assert _body(answer)["code"] == "HEADERS_TOO_LARGE"
    writer.close()
    await _still_serves(srv)


async def test_one_endless_header_line_is_cut_off(live_server_factory: Any) -> None:
    """A single header line that never ends never reaches a header callback: the bytes
    received while the head is open are what is counted."""
    srv = live_server_factory(max_header_bytes=8192)
    reader, writer = await _open(srv)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
    with contextlib.suppress(ConnectionError):
        for _ in range(64):  # 64 KiB, never a line end
            writer.write(b"b" * 1024)
            await writer.drain()
    answer = await _answer(reader)
    assert _status(answer) == 431
    writer.close()
    await _still_serves(srv)


async def test_too_many_header_lines_are_refused_with_431(live_server_factory: Any) -> None:
    srv = live_server_factory(max_header_count=20)
    reader, writer = await _open(srv)
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += b"".join(b"X-H%d: 1\r\n" % i for i in range(30)) + b"\r\n"
    writer.write(head)
    answer = await _answer(reader)
    assert _status(answer) == 431
    assert "header lines" in _body(answer)["message"]
    writer.close()
    # a request with a few headers under the limit is served
    reader, writer = await _open(srv)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\nConnection: close\r\n\r\n")
    assert _status(await _answer(reader)) == 200
    writer.close()


async def test_a_slow_partial_head_is_answered_408_and_closed(live_server_factory: Any) -> None:
    srv = live_server_factory(header_timeout_s=0.5)
    reader, writer = await _open(srv)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    answer = await _answer(reader, timeout=5)
    assert _status(answer) == 408
    assert _body(answer)["code"] == "REQUEST_TIMEOUT"
    writer.close()
    # a connection that sends nothing at all is cut as well
    reader, writer = await _open(srv)
    assert _status(await _answer(reader, timeout=5)) == 408
    writer.close()
    # the timer stops at a complete head: a slow app answer is not cut
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.get("/md/poll", params={"timeout": "1", "cursor": await _cursor(http)})
        assert r.status_code == 200


async def _cursor(http: httpx.AsyncClient) -> str:
    r = await http.get("/md/poll", params={"timeout": "0"})
    cursor: str = r.json()["cursor"]
    return cursor


async def test_connections_per_address_are_capped(live_server_factory: Any) -> None:
    srv = live_server_factory(max_connections_per_ip=3)
    held = []
    for _ in range(3):
        held.append(await _open(srv))
    reader, writer = await _open(srv)
    answer = await _answer(reader, timeout=5)
    assert _status(answer) == 503
    assert _body(answer)["code"] == "TOO_MANY_CONNECTIONS"
    writer.close()
    for _, w in held:
        w.close()
        await w.wait_closed()
    await _wait_registry_empty(srv)
    await _still_serves(srv)


async def test_websockets_count_across_the_upgrade(live_server_factory: Any) -> None:
    """An upgraded socket still holds its slot, and gives it back when it closes."""
    srv = live_server_factory(max_connections_per_ip=2)
    token = await login(srv.url, "alice")
    await _wait_registry_empty(srv)  # the login's connection is gone
    a = await OrderClient.connect(srv.ws_url, token)
    b = await websockets.connect(f"{srv.ws_url}/ws/md")
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(f"{srv.ws_url}/ws/md")
    assert info.value.response.status_code == 503
    await a.close()
    await b.close()
    await _wait_registry_empty(srv)
    c = await OrderClient.connect(srv.ws_url, token)
    assert (await c.request("ping"))["type"] == "pong"
    await c.close()


async def test_total_connections_are_capped(live_server_factory: Any) -> None:
    srv = live_server_factory(max_connections=2, max_connections_per_ip=0)
    held = [await _open(srv), await _open(srv)]
    reader, writer = await _open(srv)
    answer = await _answer(reader, timeout=5)
    assert _status(answer) == 503
    assert "limit of 2 connections" in _body(answer)["message"]
    writer.close()
    for _, w in held:
        w.close()
    await _wait_registry_empty(srv)
    await _still_serves(srv)


async def test_an_idle_md_socket_is_closed_but_a_subscribed_one_stays(
    live_server_factory: Any,
) -> None:
    srv = live_server_factory(md_idle_timeout_s=0.5)
    idle = await websockets.connect(f"{srv.ws_url}/ws/md")
    busy = await websockets.connect(f"{srv.ws_url}/ws/md")
    await busy.send(orjson.dumps({"op": "subscribe", "channels": ["status"], "req_id": 1}).decode())
    assert orjson.loads(await busy.recv())["type"] == "subscribed"
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(idle.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    assert "no subscription" in info.value.rcvd.reason
    await asyncio.sleep(0.6)  # past the timeout: the subscribed socket is still open
    await busy.send(orjson.dumps({"op": "ping", "req_id": 2}).decode())
    while (msg := orjson.loads(await asyncio.wait_for(busy.recv(), 5)))["type"] != "pong":
        pass
    assert msg["req_id"] == 2
    await busy.close()


async def _wait_registry_empty(srv: Any) -> None:
    """Wait for the server to see the closed connections lost (no sleep of a fixed length)."""
    for _ in range(500):
        if not _registry(srv).open:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"connections still counted: {_registry(srv).by_ip}")


def _registry(srv: Any) -> Any:
    return srv.server.config.http_protocol_class.registry
