"""REST endpoints of PROTOCOL.md sections 2 and 6.

Exports: ``router``, ``SIM_ACCOUNT_PREFIX`` (no session opens for such an account).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from exchange.engine import types as t
from exchange.gateway.commands import new_order
from exchange.gateway.deps import Node, api_error, require_account
from shared.codec import decode_op
from shared.errors import ProtocolError
from shared.models.rest import AccountInfo, SessionResponse, SymbolInfo

__all__ = ["SIM_ACCOUNT_PREFIX", "router"]

router = APIRouter(prefix="/api")

Account = Annotated[str, Depends(require_account)]
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
#: The market simulator's accounts (``exchange.sim.agents``): no session may be opened for one.
SIM_ACCOUNT_PREFIX = "sim-"

#: HTTP status of an order reject, by code (anything else: 422).
_REJECT_STATUS = {
    "DUPLICATE_CLIENT_ORDER_ID": 409,
    "UNKNOWN_ORDER": 404,
    "ORDER_NOT_OPEN": 409,
    "RATE_LIMITED": 429,
    "BAD_REQUEST": 400,
    "INVALID_SYMBOL": 400,
    "NOT_EXECUTED": 503,
}


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account: str = Field(min_length=1, max_length=32)
    secret: str | None = None


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


@router.post(
    "/sessions",
    summary="Log in: a signed, expiring bearer token",
    response_model=None,
    responses={200: {"model": SessionResponse, "description": "The session"}},
)
async def create_session(body: SessionRequest, request: Request) -> dict[str, Any]:
    node = _node(request)
    if not _ACCOUNT_RE.match(body.account):
        raise api_error(400, "BAD_REQUEST", "account: 1-32 characters of [A-Za-z0-9._-]")
    if body.account.startswith(SIM_ACCOUNT_PREFIX):
        # the simulator's accounts keep idempotency keys 120 s, not the >= 24 h PROTOCOL
        # promises traders: nobody else may trade as one
        raise api_error(400, "BAD_REQUEST", f"accounts named {SIM_ACCOUNT_PREFIX}* belong to "
                        "the market simulator: choose another name")  # fmt: skip
    if not node.settings.demo_login and not node.check_account_secret(body.account, body.secret):
        raise api_error(401, "UNAUTHORIZED", "unknown account or wrong secret")
    if node.engine.account_view(body.account) is None and not node.account_create_buckets.take(
        _ip(request)
    ):
        # logging in to an account one already has is free; opening new ones is limited
        # per address, or one client could spread its orders over unlimited accounts
        raise api_error(429, "RATE_LIMITED", "too many new accounts from this address: "
                        "log in to one you already opened, or wait")  # fmt: skip
    try:
        await node.ensure_account(body.account)
    except TimeoutError as exc:  # a cluster gateway got no answer in time (Unconfirmed)
        raise api_error(503, "UNCONFIRMED", str(exc) or "not confirmed in time") from exc
    if node.engine.account_view(body.account) is None:  # the cluster lost it (NOT_EXECUTED)
        raise api_error(503, "NOT_EXECUTED", "the account could not be opened (the exchange "
                        "is recovering): nothing changed, log in again")  # fmt: skip
    token, expires = node.issuer.issue(body.account)
    return {"account": body.account, "token": token, "expires_at": expires}


@router.get(
    "/symbols",
    summary="Tradable symbols and their grids",
    response_model=None,
    responses={200: {"model": list[SymbolInfo], "description": "Every symbol"}},
)
async def symbols(request: Request) -> list[dict[str, Any]]:
    return _node(request).symbol_infos()


def _spec(node: Node, symbol: str) -> None:
    if symbol not in node.engine.specs:
        raise api_error(404, "INVALID_SYMBOL", f"unknown symbol {symbol!r}")


@router.get("/book/{symbol}", summary="The book (snapshot payload), optionally its best N levels")
async def book(symbol: str, request: Request, depth: int | None = None) -> Response:
    node = _node(request)
    _spec(node, symbol)
    if depth is not None and not 1 <= depth <= 10_000:
        raise api_error(400, "BAD_REQUEST", "depth must be within 1..10000")
    return Response(node.book_payload(symbol, depth), media_type="application/json")


@router.get("/trades/{symbol}", summary="Recent trades, newest last")
async def trades(symbol: str, request: Request, limit: int = 100) -> list[dict[str, Any]]:
    node = _node(request)
    _spec(node, symbol)
    if not 1 <= limit <= 1000:
        raise api_error(400, "BAD_REQUEST", "limit must be within 1..1000")
    return node.recent_trades(symbol, limit)


@router.get("/candles/{symbol}", summary="Recent candles, oldest first")
async def candles(
    symbol: str, request: Request, interval: str = "1m", limit: int = 200
) -> list[dict[str, Any]]:
    node = _node(request)
    _spec(node, symbol)
    if interval not in ("1s", "1m"):
        raise api_error(400, "BAD_REQUEST", "interval must be 1s or 1m")
    if not 1 <= limit <= 1000:
        raise api_error(400, "BAD_REQUEST", "limit must be within 1..1000")
    return node.recent_candles(symbol, interval, limit)


@router.get(
    "/account",
    summary="Balances, positions and the latest exec_seq",
    response_model=None,
    responses={200: {"model": AccountInfo, "description": "The account"}},
)
async def account(request: Request, acct: Account) -> dict[str, Any]:
    node = _node(request)
    payload = node.account_payload(acct)
    # the exec_seq these balances reflect; durable (so released) once the wait returns
    payload["latest_exec_seq"] = node.engine.latest_exec_seq(acct)
    await node.durable()  # answer nothing a crash could still undo
    return payload


@router.get("/orders", summary="The account's open orders")
async def open_orders(
    request: Request, acct: Account, symbol: str | None = None
) -> list[dict[str, Any]]:
    node = _node(request)
    orders = [node.render_order(v) for v in node.engine.open_orders(acct, symbol)]
    await node.durable()
    return orders


@router.get("/orders/{client_order_id}", summary="One order in any state")
async def get_order(client_order_id: str, request: Request, acct: Account) -> dict[str, Any]:
    node = _node(request)
    view = node.engine.find_order(acct, client_order_id=client_order_id)
    found = None if view is None else node.render_order(view)
    await node.durable()
    if found is None:
        raise api_error(404, "UNKNOWN_ORDER", "no such order")
    return found


@router.post(
    "/orders", summary="Place an order (Idempotency-Key = client_order_id)", status_code=201
)
async def place_order(
    request: Request,
    acct: Account,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    node = _node(request)
    if not idempotency_key:
        raise api_error(400, "BAD_REQUEST", "the Idempotency-Key header is required")
    raw = await request.body()
    if len(raw) > node.settings.max_frame_bytes:
        raise api_error(413, "BAD_REQUEST", "body over the size limit")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise api_error(400, "BAD_REQUEST", "body is not JSON") from exc
    if not isinstance(body, dict):
        raise api_error(400, "BAD_REQUEST", "body must be a JSON object")
    if "op" in body:
        raise api_error(400, "BAD_REQUEST", "op is not part of the REST body")
    coid = body.setdefault("client_order_id", idempotency_key)
    if coid != idempotency_key:
        raise api_error(400, "BAD_REQUEST", "client_order_id differs from Idempotency-Key")
    try:
        op: Any = decode_op(orjson.dumps({"op": "order.new", **body}))
    except ProtocolError as exc:
        raise api_error(400, exc.code, exc.message) from exc
    if not (node.account_bucket(acct).take() and node.ip_order_buckets.take(_ip(request))):
        raise api_error(429, "RATE_LIMITED", "too many requests")
    events = await _submit(node, new_order(acct, op))
    return _direct_reply(node, events, created=201)


@router.delete("/orders/{client_order_id}", summary="Cancel an order")
async def cancel_order(client_order_id: str, request: Request, acct: Account) -> Response:
    node = _node(request)
    if not (node.account_bucket(acct).take() and node.ip_order_buckets.take(_ip(request))):
        raise api_error(429, "RATE_LIMITED", "too many requests")
    events = await _submit(node, t.CancelOrder(acct, client_order_id=client_order_id))
    return _direct_reply(node, events, created=200)


async def _submit(node: Node, cmd: t.Command) -> list[t.Event]:
    try:
        events: list[t.Event] = await node.submit(cmd, None)
    except TimeoutError as exc:  # a cluster gateway got no answer in time (Unconfirmed)
        raise api_error(503, "UNCONFIRMED", str(exc) or "not confirmed in time") from exc
    return events


def _direct_reply(node: Node, events: list[t.Event], created: int) -> Response:
    first = events[0]
    msg = node.render_private(first)
    if isinstance(first, t.OrderRejected):
        return JSONResponse(msg, _REJECT_STATUS.get(first.code, 422))
    duplicate = bool(getattr(first, "duplicate", False))
    return JSONResponse(msg, 200 if duplicate else created)
