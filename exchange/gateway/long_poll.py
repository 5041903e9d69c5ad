"""Market data over long polling: ``GET /md/poll`` (PROTOCOL.md section 5).

Exports: ``router`` (the route, for OpenAPI and for servers other than uvicorn),
``serve_poll`` (the ASGI handler; ``exchange.gateway.server`` calls it directly under
uvicorn).

Answers at once when events are pending after ``cursor`` (at most ``poll_page_events`` per
answer: a deeper backlog comes in pages, each exact), otherwise holds the request until
something is, or until ``timeout`` (then an empty list and the same cursor). A held request
is a one-shot push subscriber of the hub: the answer body is built once per filter and batch
and shared by every poller waiting on it. Stateless between requests, so it works behind any
load balancer without sticky sessions.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from exchange.gateway.deps import Node, parse_filter
from exchange.gateway.sse_market import AsgiEndpoint, error_body, query_of, send_json
from exchange.hub.events import POLL_BODY, poll_body

__all__ = ["router", "serve_poll"]

router = APIRouter()

_NO_STORE = [(b"cache-control", b"no-store")]


@router.get(
    "/md/poll",
    summary="Market data by long polling",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "events and the next cursor"},
        400: {"description": "unknown symbol or channel, bad timeout"},
        503: {"description": "long polling is switched off on this server"},
    },
)
async def md_poll(
    request: Request,
    symbols: str | None = None,
    channels: str | None = None,
    cursor: str | None = None,
    timeout: float = Query(25.0, ge=0, le=30),
) -> Any:
    return AsgiEndpoint(serve_poll, request.app.state.node)


class _Answer:
    """The writer of a held poll: the first batch the hub offers answers it."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[bytes]) -> None:
        self.future = future

    def ready(self) -> bool:
        return not self.future.done()

    def offer(self, data: bytes) -> bool:
        if not self.future.done():
            self.future.set_result(data)
        return True

    write = offer

    def buffered(self) -> int:
        return 1 << 62 if self.future.done() else 0

    def closing(self) -> bool:
        return self.future.done()


async def serve_poll(scope: Any, receive: Any, send: Any, node: Node) -> None:
    """``GET /md/poll`` (see the module docstring)."""
    settings = node.settings
    if "poll" not in settings.transports:
        await send_json(send, 503, error_body("TRANSPORT_DISABLED", "long polling is off"))
        return
    query = query_of(scope)
    limit = settings.poll_max_timeout_s
    try:
        flt = parse_filter(node, query.get("symbols"), query.get("channels"))
        timeout = float(query.get("timeout", min(25.0, limit)))
        if not 0 <= timeout <= limit or math.isnan(timeout):
            raise ValueError(f"timeout must be within 0..{limit:g}")
    except ValueError as exc:
        await send_json(send, 400, error_body("BAD_REQUEST", str(exc)))
        return
    if scope.get("method") == "HEAD":  # the answer's head only: nothing waits, nothing read
        await send_json(send, 200, b"", _NO_STORE)
        return
    cursor = query.get("cursor") or None
    hub = node.hub
    metrics = node.metrics
    answer = hub.poll_now(flt, cursor, settings.poll_page_events)
    if answer is not None:
        events, next_cursor = answer
        if cursor:
            reset = any(e.event == "reset" for e in events)
            metrics.resume_counter("poll", "reset" if reset else "exact").inc()
        hub.stats.delivered["poll"] += len(events)
        await send_json(send, 200, poll_body(events, next_cursor), _NO_STORE)
        return
    if cursor:
        metrics.resume_counter("poll", "exact").inc()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bytes] = loop.create_future()
    waiting_from = cursor or hub.last_id
    # held polls are counted by the hub (tickwire_md_subscribers{transport="poll"})
    sub = hub.attach(flt, _Answer(future), POLL_BODY, waiting_from, kind="poll", count_exact=False)
    sub.add_close_callback(lambda _: _expire(future, waiting_from))  # the hub closed: answer
    timer = loop.call_later(timeout, _expire, future, waiting_from)
    try:
        body = await future
    finally:
        timer.cancel()
        sub.close()
    await send_json(send, 200, body, _NO_STORE)


def _expire(future: asyncio.Future[bytes], cursor: str) -> None:
    if not future.done():
        future.set_result(poll_body([], cursor))
