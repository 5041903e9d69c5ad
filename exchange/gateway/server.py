"""Running the app on uvicorn (uvloop + httptools), with a clean shutdown.

Exports: ``build_server``, ``TickwireServer``.

On SIGINT/SIGTERM the server first closes every WebSocket with 1001 (going away) and ends the
SSE streams, then uvicorn drains and the app's lifespan syncs the journal and snapshots.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import uvicorn

from exchange.config import Settings

__all__ = ["TickwireServer", "build_server"]


class TickwireServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 before it drains connections."""

    node: Any = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        node = self.node
        if node is not None:
            node.shutting_down = True
            if node.shutdown_event is not None:
                node.shutdown_event.set()
            for ws in list(node.websockets):
                with contextlib.suppress(Exception):
                    await ws.close(1001, "server shutting down")
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
    config = uvicorn.Config(app, **options)
    server = TickwireServer(config)
    server.node = app.state.node
    return server
