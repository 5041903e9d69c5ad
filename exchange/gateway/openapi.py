"""The OpenAPI document, made to say exactly what the server does.

Exports: ``install_openapi``.

FastAPI derives the document from the route signatures, which leaves out what the handlers
check themselves (the market-data routes are served below FastAPI, the order body is
decoded by the protocol codec, errors are ``{"code", "message"}``). ``install_openapi``
replaces ``app.openapi`` with FastAPI's document amended here: every error status a route
can answer, with its body; the real shapes of 422 answers; the patterns, enums and ranges
the handlers enforce (account names, symbols of this server, channels, the conflate window,
the poll timeout); the bearer scheme; the order and WebRTC offer bodies; ``/metrics`` as
Prometheus text. ``tests/gateway/test_openapi_conformance.py`` holds it to that with
schemathesis against a running server.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_REJECT = {"anyOf": [{"$ref": "#/components/schemas/OrderReject"}, _ERROR]}
_CHANNELS = ("book", "trades", "ticker", "candles", "status")
#: ``exchange.hub.events.parse_conflate``: empty or 0 (off), up to 10 s in us, ms or s.
_CONFLATE = r"^(0|[0-9]{1,6}us|([0-9]{1,4}|10000)ms|([0-9]|10)s)?$"
#: ``rest._ACCOUNT_RE``, without the simulator's ``sim-`` names.
_ACCOUNT = r"^(?!sim-)[A-Za-z0-9._-]{1,32}$"
_DECIMAL = r"^[0-9]{1,18}(\.[0-9]{1,18})?$"
#: Query parameters of the REST reads that the handlers check themselves (answering 400).
_RANGES: dict[str, dict[str, Any]] = {
    "depth": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1_000},
    "interval": {"type": "string", "enum": ["1s", "1m"], "default": "1m"},
}

_DESCRIPTIONS = {
    400: "Bad request (``code`` says which check failed)",
    401: "No valid bearer token",
    403: "Origin not allowed",
    404: "Not found",
    409: "Conflicts with the order's state or an earlier order",
    413: "Body too large",
    422: "Refused: invalid parameters or body, or an order the engine rejects",
    429: "Rate limited",
    503: "Unavailable (switched off, stopping, or not confirmed in time)",
}

#: (method, path) -> error statuses the handler answers; an entry of ``_REJECT`` statuses
#: answers the order reject body instead of ``Error``.
_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/api/sessions"): (400, 401, 503),
    ("get", "/api/book/{symbol}"): (400, 404),
    ("get", "/api/trades/{symbol}"): (400, 404),
    ("get", "/api/candles/{symbol}"): (400, 404),
    ("get", "/api/account"): (401,),
    ("get", "/api/orders"): (401,),
    ("get", "/api/orders/{client_order_id}"): (401, 404),
    ("post", "/api/orders"): (400, 401, 409, 413, 429, 503),
    ("delete", "/api/orders/{client_order_id}"): (401, 404, 409, 429, 503),
    ("get", "/md/stream"): (400, 503),
    ("get", "/md/poll"): (400, 503),
    ("post", "/api/replay"): (400, 404),
    ("post", "/rtc/offer"): (400, 401, 403, 413, 429, 503),
}
_REJECTS = {("post", "/api/orders"), ("delete", "/api/orders/{client_order_id}")}
_AUTHENTICATED = {
    ("get", "/api/account"),
    ("get", "/api/orders"),
    ("get", "/api/orders/{client_order_id}"),
    ("post", "/api/orders"),
    ("delete", "/api/orders/{client_order_id}"),
}


def install_openapi(app: FastAPI, node: Any) -> None:
    """Serve the amended document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            _amend(doc, node)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _amend(doc: dict[str, Any], node: Any) -> None:
    settings = node.settings
    symbols = sorted(sp.symbol for sp in node.symbol_specs)
    one_symbol = "|".join(_escape(s) for s in symbols)
    symbol_list = rf"^({one_symbol})(,({one_symbol}))*$"
    channel = "|".join(_CHANNELS)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }
    schemas["OrderReject"] = {
        "type": "object",
        "required": ["type", "code", "message"],
        "properties": {
            "type": {"const": "order.reject"},
            "client_order_id": {"type": ["string", "null"]},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    }
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    if "SessionRequest" in schemas:
        schemas["SessionRequest"]["properties"]["account"]["pattern"] = _ACCOUNT

    for item in doc.get("paths", {}).values():  # every GET answers HEAD (server.py)
        if "get" in item and "head" not in item:
            head = copy.deepcopy(item["get"])
            head["operationId"] = f"{head.get('operationId', 'op')}_head"
            head["summary"] = f"{head.get('summary', '')} (head only)".strip()
            item["head"] = head
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            key = ("get" if method == "head" else method, path)
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_response(422, _ERROR)
            for status in _ERRORS.get(key, ()):
                body = _REJECT if key in _REJECTS and status != 401 else _ERROR
                responses[str(status)] = _error_response(status, body)
            if key in _AUTHENTICATED:
                op["security"] = [{"bearer": []}]
            for param in op.get("parameters", ()):
                schema = param.setdefault("schema", {})
                name = param["name"]
                if name == "symbol" and param["in"] == "path":
                    schema.clear()
                    schema.update({"type": "string", "enum": symbols})
                elif name == "symbols" and path.startswith("/md/"):
                    schema.clear()
                    schema.update({"type": "string", "pattern": symbol_list})
                elif name == "channels" and path.startswith("/md/"):
                    schema.clear()
                    schema.update({"type": "string", "pattern": rf"^({channel})(,({channel}))*$"})
                elif name == "conflate":
                    schema.clear()
                    schema.update({"type": "string", "pattern": _CONFLATE})
                elif name == "timeout" and path == "/md/poll":
                    top = settings.poll_max_timeout_s
                    schema.clear()
                    schema.update(
                        {"type": "number", "minimum": 0, "maximum": top, "default": min(25, top)}
                    )
                elif name in _RANGES and path.startswith("/api/"):
                    schema.clear()
                    schema.update(_RANGES[name])
            if key == ("post", "/api/orders"):
                _order_body(op, symbols)
            if key == ("post", "/rtc/offer"):
                op["requestBody"] = _json_body(
                    {
                        "type": "object",
                        "required": ["sdp", "type"],
                        "properties": {
                            "sdp": {"type": "string", "minLength": 1},
                            "type": {"const": "offer"},
                        },
                    }
                )
    metrics = doc.get("paths", {}).get("/metrics", {})
    for op in metrics.values():
        op["responses"]["200"] = {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }


def _order_body(op: dict[str, Any], symbols: list[str]) -> None:
    params = [p for p in op.get("parameters", ()) if p["name"].lower() != "idempotency-key"]
    params.append(
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "the order's client_order_id",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        }
    )
    op["parameters"] = params
    op["requestBody"] = _json_body(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["symbol", "side", "order_type", "qty"],
            "properties": {
                "client_order_id": {"type": "string", "description": "= Idempotency-Key"},
                "symbol": {"type": "string", "enum": symbols},
                "side": {"type": "string", "enum": ["buy", "sell"]},
                "order_type": {"type": "string", "enum": ["limit", "market", "stop", "stop_limit"]},
                "qty": {"type": "string", "pattern": _DECIMAL},
                "price": {"type": ["string", "null"], "pattern": _DECIMAL},
                "tif": {"type": ["string", "null"], "enum": ["gtc", "ioc", "fok", None]},
                "post_only": {"type": "boolean"},
                "stop_price": {
                    "type": ["string", "null"],
                    "pattern": _DECIMAL,
                    "description": "stop and stop_limit orders: the trade price that triggers",
                },
            },
        }
    )


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body of ``schema``."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _error_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": body}},
    }


def _escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?()[]{}|\-" else c for c in text)
