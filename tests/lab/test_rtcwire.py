"""The lab's WebRTC side when WebRTC cannot connect: it says why and never raises."""

from __future__ import annotations

import asyncio

from exchange.lab.rtcwire import check_rtc, rtc_importable


async def _serve(answer: bytes) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def _http(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def test_aiortc_is_installed_here() -> None:
    assert rtc_importable()  # pinned in pyproject.toml: the lab includes rtc by default


async def test_a_server_without_rtc_is_reported_not_raised() -> None:
    server, url = await _serve(_http("404 Not Found", b'{"detail":"Not Found"}'))
    try:
        status = await check_rtc(url, timeout=10)
    finally:
        server.close()
        await server.wait_closed()
    assert status["connected"] is False
    assert "404" in str(status["reason"]) and "RtcConnectError" in str(status["reason"])


async def test_a_refused_peer_is_reported_not_raised() -> None:
    body = b'{"code":"TOO_MANY_PEERS","message":"full"}'
    server, url = await _serve(_http("503 Service Unavailable", body))
    try:
        status = await check_rtc(url, timeout=10)
    finally:
        server.close()
        await server.wait_closed()
    assert status["connected"] is False and "TOO_MANY_PEERS" in str(status["reason"])


async def test_nobody_listening_is_reported_not_raised() -> None:
    server, url = await _serve(b"")
    server.close()
    await server.wait_closed()  # the port is now closed: signalling cannot connect
    status = await check_rtc(url, timeout=10)
    assert status["connected"] is False and "signalling failed" in str(status["reason"])
