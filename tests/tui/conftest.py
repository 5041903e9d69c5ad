"""Fixtures for the terminal-client tests.

* ``CutProxy``: a loopback TCP proxy in front of a real server. It classifies connections
  by their request line (``/ws?`` = order socket, ``/md/stream`` = SSE) and can cut them:
  ``cut_sse()`` drops every SSE connection now; ``lose_next_order_reply()`` forwards the
  next client frame on the order socket to the server, swallows the server's answer and
  then drops the connection, so the order is on the server but its ack is lost.
  This is fault injection at the transport layer: client and server are both real.
* ``wait_for(pilot, predicate)``: poll the app until ``predicate()`` holds (a liveness
  deadline, never a speed assertion).
* ``screen_text(app)``: the current screen as plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 20.0, what: str = ""
) -> None:
    """Pause the app in small steps until ``predicate()`` is truthy; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


def screen_text(app: App[Any]) -> str:
    """The whole screen (including modal screens) as plain text, one line per row."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(update)
    return console.export_text(styles=False)


def _classify(head: bytes) -> str:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    return "orders" if " /ws?" in line else ("sse" if "/md/stream" in line else "other")


class _Conn:
    def __init__(self, kind: str, writers: list[asyncio.StreamWriter]) -> None:
        self.kind = kind
        self.writers = writers
        self.upgraded = False
        self.swallow = False

    def close(self) -> None:
        for w in self.writers:
            with contextlib.suppress(Exception):
                w.transport.abort()


class CutProxy:
    """See the module docstring. ``url`` is what the client under test connects to."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.conns: list[_Conn] = []
        self.orders_cut = 0
        self.sse_cut = 0
        self._lose_reply = False
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for c in self.conns:
            c.close()
        if self._server is not None:
            self._server.close()

    def lose_next_order_reply(self) -> None:
        """Arm: the next client frame on the order socket reaches the server, its reply not."""
        self._lose_reply = True

    def cut_sse(self) -> int:
        """Drop every open SSE connection; returns how many were cut."""
        n = 0
        for c in self.conns:
            if c.kind == "sse":
                c.close()
                n += 1
        self.conns = [c for c in self.conns if c.kind != "sse"]
        self.sse_cut += n
        return n

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        head = await c_reader.read(65536)
        conn = _Conn(_classify(head), [c_writer, s_writer])
        self.conns.append(conn)
        s_writer.write(head)
        await s_writer.drain()
        await asyncio.gather(
            self._pump(c_reader, s_writer, conn, upstream=True),
            self._pump(s_reader, c_writer, conn, upstream=False),
            return_exceptions=True,
        )
        conn.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: _Conn,
        upstream: bool,
    ) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if conn.kind == "orders" and not upstream and conn.swallow:
                # The reply to the armed frame: swallow it and drop the connection.
                self.orders_cut += 1
                conn.close()
                return
            if conn.kind == "orders" and not upstream and b" 101 " in data[:20]:
                conn.upgraded = True
            if upstream and not conn.upgraded and data[:4] in (b"GET ", b"POST", b"DELE"):
                # A kept-alive HTTP connection carries a new request: classify it again.
                conn.kind = _classify(data)
            if conn.kind == "orders" and upstream and conn.upgraded and self._lose_reply:
                self._lose_reply = False
                conn.swallow = True
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(Exception):
            writer.write_eof()


@pytest.fixture
async def proxy_factory() -> AsyncIterator[Callable[[int], Any]]:
    proxies: list[CutProxy] = []

    async def make(port: int) -> CutProxy:
        p = CutProxy(port)
        await p.start()
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        await p.stop()


class Helpers:
    """The helper functions of this module, handed to tests by the ``helpers`` fixture."""

    wait_for = staticmethod(wait_for)
    screen_text = staticmethod(screen_text)

    @staticmethod
    async def login(url: str, account: str) -> str:
        return await login(url, account)

    @staticmethod
    async def server_orders(url: str, token: str) -> list[dict[str, Any]]:
        return await server_orders(url, token)

    @staticmethod
    async def rest_order(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await rest_order(url, token, body)


@pytest.fixture
def helpers() -> type[Helpers]:
    return Helpers


async def login(url: str, account: str) -> str:
    """A bearer token for ``account`` (a second, plain HTTP client: not the TUI)."""
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        resp = await http.post("/api/sessions", json={"account": account})
        resp.raise_for_status()
        return str(resp.json()["token"])


async def server_orders(url: str, token: str) -> list[dict[str, Any]]:
    """``GET /api/orders`` for the token's account."""
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        resp = await http.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
        resp.raise_for_status()
        return list(resp.json())


async def rest_order(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/orders`` (idempotency key = the body's ``client_order_id``)."""
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        resp = await http.post(
            "/api/orders",
            json=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": body["client_order_id"],
            },
        )
        assert resp.status_code in (200, 201), resp.text
        return dict(resp.json())
