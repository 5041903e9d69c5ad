"""Market data over long polling: ``GET /md/poll`` (PROTOCOL.md section 5).

Exports: ``router``.

Answers at once when events are pending after ``cursor``, otherwise holds the request until
something is, or until ``timeout`` (then an empty list and the same cursor). The response
body is spliced from the hub's pre-encoded event fragments. Stateless between requests, so
it works behind any load balancer without sticky sessions.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from exchange.gateway.deps import Node, api_error, parse_filter

__all__ = ["router"]

router = APIRouter()


@router.get("/md/poll", summary="Market data by long polling")
async def md_poll(
    request: Request,
    symbols: str | None = None,
    channels: str | None = None,
    cursor: str | None = None,
    timeout: float = 25.0,
) -> Any:
    node: Node = request.app.state.node
    if "poll" not in node.settings.transports:
        raise api_error(503, "TRANSPORT_DISABLED", "long polling is off on this server")
    if not 0 <= timeout <= node.settings.poll_max_timeout_s:
        raise api_error(
            400, "BAD_REQUEST", f"timeout must be within 0..{node.settings.poll_max_timeout_s:g}"
        )
    try:
        flt = parse_filter(node, symbols, channels)
    except ValueError as exc:
        raise api_error(400, "BAD_REQUEST", str(exc)) from exc
    node.metrics.connections.labels("poll").inc()
    try:
        events, new_cursor = await node.hub.poll(flt, cursor, timeout)
    finally:
        node.metrics.connections.labels("poll").dec()
    if cursor:
        node.metrics.resumes.labels(
            "poll", "reset" if any(e.event == "reset" for e in events) else "exact"
        ).inc()
    node.metrics.messages_out.labels("poll", "md").inc(len(events))
    body = b"".join(
        [
            b'{"events":[',
            b",".join([ev.poll for ev in events]),
            b'],"cursor":',
            orjson.dumps(new_cursor),
            b"}",
        ]
    )
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
