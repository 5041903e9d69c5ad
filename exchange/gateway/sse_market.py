"""Market data over Server-Sent Events: ``GET /md/stream`` (PROTOCOL.md section 4).

Exports: ``router``.

Built on sse-starlette (disconnect detection, send timeout, heartbeat). The events are the
hub's pre-encoded SSE frames: one encoding shared by every subscriber, concatenated per batch
into one write. ``Last-Event-ID`` (header, or ``last_event_id`` in the query) resumes exactly.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from exchange.gateway.deps import Node, api_error, parse_filter
from exchange.gateway.ws_market import parse_conflate

__all__ = ["router"]

router = APIRouter()

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _heartbeat() -> ServerSentEvent:
    return ServerSentEvent(comment=f"hb {time.time_ns()}")


@router.get("/md/stream", summary="Market data over SSE", response_class=EventSourceResponse)
async def md_stream(
    request: Request,
    symbols: str | None = None,
    channels: str | None = None,
    conflate: str | None = None,
    last_event_id: str | None = None,
) -> Any:
    node: Node = request.app.state.node
    if "sse" not in node.settings.transports:
        raise api_error(503, "TRANSPORT_DISABLED", "SSE market data is off on this server")
    try:
        flt = parse_filter(node, symbols, channels)
        conflate_ns = parse_conflate(conflate)
    except ValueError as exc:
        raise api_error(400, "BAD_REQUEST", str(exc)) from exc
    resume_from = request.headers.get("last-event-id") or last_event_id
    sub = node.hub.subscribe(flt, last_id=resume_from, conflate_ns=conflate_ns, kind="sse")
    node.note_resume("sse", sub, resume_from)
    return EventSourceResponse(
        _frames(node, sub),
        headers=SSE_HEADERS,
        ping=node.settings.sse_heartbeat_s,
        ping_message_factory=_heartbeat,
        send_timeout=30,
        shutdown_event=node.shutdown_event,
    )


async def _frames(node: Node, sub: Any) -> AsyncIterator[bytes]:
    from exchange.hub import SlowConsumer, SubscriptionClosed

    metrics = node.metrics
    metrics.connections.labels("sse").inc()
    out = metrics.messages_out.labels("sse", "md")
    try:
        yield f"retry: {node.settings.sse_retry_ms}\n\n".encode()
        while not node.shutting_down:
            batch = await sub.next_batch(1.0)
            if batch:
                out.inc(len(batch))
                yield b"".join([ev.sse for ev in batch])
    except SlowConsumer as exc:
        metrics.slow_consumers.labels("sse").inc()
        yield f": disconnected: {exc}\n\n".encode()
    except SubscriptionClosed:
        pass
    finally:
        metrics.connections.labels("sse").dec()
        sub.close()
