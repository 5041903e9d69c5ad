"""Running the app on uvicorn (uvloop + httptools), with a clean shutdown.

Exports: ``build_server``, ``TickwireServer``, ``ExposeTransport``, ``close_connections``.

On SIGINT/SIGTERM the server first closes every WebSocket with 1001 (going away) and ends the
SSE streams, then uvicorn drains and the app's lifespan syncs the journal and snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from exchange.config import Settings
from exchange.gateway.deps import host_allowed
from exchange.gateway.edge import ConnectionRegistry, HttpProtocol
from exchange.gateway.logs import client_log, install_redaction, peer

__all__ = ["ExposeTransport", "TickwireServer", "WsProtocol", "build_server", "close_connections"]


class WsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, with compression declinable per connection.

    ``?compress=0`` in a WebSocket URL declines permessage-deflate even when the client
    offers it. Browsers always offer it and script cannot turn it off; inflating each small
    market-data message cost Chromium ~0.5 ms per event (SSE won 99.9 % of the browser race
    with it, 39-51 % without: docs/benchmarks.md), so the web UI's race lanes ask for none.

    A lost connection is counted out of the server's ``registry`` (it was counted in by
    :class:`~exchange.gateway.edge.HttpProtocol` before the upgrade).

    A text frame that is not valid UTF-8 closes the socket with 1007 as in uvicorn, logged
    as one rate-limited warning (uvicorn logs a traceback per frame, at ERROR). A handshake
    refused with a denial response logs nothing at ERROR.
    """

    registry: ConnectionRegistry | None = None

    def send_receive_event_to_app(self) -> None:
        # uvicorn 0.54's, except for the invalid UTF-8 branch
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type == "text":
            try:
                text = data.decode()
            except UnicodeDecodeError:
                client_log.warn("invalid_utf8", "%s - invalid UTF-8 in a WebSocket text frame: "
                                "closed 1007", peer(self.client))  # fmt: skip
                self.conn.send_close(1007, "invalid UTF-8 in a text frame")
                self.handle_parser_exception()
                return
            self.queue.put_nowait({"type": "websocket.receive", "text": text})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # a denial (401, 403, 400) is a complete answer to the handshake; uvicorn 0.54
            # would log "ASGI callable returned without completing handshake" at ERROR for
            # each one, a line anyone could make the server write
            self.handshake_complete = True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.registry is not None:
            self.registry.release(self.transport)
        super().connection_lost(exc)

    def handle_connect(self, event: Request) -> None:
        _, _, query = event.path.partition("?")
        if "compress=0" in query.split("&") and "Sec-WebSocket-Extensions" in event.headers:
            del event.headers["Sec-WebSocket-Extensions"]
        super().handle_connect(event)


class ExposeTransport:
    """Outermost ASGI wrapper, between uvicorn and the app (see docs/architecture.md).

    * A request or WebSocket handshake whose ``Host`` is not one of the server's names
      (``Settings.allowed_hosts``), or that has two, is refused with 400 before anything
      else (DNS rebinding: a page on a name that resolves here would otherwise pass the
      same-host Origin rule). One without ``Host`` (not a browser) passes.
    * Market-data streams and polls (``GET``/``HEAD`` ``/md/stream``, ``/md/poll``) go
      straight to their handlers with uvicorn's own ``send``, skipping the app's middleware
      and routing (their FastAPI routes declare them for OpenAPI and serve them under other
      servers): the handlers write to the socket from the hub (``exchange.gateway.writers``).
    * A WebSocket's uvicorn protocol object is put in ``scope`` (``tickwire.ws_protocol``)
      so its outbox and market data write frames to the socket directly.
    * An HTTP request's transport is put in ``scope`` (``tickwire.transport``) so a stream
      can *abort* a connection whose reader has stalled (``close()`` would wait to flush).
    * ``HEAD`` is served as the ``GET`` of the same route, without the body.
    * A request the client abandons mid-body (``ClientDisconnect``) is one rate-limited
      warning line, not uvicorn's traceback.

    uvicorn's ``send`` is a bound method of its request cycle or protocol; under any other
    server (``native=False``: hypercorn, ``exchange.gateway.h2server``) these keys are not
    set and the transports fall back to ASGI ``send``; HEAD is then the app's (Starlette
    answers it on every GET route).
    """

    def __init__(self, app: Any, native: bool = True) -> None:
        from exchange.gateway.long_poll import serve_poll
        from exchange.gateway.sse_market import serve_sse

        self.app = app
        self.state = app.state
        self.node = app.state.node
        self.host_names = self.node.settings.host_names()
        self._fast = {"/md/stream": serve_sse, "/md/poll": serve_poll}
        self.native = native

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind != "lifespan" and self.host_names is not None:
            hosts = [value for key, value in scope["headers"] if key == b"host"]
            # no Host at all is a non-browser client (HAProxy's HTTP/1.0 health checks):
            # rebinding needs a browser, and a browser always sends one
            if hosts and (len(hosts) > 1 or not host_allowed(hosts[0].decode("latin-1"),
                                                            self.host_names)):  # fmt: skip
                await _refuse_host(kind, send)
                return
        if kind == "http":
            handler = self._fast.get(scope["path"])
            if handler is not None and scope["method"] in ("GET", "HEAD"):
                await handler(scope, receive, send, self.node)
                return
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None and self.native:
                scope["tickwire.transport"] = transport
            if scope["method"] == "HEAD" and self.native:
                # every GET route answers HEAD: the app runs the GET, and uvicorn, whose own
                # scope still says HEAD, sends the head with the GET's headers and no body
                scope = {**scope, "method": "GET"}
        elif kind == "websocket":
            proto = getattr(send, "__self__", None)
            if proto is not None and self.native:
                scope["tickwire.ws_protocol"] = proto
            if scope["path"] == "/ws/md":
                # no token, no dependencies: skip the app's routing and middleware, whose
                # frames would otherwise stay alive for as long as the socket is open
                from starlette.websockets import WebSocket

                from exchange.gateway.ws_market import ws_md

                scope["app"] = self.app
                await ws_md(WebSocket(scope, receive, send))
                return
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            # the client went away in the middle of its request body: its doing, not a bug
            client_log.warn("client_disconnect", "%s - %s %s: client disconnected before "
                            "the end of its request", peer(scope.get("client")),
                            scope.get("method"), scope.get("path"))  # fmt: skip


_HOST_REFUSED = b'{"code":"BAD_REQUEST","message":"host not allowed"}'


async def _refuse_host(kind: str, send: Any) -> None:
    """400 for a request (or, before the upgrade, a WebSocket handshake) to a foreign Host."""
    prefix = "websocket.http." if kind == "websocket" else "http."
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(_HOST_REFUSED)).encode())]  # fmt: skip
    await send({"type": prefix + "response.start", "status": 400, "headers": headers})
    await send({"type": prefix + "response.body", "body": _HOST_REFUSED})


async def close_connections(node: Any) -> None:
    """The start of a clean shutdown, before the server drains: market-data streams end
    (``begin_shutdown``), every WebSocket is closed with 1001, and a stream whose reader
    stalled is dropped (the loop would otherwise wait forever to flush it)."""
    node.begin_shutdown()
    for ws in list(node.websockets):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(1001, "server shutting down"), 1.0)
    await asyncio.sleep(0.2)  # let streams end cleanly and flush
    for transport in list(node.stream_transports):
        if not transport.is_closing() or transport.get_write_buffer_size():
            transport.abort()


class TickwireServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 before it drains connections."""

    node: Any = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.node is not None:
            await close_connections(self.node)
        await super().shutdown(sockets=sockets)


def build_server(app: Any, settings: Settings, **overrides: Any) -> TickwireServer:
    """A uvicorn server for ``app``, with this server's own connection registry shared by
    its HTTP and WebSocket protocols (``exchange.gateway.edge``)."""
    registry = ConnectionRegistry(settings.max_connections, settings.max_connections_per_ip)

    class ServerHttp(HttpProtocol):
        pass

    class ServerWs(WsProtocol):
        pass

    ServerHttp.settings = settings
    ServerHttp.registry = ServerWs.registry = registry
    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=ServerHttp,
        ws=ServerWs,
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_timeout_s,
        log_level=settings.log_level,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        timeout_graceful_shutdown=5,
    )
    options.update(overrides)
    config = uvicorn.Config(ExposeTransport(app), **options)
    install_redaction()  # after uvicorn set up its loggers: no ?token= in any log line
    server = TickwireServer(config)
    server.node = app.state.node
    return server
