"""What a client can make the server log: a bad frame or an abandoned request is at most a
rate-limited one-line warning (no traceback), and a ``?token=`` never reaches a log line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from exchange.gateway.logs import ClientLog, client_log
from tests.gateway.helpers import OrderClient, login

#: Loggers that do not propagate to the root (uvicorn's), and the root for everything else.
_LOGGERS = ("", "uvicorn", "uvicorn.access")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def server_logs(level: int | None = None) -> Iterator[list[logging.LogRecord]]:
    """Every record the server logs while inside (at ``level`` for uvicorn's loggers when
    given: the test servers run at warning)."""
    handler = _Records()
    saved = {}
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(handler)
    if level is not None:
        for name in ("uvicorn.error", "uvicorn.access"):
            saved[name] = logging.getLogger(name).level
            logging.getLogger(name).setLevel(level)
    try:
        yield handler.records
    finally:
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


@pytest.fixture(autouse=True)
def _fresh_budget() -> None:
    """Each test starts with the whole per-window budget of the server's client log."""
    client_log._kinds.clear()


def _tracebacks(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.exc_info or r.exc_text]


async def test_invalid_utf8_frames_on_ws_md_log_a_bounded_line_count(live_server: Any) -> None:
    with server_logs() as records:
        for _ in range(30):
            ws = await websockets.connect(f"{live_server.ws_url}/ws/md")
            await ws.send(b"\xff\xfe{not utf-8}", text=True)
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1007
        # the server still serves market data afterwards
        ws = await websockets.connect(f"{live_server.ws_url}/ws/md")
        await ws.send('{"op": "ping", "req_id": 1}')
        assert b"pong" in (await asyncio.wait_for(ws.recv(), 5)).encode()
        await ws.close()
    assert _tracebacks(records) == []
    lines = [r for r in records if "UTF-8" in r.getMessage()]
    assert 1 <= len(lines) <= 5  # 30 bad frames, at most 5 lines per 10 s
    assert all(r.levelno == logging.WARNING for r in lines)


async def test_posts_aborted_mid_body_log_no_traceback(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    with server_logs() as records:
        for i in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
            writer.write(
                b"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer " + token.encode() + b"\r\n"
                b"Idempotency-Key: k%d\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"symbol": ' % i
            )
            await writer.drain()
            writer.transport.abort()  # mid-body: 990 bytes of it never come
        for _ in range(500):  # the server handles the disconnects on its own thread
            if sum("disconnected" in r.getMessage() for r in records) >= 5:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert _tracebacks(records) == []
    lines = [r for r in records if "disconnected" in r.getMessage()]
    assert len(lines) == 5  # 20 aborted requests, at most 5 lines per 10 s
    assert not [r for r in records if r.levelno >= logging.ERROR]


async def test_refused_handshakes_log_no_errors(live_server: Any) -> None:
    """401 (no token), 403 (foreign Origin), 400 (foreign Host): each is an answer to the
    client, not a server error."""
    with server_logs() as records:
        for _ in range(10):
            for kwargs in ({}, {"origin": "http://evil.example"}):
                with pytest.raises(websockets.InvalidStatus):
                    await websockets.connect(f"{live_server.ws_url}/ws", **kwargs)
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(
                    f"ws://evil.example:{live_server.port}/ws/md",
                    host="127.0.0.1",
                    port=live_server.port,
                )
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []


async def test_no_token_reaches_a_log_line(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    with server_logs(level=logging.INFO) as records:
        c = await OrderClient.connect(live_server.ws_url, token)
        assert (await c.request("ping"))["type"] == "pong"
        await c.close()
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            await http.get("/api/account", params={"token": token})
            await http.get("/api/symbols", params={"x": "1", "token": token})
        await asyncio.sleep(0.1)  # the WebSocket's close is logged after the client's
    messages = []
    for r in records:
        formatter = (r.name == "uvicorn.access" and _access_formatter()) or logging.Formatter()
        messages.append(formatter.format(r))
    assert any("/ws?token=[redacted]" in m for m in messages), messages  # access logging on
    assert any("/api/symbols?x=1&token=[redacted]" in m for m in messages), messages
    assert not [m for m in messages if token in m]


def _access_formatter() -> logging.Formatter:
    from uvicorn.logging import AccessFormatter

    return AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')


def test_client_log_suppresses_beyond_the_window_budget() -> None:
    now = [0.0]
    logger = logging.getLogger("tests.client_log")
    handler = _Records()
    logger.addHandler(handler)
    try:
        log = ClientLog(logger, per_window=3, window_s=10.0, clock=lambda: now[0])
        for _ in range(50):
            log.warn("bad", "bad input from %s", "x")
        log.warn("other", "another kind has its own budget")
        now[0] = 10.5
        log.warn("bad", "bad input from %s", "y")
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in handler.records]
    assert lines == ["bad input from x"] * 3 + [
        "another kind has its own budget",
        "suppressed 47 more bad lines in 10 s",
        "bad input from y",
    ]
