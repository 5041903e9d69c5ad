"""Request helpers shared by the transports: the node, authentication, origin checks.

Exports: ``Node``, ``authenticate_ws``, ``check_origin_ws``, ``deny``, ``require_account``,
``api_error``, ``parse_filter``, ``origin_allowed``, ``host_allowed``, ``host_name``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse

from exchange.node.auth import AuthError, bearer_from_header

if TYPE_CHECKING:
    from exchange.node import ExchangeNode as Node
else:
    Node = Any

__all__ = [
    "Node",
    "api_error",
    "authenticate_ws",
    "check_origin_ws",
    "deny",
    "host_allowed",
    "host_name",
    "origin_allowed",
    "parse_filter",
    "require_account",
]


class ApiError(HTTPException):
    """An HTTP error answered as ``{"code": ..., "message": ...}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail={"code": code, "message": message})


def api_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


def origin_allowed(
    origin: str | None, host: str | None, allowed: tuple[str, ...], scheme: str = "http"
) -> bool:
    """No ``Origin`` (a non-browser client) is fine; a browser must come from an allowed
    origin, or, when no list is configured, from the same scheme (``http`` or ``https``:
    ``ws``/``wss`` count as those), host and port the request was sent to. The ``Host`` itself
    is checked against ``allowed_hosts`` first (``host_allowed``): equal to a rebinding
    name, it would prove nothing."""
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    if allowed:
        return False
    parts = urlsplit(origin)
    expected = "https" if scheme in ("https", "wss") else "http"
    return parts.scheme == expected and parts.netloc == (host or "")


def host_name(host: str) -> str:
    """The name of a ``Host`` header value: no port, no brackets, lower case."""
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host[1:]
    else:
        name, sep, port = host.rpartition(":")
        if not sep or not port.isdigit() or ":" in name:  # no port, or a bare IPv6 address
            name = host
    return name.rstrip(".").lower()


def host_allowed(host: str | None, names: frozenset[str] | None) -> bool:
    """``Host`` names one of ``names`` (``Settings.host_names()``; None: any host)."""
    if names is None:
        return True
    return host is not None and host_name(host) in names


async def deny(ws: WebSocket, status: int, message: str) -> None:
    """Refuse a WebSocket handshake with a plain HTTP response (before the upgrade)."""
    code = "UNAUTHORIZED" if status == 401 else "FORBIDDEN"
    await ws.send_denial_response(JSONResponse({"code": code, "message": message}, status))


async def check_origin_ws(ws: WebSocket) -> bool:
    node: Node = ws.app.state.node
    if origin_allowed(
        ws.headers.get("origin"),
        ws.headers.get("host"),
        node.settings.allowed_origins,
        ws.scope.get("scheme", "ws"),
    ):
        return True
    await deny(ws, 403, "origin not allowed")
    return False


def authenticate_ws(ws: WebSocket) -> str:
    """The account of the handshake's token (header or ``?token=``); PermissionError if none."""
    node: Node = ws.app.state.node
    token = bearer_from_header(ws.headers.get("authorization")) or ws.query_params.get("token")
    try:
        return str(node.issuer.verify(token))
    except AuthError as exc:
        raise PermissionError(str(exc)) from exc


def require_account(request: Request) -> str:
    """FastAPI dependency: the account of the ``Authorization: Bearer`` token, or 401.

    REST takes the header only: ``?token=`` is for browser WebSockets, which cannot set
    headers, and a token in a URL ends up in proxies' logs, histories and referrers."""
    node: Node = request.app.state.node
    token = bearer_from_header(request.headers.get("authorization"))
    if token is None and "token" in request.query_params:
        raise api_error(401, "UNAUTHORIZED", "REST takes the token in an Authorization: "
                        "Bearer header, not ?token=")  # fmt: skip
    try:
        return str(node.issuer.verify(token))
    except AuthError as exc:
        raise api_error(401, "UNAUTHORIZED", str(exc)) from exc


#: Filters parsed from query strings, by (symbols, channels, known symbols): a stream or a
#: poll asks with the same strings again and again. Bounded: beyond it, parse every time.
_FILTERS: dict[tuple[str | None, str | None, int], Any] = {}
_MAX_CACHED_FILTERS = 4096


def parse_filter(node: Node, symbols: str | None, channels: str | None) -> Any:
    """A hub ``Filter`` from query strings; unknown symbols or channels raise ``ValueError``."""
    from exchange.hub import Filter

    specs = node.engine.specs
    key = (symbols, channels, id(specs))
    flt = _FILTERS.get(key)
    if flt is not None:
        return flt
    flt = Filter.parse(symbols, channels)
    if flt.symbols is not None:
        unknown = sorted(s for s in flt.symbols if s not in specs)
        if unknown:
            raise ValueError(f"unknown symbols: {', '.join(unknown)}")
    if len(_FILTERS) < _MAX_CACHED_FILTERS:
        _FILTERS[key] = flt
    return flt
