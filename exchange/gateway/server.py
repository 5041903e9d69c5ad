"""Running the app on uvicorn (uvloop + httptools), with a clean shutdown.

Exports: ``build_server``, ``TickwireServer``.

On SIGINT/SIGTERM the server first closes every WebSocket with 1001 (going away) and ends the
SSE streams, then uvicorn drains and the app's lifespan syncs the journal and snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn

from exchange.config import Settings

__all__ = ["ExposeTransport", "TickwireServer", "build_server"]


class ExposeTransport:
    """Outermost ASGI wrapper: puts the connection's transport in ``scope`` so a stream can
    *abort* a connection whose reader has stalled (``close()`` would wait forever to flush).

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport;
    under any other server the key is simply absent and streams fall back to a clean end.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope["tickwire.transport"] = transport
        await self.app(scope, receive, send)


class TickwireServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 before it drains connections."""

    node: Any = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        node = self.node
        if node is not None:
            node.begin_shutdown()
            for ws in list(node.websockets):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(1001, "server shutting down"), 1.0)
            await asyncio.sleep(0.2)  # let streams end cleanly and flush
            for transport in list(node.stream_transports):
                # a reader that stalled will never take the rest: drop the connection, or
                # the loop would wait forever to flush it
                if not transport.is_closing() or transport.get_write_buffer_size():
                    transport.abort()
        await super().shutdown(sockets=sockets)


def build_server(app: Any, settings: Settings, **overrides: Any) -> TickwireServer:
    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
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
    server = TickwireServer(config)
    server.node = app.state.node
    return server
