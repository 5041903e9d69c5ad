"""Protection and lifecycle: rate limits, abuse and oversized frames, slow consumers, dead
peers, clean shutdown, and market-data history surviving a restart."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import time
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse
from websockets.exceptions import ConnectionClosed

from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


async def test_rate_limit_answers_then_abuse_closes(live_server_factory: Any) -> None:
    srv = live_server_factory(conn_rate=5.0, conn_burst=5.0, abuse_limit=30)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "alice"))
    for i in range(20):
        await c.send({"op": "ping", "req_id": i})
    answers = [await c.recv() for _ in range(20)]
    limited = [m for m in answers if m.get("code") == "RATE_LIMITED"]
    assert 10 <= len(limited) <= 15 and all(m["type"] == "error" for m in limited)
    order = await c.request("order.new", **limit("o1", BTC, "buy", "1", "1"))
    assert order["type"] in ("order.reject", "order.ack")
    # sustained abuse: the socket is closed with a policy code and a reason
    with pytest.raises(ConnectionClosed) as info:
        for i in range(200):
            await c.send({"op": "ping", "req_id": 1000 + i})
        while True:
            await c.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    assert "rate" in info.value.rcvd.reason


async def test_a_flood_of_garbage_is_rate_limited_too(live_server_factory: Any) -> None:
    srv = live_server_factory(conn_rate=5.0, conn_burst=5.0, abuse_limit=20)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "alice"))
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(200):
            await c.send(b"\x00not json")
        while True:
            await c.recv()
    codes = {m.get("code") for m in c.seen[1:]}
    assert codes == {"BAD_REQUEST", "RATE_LIMITED"}
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_per_account_limit_spans_connections(live_server_factory: Any) -> None:
    srv = live_server_factory(account_rate=1.0, account_burst=4.0)
    token = await login(srv.url, "alice")
    a = await OrderClient.connect(srv.ws_url, token)
    b = await OrderClient.connect(srv.ws_url, token)
    codes = []
    for i in range(4):
        codes.append(
            (await a.request("order.new", **limit(f"a{i}", BTC, "buy", "0.1", "1")))["type"]
        )
    rej = await b.request("order.new", **limit("b0", BTC, "buy", "0.1", "1"))
    assert codes == ["order.ack"] * 4
    assert rej["type"] == "order.reject" and rej["code"] == "RATE_LIMITED"
    assert (await b.request("ping"))["type"] == "pong"  # non-order ops are not account-limited
    await a.close()
    await b.close()


async def test_oversized_frame_closes_with_1009(live_server_factory: Any) -> None:
    srv = live_server_factory(max_frame_bytes=1024)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "alice"))
    await c.send('{"op": "ping", "pad": "' + "x" * 5000 + '"}')
    with pytest.raises(ConnectionClosed) as info:
        await c.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def _stalled_sse_client(port: int) -> socket.socket:
    """An SSE client that sends its request and never reads (tiny receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /md/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    return s


async def _publish_burst(node: Any, n: int, size: int, chunk: int = 50) -> None:
    """Many large events, in chunks with a pause between, as a busy market would send them."""
    pad = "p" * size
    for start in range(0, n, chunk):
        items = [
            ("status", BTC, {"symbol": BTC, "state": "open", "note": pad, "i": i})
            for i in range(start, min(n, start + chunk))
        ]
        node.hub.publish(items, time.time_ns())
        await asyncio.sleep(0.002)


async def _sample_held(node: Any, held: list[int]) -> None:
    fanout = node.hub._fanout
    while True:
        subs = list(fanout._lagging)
        for group in fanout._groups.values():
            subs += list(group.members)
        held[0] = max([held[0], *(sub.writer.buffered() for sub in subs)])
        await asyncio.sleep(0.005)


async def test_slow_consumers_are_dropped_and_do_not_delay_others(live_server_factory: Any) -> None:
    srv = live_server_factory(subscriber_buffer=512)
    stalled = [_stalled_sse_client(srv.port) for _ in range(20)]
    await asyncio.sleep(0.3)
    n, got = 6000, 0
    async with (
        httpx.AsyncClient(timeout=30) as http,
        aconnect_sse(http, "GET", f"{srv.url}/md/stream?channels=status") as es,
    ):
        burst = asyncio.run_coroutine_threadsafe(_publish_burst(srv.node, n, 4000), srv.node.loop)
        held = [0]  # the most bytes the server held for any one subscriber, sampled
        sampler = asyncio.run_coroutine_threadsafe(_sample_held(srv.node, held), srv.node.loop)
        async for sse in es.aiter_sse():
            if sse.event == "status":
                got += 1
                if got == n:
                    break
    burst.result(10)
    sampler.cancel()
    assert got == n  # the reading client received every event
    deadline = time.monotonic() + 20
    dropped = 0.0
    while time.monotonic() < deadline:
        dropped = srv.node.metrics.slow_consumers.labels("sse").value
        if dropped >= len(stalled):
            break
        await asyncio.sleep(0.2)
    assert dropped >= len(stalled)
    # each dropped reader's connection is closed by the server (aborted: it was stalled), and
    # what the server held for it while it lagged was bounded by the high-water mark
    for s in stalled:
        s.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            while s.recv(1 << 20):  # a connection the server kept open would time out here
                pass
        s.close()
    assert 0 < held[0] <= srv.settings.subscriber_high_water + (1 << 20)
    assert srv.node.hub.stats.subscribers["sse"] == 0


async def test_dead_peer_is_detected_and_freed(live_server_factory: Any) -> None:
    srv = live_server_factory(ping_interval_s=0.2, ping_timeout_s=0.3)
    s = socket.create_connection(("127.0.0.1", srv.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            "GET /ws/md HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert s.recv(4096).startswith(b"HTTP/1.1 101")
    deadline = time.monotonic() + 5
    while srv.node.websockets and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not srv.node.websockets, "a peer that never answers pings must be dropped"
    s.close()


async def test_clean_shutdown_closes_sockets_with_1001_and_keeps_state(
    live_server_factory: Any,
) -> None:
    srv = live_server_factory()
    token = await login(srv.url, "alice")
    c = await OrderClient.connect(srv.ws_url, token)
    await c.request("order.new", **limit("keep1", BTC, "buy", "1", "50"))
    state = srv.node.engine.state_hash()
    md = await websockets.connect(f"{srv.ws_url}/ws/md")
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", f"{srv.url}/md/stream") as r,
    ):
        stopper = asyncio.get_running_loop().run_in_executor(None, srv.stop)
        async for _ in r.aiter_bytes():
            pass  # the stream ends instead of hanging
        await stopper
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await c.ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    with pytest.raises(ConnectionClosed):
        while True:
            await md.recv()
    srv2 = live_server_factory(port=srv.port, data_dir=srv.settings.data_dir)
    assert srv2.node.engine.state_hash() == state


async def test_history_and_epoch_survive_a_restart(live_server_factory: Any) -> None:
    srv = live_server_factory(sim_rate=50.0)
    seen: list[tuple[str, str]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        async with aconnect_sse(http, "GET", f"{srv.url}/md/stream") as es:
            async for sse in es.aiter_sse():
                if sse.data and sse.event != "snapshot":
                    seen.append((sse.id, sse.data))
                    if len(seen) == 50:
                        break
        last_id = seen[9][0]  # the client saw 10 events, then went away
        srv.stop()
        srv2 = live_server_factory(port=srv.port, data_dir=srv.settings.data_dir, sim_rate=50.0)
        assert srv2.node.meta.epoch == srv.node.meta.epoch
        resumed: list[tuple[str, str]] = []
        async with aconnect_sse(
            http, "GET", f"{srv2.url}/md/stream", headers={"Last-Event-ID": last_id}
        ) as es:
            async for sse in es.aiter_sse():
                if sse.data:
                    assert sse.event not in ("reset", "snapshot")
                    resumed.append((sse.id, sse.data))
                    if len(resumed) == 40:
                        break
    assert resumed == seen[10:50]


async def test_metrics_count_connections_and_messages(live_server: Any) -> None:
    c = await OrderClient.connect(live_server.ws_url, await login(live_server.url, "alice"))
    await c.request("order.new", **limit("m1", BTC, "buy", "0.1", "1"))
    await c.request("order.new", **limit("m2", BTC, "buy", "0.1", "0.001"))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        text = (await http.get("/metrics")).text
    assert 'tickwire_connections{transport="ws"} 1.0' in text
    assert 'tickwire_messages_in_total{transport="ws",type="order.new"} 2.0' in text
    assert 'tickwire_rejects_total{code="INVALID_PRICE"} 1.0' in text
    assert "tickwire_journal_fsync_seconds_count" in text
    await c.close()
