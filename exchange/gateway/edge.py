"""Connection limits at the uvicorn edge, before a request reaches the app.

Exports: ``ConnectionRegistry``, ``HttpProtocol``, ``answer_and_close``.

``HttpProtocol`` is uvicorn's httptools protocol with four additions, each refused with a
short JSON answer (``{"code", "message"}``) and a close, so nothing an unfinished or
oversized request sends is kept:

* a request head (request line and headers) over ``max_header_bytes`` → 431;
* more than ``max_header_count`` header lines → 431;
* a request head not complete ``header_timeout_s`` after connect (or after the first byte
  of a keep-alive request) → 408 (slowloris);
* over ``max_connections_per_ip`` connections from one address, or ``max_connections`` in
  all → 503 at connect, before anything is read.

A WebSocket starts as an HTTP connection and uvicorn hands its transport over to the
WebSocket protocol, so the :class:`ConnectionRegistry` counts *transports*: added when the
HTTP protocol sees the connection, released by whichever protocol sees it lost (both call
``release``; the second call is a no-op). ``build_server`` makes one registry per server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from exchange.config import Settings
from exchange.gateway.logs import client_log, peer

__all__ = ["ConnectionRegistry", "HttpProtocol", "answer_and_close"]


class ConnectionRegistry:
    """Open connections of one server, by client address; ``0`` caps mean no cap."""

    __slots__ = ("by_ip", "max_per_ip", "max_total", "open")

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        self.max_total = max_total
        self.max_per_ip = max_per_ip
        self.open: dict[int, str] = {}  # id(transport) -> client address
        self.by_ip: dict[str, int] = {}

    def admit(self, transport: Any, ip: str) -> str | None:
        """Count ``transport`` in, or the reason it is refused (then it is not counted)."""
        if self.max_total and len(self.open) >= self.max_total:
            return f"server at its limit of {self.max_total} connections"
        held = self.by_ip.get(ip, 0)
        if self.max_per_ip and held >= self.max_per_ip:
            return f"too many connections from {ip} (limit {self.max_per_ip})"
        self.open[id(transport)] = ip
        self.by_ip[ip] = held + 1
        return None

    def release(self, transport: Any) -> None:
        """Count ``transport`` out (idempotent: both protocols of an upgrade call it)."""
        ip = self.open.pop(id(transport), None)
        if ip is None:
            return
        left = self.by_ip[ip] - 1
        if left:
            self.by_ip[ip] = left
        else:
            del self.by_ip[ip]


#: Seconds a refused connection is still read (and what it sends discarded) after the
#: answer, so the answer is not lost to a reset (closing a socket with unread input resets it).
LINGER_S = 2.0


def answer_and_close(transport: Any, status: int, code: str, message: str) -> None:
    """Write a complete ``status`` response with a JSON error body, then close.

    The write side is shut at once; the socket itself closes when the peer closes its side
    or after :data:`LINGER_S`, whichever comes first. The caller must discard anything
    received meanwhile."""
    body = orjson.dumps({"code": code, "message": message})
    transport.write(
        b"".join((STATUS_LINE[status],
                  b"content-type: application/json\r\n",
                  b"content-length: ", str(len(body)).encode(), b"\r\n",
                  b"connection: close\r\n\r\n", body))
    )  # fmt: skip
    if transport.can_write_eof():
        transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, transport.close)
    else:
        transport.close()


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring.

    ``build_server`` subclasses it per server, setting ``settings`` and ``registry``.
    """

    settings: Settings = Settings()
    registry: ConnectionRegistry | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_open = True  # between a request's first byte and its complete head
        self._head_bytes = 0  # bytes received while the head is open (all of each chunk)
        self._head_parsed = 0  # bytes of the head as parsed (url, header names and values)
        self._header_count = 0
        self._refusal: tuple[int, str, str] | None = None
        self._closed = False

    # ------------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.registry is not None:
            ip = self.client[0] if self.client else ""
            reason = self.registry.admit(transport, ip)
            if reason is not None:
                self._closed = True
                answer_and_close(transport, 503, "TOO_MANY_CONNECTIONS", reason)
                return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._cancel_head_timer()
        if self.registry is not None:
            self.registry.release(self.transport)
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        timeout = self.settings.header_timeout_s
        if timeout and self._head_timer is None:
            self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_open and not self._closed and not self.transport.is_closing():
            self._refuse(408, "REQUEST_TIMEOUT", "request head not complete in "
                         f"{self.settings.header_timeout_s:g} s")  # fmt: skip

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._closed = True
        self._cancel_head_timer()
        answer_and_close(self.transport, status, code, message)

    # ------------------------------------------------------------------ input

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return  # refused: nothing more is read
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
                return
            msg = "Invalid HTTP request received."
            client_log.warn("invalid_http", "%s - %s", peer(self.client), msg)
            self.send_400_response(msg)
            return
        if self._head_open:
            # the head is still incomplete: all of this chunk was head (a single endless
            # header line never reaches on_header, so the parsed count cannot see it)
            self._head_bytes += len(data)
            self._check_head_size(self._head_bytes)
            if self._refusal is not None:
                self._refuse(*self._refusal)

    def _check_head_size(self, size: int) -> None:
        limit = self.settings.max_header_bytes
        if limit and size > limit and self._refusal is None:
            self._refusal = (431, "HEADERS_TOO_LARGE", f"request head over {limit} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = self._head_parsed = self._header_count = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_parsed += len(url)
        self._check_head_size(self._head_parsed)
        if self._refusal is not None:
            raise _HeadRefused  # stops the parser: data_received answers

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_parsed += len(name) + len(value) + 4
        limit = self.settings.max_header_count
        if limit and self._header_count > limit and self._refusal is None:
            self._refusal = (431, "HEADERS_TOO_LARGE", f"more than {limit} header lines")
        self._check_head_size(self._head_parsed)
        if self._refusal is not None:
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._cancel_head_timer()
        super().on_headers_complete()


class _HeadRefused(Exception):
    """Raised in a parser callback to stop parsing a head that is refused."""
