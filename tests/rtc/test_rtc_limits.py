"""``POST /rtc/offer`` protection: oversized bodies are refused without being read whole.
Real server on loopback; the oversized requests are written on a raw socket so the test
controls exactly what is declared and sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from exchange.rtc.signalling import MAX_BODY_BYTES


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
        response = await asyncio.wait_for(reader.read(1 << 16), 30)
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
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
