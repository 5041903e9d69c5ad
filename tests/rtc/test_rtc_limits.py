"""``POST /rtc/offer`` protection: oversized bodies are refused without being read whole; the
per-address offer rate and peer cap; the candidate cap.
Real server on loopback; the oversized requests are written on a raw socket so the test
controls exactly what is declared and sent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from exchange.config import ConfigError, Settings, from_env
from exchange.gateway.rtc.ice import MAX_OFFER_CANDIDATES
from exchange.gateway.rtc.peer import NEGOTIATION_TIMEOUT_S
from exchange.gateway.rtc.signalling import MAX_BODY_BYTES
from tests.rtc.helpers import wait_for


async def raw_post(port: int, head: str, chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
    """Send ``head`` and ``chunks`` on a fresh connection (stopping quietly if the server
    hangs up early) and read the status and JSON body of the response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode())
        for chunk in chunks:
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break  # refused mid-body: the response is already on its way
        # the head and the body may come in separate reads (seen on a loaded machine)
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        status_line, *fields = head_bytes.decode("latin-1").split("\r\n")
        lengths = [f.split(":", 1)[1] for f in fields if f.lower().startswith("content-length:")]
        if lengths:
            body = await asyncio.wait_for(reader.readexactly(int(lengths[0])), 30)
        else:  # no length: the body ends where the server closes the connection
            body = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    status = int(status_line.split()[1])
    return status, orjson.loads(body) if status == 413 else {}


def _head(port: int, extra: str) -> str:
    return (
        f"POST /rtc/offer HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    )


async def test_a_declared_oversized_body_is_refused_unread(live_server: Any) -> None:
    port = live_server.port
    # 10 GB declared, nothing sent: the answer cannot wait for the body
    status, err = await raw_post(port, _head(port, "Content-Length: 10000000000\r\n"), [])
    assert status == 413 and err["code"] == "BAD_REQUEST", err
    assert str(MAX_BODY_BYTES) in err["message"]
    status, _ = await raw_post(port, _head(port, "Content-Length: -5\r\n"), [])
    assert status == 400  # uvicorn's own parser refuses it


async def test_a_chunked_oversized_body_is_refused_at_the_limit(live_server: Any) -> None:
    port = live_server.port
    piece = b"x" * 8192
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    # 4 MiB offered in chunks and never terminated: only the limit's worth may be read
    chunks = [chunk] * (4 * 1024 * 1024 // len(piece))
    status, err = await raw_post(port, _head(port, "Transfer-Encoding: chunked\r\n"), chunks)
    assert status == 413 and err["code"] == "BAD_REQUEST", err
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get("/healthz")).status_code == 200

        # a small chunked body is still read and judged on its content
        async def small() -> AsyncIterator[bytes]:
            yield b'{"type": '
            yield b'"answer"}'

        r = await http.post("/rtc/offer", content=small())
        assert r.status_code == 400 and "offer" in r.json()["message"], r.text
    metrics = httpx.get(f"{live_server.url}/metrics").text
    assert 'tickwire_rtc_offers_total{outcome="bad"} 2.0' in metrics


# ---------------------------------------------------------------- offer rate and peer caps


def offers_total(url: str, outcome: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    m = re.search(rf'^tickwire_rtc_offers_total\{{outcome="{outcome}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


async def test_offers_over_the_rate_get_429(live_server_factory: Any) -> None:
    srv = live_server_factory(rtc_offer_rate=0.01, rtc_offer_burst=3)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        for _ in range(3):  # the burst: judged on their content
            r = await http.post("/rtc/offer", content=b"not json")
            assert r.status_code == 400, r.text
        r = await http.post("/rtc/offer", content=b"not json")
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED", r.text
        # another address (behind a local proxy that appends X-Forwarded-For) has its own bucket
        proxied = {"x-forwarded-for": "198.51.100.1, 203.0.113.7"}
        r = await http.post("/rtc/offer", content=b"not json", headers=proxied)
        assert r.status_code == 400, r.text
    assert offers_total(srv.url, "limited") == 1


async def test_peers_per_address_are_capped_until_they_time_out(
    live_server_factory: Any, offer_sdp: str
) -> None:
    srv = live_server_factory(rtc_max_peers_per_ip=2, rtc_offer_rate=0.0)
    peers = srv.app.state.rtc_peers
    peers.negotiation_timeout_s = 3.0
    body = {"sdp": offer_sdp, "type": "offer"}
    async with httpx.AsyncClient(base_url=srv.url) as http:
        for _ in range(2):  # answered, and never connected: they hold their slots
            assert (await http.post("/rtc/offer", json=body)).status_code == 200
        r = await http.post("/rtc/offer", json=body)
        assert r.status_code == 429 and r.json()["code"] == "TOO_MANY_PEERS", r.text
        other = {"x-forwarded-for": "203.0.113.7"}
        assert (await http.post("/rtc/offer", json=body, headers=other)).status_code == 200
        assert len(peers) == 3 and peers.per_address == {"127.0.0.1": 2, "203.0.113.7": 1}
        await wait_for(lambda: len(peers) == 0)  # the negotiation timeout frees them
        assert peers.per_address == {}
        assert (await http.post("/rtc/offer", json=body)).status_code == 200
    assert offers_total(srv.url, "full") == 1


async def test_an_offer_with_too_many_candidates_is_refused(
    live_server: Any, offer_sdp: str
) -> None:
    extra = "".join(
        f"a=candidate:{i} 1 udp 2130706431 127.0.0.1 {20000 + i} typ host\r\n"
        for i in range(MAX_OFFER_CANDIDATES)
    )
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/rtc/offer", json={"sdp": offer_sdp + extra, "type": "offer"})
    assert r.status_code == 400 and "candidates" in r.json()["message"], r.text
    assert len(live_server.app.state.rtc_peers) == 0


def test_the_limits_are_validated_settings() -> None:
    assert NEGOTIATION_TIMEOUT_S <= 10.0  # a never-connecting peer's slot is held this long
    for bad in ({"rtc_offer_rate": -1.0}, {"rtc_offer_burst": 0.5}, {"rtc_max_peers_per_ip": -1}):
        with pytest.raises(ConfigError):
            Settings(**bad)


async def test_transports_switch_webrtc_like_the_others(
    live_server_factory: Any, offer_sdp: str
) -> None:
    assert "rtc" in Settings().transports  # on by default
    assert from_env(environ={"TICKWIRE_TRANSPORTS": "ws,rtc"}).transports == ("ws", "rtc")
    srv = live_server_factory(transports=("sse", "poll"))
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/rtc/offer", json={"sdp": offer_sdp, "type": "offer"})
        assert r.status_code == 503 and r.json()["code"] == "TRANSPORT_DISABLED", r.text
        assert (await http.get("/md/poll", params={"timeout": 0})).status_code == 200
    assert len(srv.app.state.rtc_peers) == 0
    only = live_server_factory(transports=("rtc",), data_dir=srv.settings.data_dir.parent / "b")
    async with httpx.AsyncClient(base_url=only.url) as http:
        r = await http.post("/rtc/offer", json={"sdp": offer_sdp, "type": "offer"})
        assert r.status_code == 200 and r.json()["type"] == "answer", r.text
        assert (await http.get("/md/poll", params={"timeout": 0})).status_code == 503
