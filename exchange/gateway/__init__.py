"""The gateway: the FastAPI app and its thin transport adapters.

Exports ``create_app`` (app.py). Modules: ``ws_orders`` (order entry on ``/ws``),
``ws_market`` (market data on ``/ws`` and ``/ws/md``), ``sse_market`` (``/md/stream``),
``long_poll`` (``/md/poll``), ``rtc`` (WebRTC market data, a subpackage loaded only when
enabled), ``rest`` (``/api``), ``server`` (uvicorn with a clean shutdown), ``deps`` (shared
request helpers), ``wsconn`` (the socket loop),
``edge`` (connection limits in uvicorn's HTTP protocol), ``logs`` (rate-limited client
warnings, token redaction). Tokens, rate limits, private routing and metrics belong to the
node (``exchange.node``): the gateway serves them, the node holds them.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from exchange.gateway.app import create_app

        return create_app
    raise AttributeError(name)
