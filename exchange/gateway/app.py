"""The FastAPI application factory: routers, middleware and error handlers, nothing else.

Exports: ``create_app``, ``WEB_DIR``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import Scope

from exchange.compiled import engine_build
from exchange.config import Settings
from exchange.gateway import long_poll, replay_api, rest, rtc, sse_market, ws_market, ws_orders
from exchange.gateway.openapi import install_openapi
from exchange.sequencer import JournalFailed
from shared.errors import UNCONFIRMED

__all__ = ["WEB_DIR", "create_app"]

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


def create_app(settings: Settings, node: Any | None = None) -> FastAPI:
    """An app serving ``node`` (built from ``settings`` when not given).

    The app's lifespan starts the node (recovery, group commit, simulator) and stops it
    (final sync and snapshot), so the caller only runs the ASGI server.
    """
    if node is None:
        from exchange.node import ExchangeNode

        node = ExchangeNode(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="tickwire",
        summary="A simulated exchange: order entry over WebSocket, market data over SSE, "
        "long polling and WebSocket",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served below from the pinned swagger-ui-dist (works offline)
        redoc_url=None,
    )
    app.state.node = node

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: Any = exc.detail
        if not isinstance(detail, dict):
            code = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
                exc.status_code, "BAD_REQUEST"
            )
            detail = {"code": code, "message": str(detail)}
        return JSONResponse(detail, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(JournalFailed)
    async def journal_failed(_: Request, exc: JournalFailed) -> JSONResponse:
        # failed closed (Sequencer.failure): nothing unconfirmed was executed
        return JSONResponse({"code": UNCONFIRMED, "message": str(exc)}, 503)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        return JSONResponse({"code": "BAD_REQUEST", "message": message}, 422)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> JSONResponse:
        failure = node.failure
        body: dict[str, Any] = {
            "status": "failed" if failure else "stopping" if node.shutting_down else "ok",
            "epoch": node.meta.epoch,
            "engine": engine_build(),  # "compiled" or "pure (why)"
        }
        if failure is not None:  # a supervisor restarts the server on this
            body["reason"] = str(failure)
        return JSONResponse(body, 503 if failure is not None else 200)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        node.metrics.queue_depth.set(node.queue_depth)
        return Response(node.metrics.render(), media_type="text/plain; version=0.0.4")

    app.include_router(rest.router)
    app.include_router(ws_orders.router)
    app.include_router(ws_market.router)
    app.include_router(sse_market.router)
    app.include_router(long_poll.router)
    app.include_router(replay_api.router)
    rtc.install(app)  # POST /rtc/offer; closes the WebRTC peers when the app stops
    vendor = WEB_DIR / "node_modules" / "lightweight-charts" / "dist"
    if vendor.is_dir():
        app.mount("/vendor/lightweight-charts", StaticFiles(directory=vendor), name="vendor")
    _install_docs(app)
    if WEB_DIR.is_dir():
        app.router.routes.append(_UiMount("/", StaticFiles(directory=WEB_DIR, html=True)))
    install_openapi(app, node)
    return app


def _install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the pinned npm package ``swagger-ui-dist`` (installed with
    the browser's JS packages), so the API docs work on a machine without internet; from
    FastAPI's CDN only when that package is not installed."""
    from fastapi.openapi.docs import get_swagger_ui_html

    assets = WEB_DIR / "node_modules" / "swagger-ui-dist"
    local = (assets / "swagger-ui-bundle.js").is_file()
    if local:
        app.mount("/vendor/swagger-ui", StaticFiles(directory=assets), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        if not local:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="tickwire API")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="tickwire API",
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/vendor/swagger-ui/favicon-32x32.png",
        )


#: Paths that belong to the API: the UI's files never answer for them.
_API_PREFIXES = (
    "/api/", "/md/", "/ws", "/rtc/", "/healthz", "/metrics", "/openapi.json", "/docs",
)  # fmt: skip


class _UiMount(Mount):
    """The browser UI's files at ``/``, except under the API's paths.

    A mount at ``/`` matches every path, so without this a request to an API route with
    another method (``POST /api/symbols``) or an unknown API path was answered by the file
    server (405 ``Allow: GET, HEAD``, or an HTML 404) instead of the API's own 405/404.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") == "http" and scope.get("path", "").startswith(_API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)
