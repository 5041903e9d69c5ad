"""``tickwire serve --http2``: the real command in its own process (hypercorn, TLS with a
certificate it made), driven by real clients: httpx over HTTP/2, ``websockets`` over WSS."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from exchange.gateway.h2server import local_certificate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class H2Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        cmd = [sys.executable, "-m", "exchange.cli", "serve", "--http2", "--port", str(self.port),
               "--data-dir", str(data_dir), "--sim-rate", "20", "--log-level", "warning"]  # fmt: skip
        self.log = data_dir.parent / f"h2-{self.port}.log"
        with self.log.open("wb") as out:  # a file, not a pipe nobody reads (it would fill)
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        self.url = f"https://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            cert = data_dir / "tls" / "cert.pem"
            if cert.exists():
                try:
                    httpx.get(
                        f"{self.url}/healthz", verify=self.ssl(), timeout=1
                    ).raise_for_status()
                    break
                except (httpx.HTTPError, ssl.SSLError, OSError):
                    pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tickwire serve --http2 did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.data_dir / "tls" / "cert.pem"))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


@pytest.fixture
def h2(tmp_path: Path) -> Iterator[H2Server]:
    srv = H2Server(tmp_path / "data")
    yield srv
    srv.stop()


async def _token(client: httpx.AsyncClient, account: str) -> str:
    r = await client.post("/api/sessions", json={"account": account})
    r.raise_for_status()
    return str(r.json()["token"])


async def test_rest_and_sse_over_http2_many_streams_one_connection(h2: H2Server) -> None:
    async with httpx.AsyncClient(http2=True, verify=h2.ssl(), base_url=h2.url) as client:
        r = await client.get("/api/symbols")
        assert r.http_version == "HTTP/2" and r.status_code == 200
        symbols = [s["symbol"] for s in r.json()]

        async def stream(symbol: str) -> tuple[str, list[str], str]:
            ids: list[str] = []
            async with client.stream(
                "GET", f"/md/stream?symbols={symbol}&channels=book,ticker"
            ) as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                async for line in resp.aiter_lines():
                    if line.startswith("id:"):
                        ids.append(line[3:])
                    if line.startswith("data:") and len(ids) >= 3:
                        return symbol, ids, resp.http_version
            raise AssertionError("stream ended")

        # eight streams at once, over the one HTTP/2 connection this client holds
        results = await asyncio.wait_for(
            asyncio.gather(*(stream(s) for s in (symbols * 3)[:8])), 20
        )
        assert {version for _, _, version in results} == {"HTTP/2"}
        for symbol, ids, _ in results:
            assert len(ids) == len(set(ids)) >= 3, (symbol, ids)
        # a resume from an id over HTTP/2: exactly the events after it
        _, ids, _ = results[0]
        async with client.stream("GET", f"/md/stream?symbols={results[0][0]}&channels=book,ticker",
                                 headers={"Last-Event-ID": ids[0]}) as resp:  # fmt: skip
            again: list[str] = []
            async for line in resp.aiter_lines():
                if line.startswith("id:"):
                    again.append(line[3:])
                    if len(again) == 2:
                        break
        assert again == ids[1:3]
        # bad input is refused as on HTTP/1.1
        bad = await client.get("/md/stream?channels=nonsense")
        assert bad.status_code == 400 and bad.json()["code"] == "BAD_REQUEST"
        foreign = await client.get("/api/symbols", headers={"Host": "evil.example"})
        assert foreign.status_code == 400


async def test_orders_over_wss_and_a_clean_shutdown(h2: H2Server) -> None:
    async with httpx.AsyncClient(http2=True, verify=h2.ssl(), base_url=h2.url) as client:
        token = await _token(client, "h2-trader")
    ws = await websockets.connect(f"wss://127.0.0.1:{h2.port}/ws?token={token}", ssl=h2.ssl())
    session = orjson.loads(await ws.recv())
    assert session["type"] == "session" and session["account"] == "h2-trader"
    order = {"op": "order.new", "req_id": 1, "client_order_id": "h2-1", "symbol": "BTC-USD",
             "side": "buy", "order_type": "limit", "qty": "0.01", "price": "1000"}  # fmt: skip
    await ws.send(orjson.dumps(order).decode())
    ack = orjson.loads(await ws.recv())
    assert ack["type"] == "order.ack" and ack["exec_seq"] == 1
    await ws.send(orjson.dumps(order).decode())
    dup = orjson.loads(await ws.recv())
    assert dup["duplicate"] is True and dup["order_id"] == ack["order_id"]
    await ws.send("{not json")
    err = orjson.loads(await ws.recv())
    assert err["type"] == "error" and err["code"] == "BAD_REQUEST"
    md = await websockets.connect(f"wss://127.0.0.1:{h2.port}/ws/md", ssl=h2.ssl())
    await md.send(orjson.dumps({"op": "subscribe", "req_id": 1, "channels": ["ticker"]}).decode())
    assert orjson.loads(await md.recv())["type"] in ("subscribed", "md.ticker")
    # SIGTERM: the sockets are closed with 1001, the process exits 0, the order survives
    h2.proc.send_signal(signal.SIGTERM)
    for sock in (ws, md):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(sock.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert h2.proc.wait(15) == 0
    again = H2Server(h2.data_dir)  # same data dir: the same certificate, the order kept
    try:
        async with httpx.AsyncClient(http2=True, verify=again.ssl(), base_url=again.url) as c:
            r = await c.get("/api/orders/h2-1", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["status"] == "open"
    finally:
        assert again.stop() == 0


def test_the_local_certificate_is_kept_while_it_serves(tmp_path: Path) -> None:
    cert, key, first = local_certificate(tmp_path, "127.0.0.1")
    assert cert.exists() and key.exists() and (key.stat().st_mode & 0o777) == 0o600
    assert local_certificate(tmp_path, "127.0.0.1")[2] == first  # reused
    assert local_certificate(tmp_path, "localhost")[2] == first  # covered already
    other = local_certificate(tmp_path, "10.1.2.3")[2]  # a new name: a new certificate
    assert other != first
    cert.write_text("garbage")  # unreadable: made again
    assert local_certificate(tmp_path, "127.0.0.1")[2] not in (first, other)
    ctx: Any = ssl.create_default_context(cafile=str(cert))
    assert ctx.cert_store_stats()["x509"] == 1
