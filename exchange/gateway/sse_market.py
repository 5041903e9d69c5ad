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

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from exchange.gateway.deps import Node, api_error, parse_filter
from exchange.gateway.ws_market import parse_conflate

__all__ = ["router"]

router = APIRouter()

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _heartbeat() -> ServerSentEvent:
    return ServerSentEvent(comment=f"hb {time.time_ns()}")


class _StoppableStream(EventSourceResponse):
    """sse-starlette's response, ended by *this app's* stop signal.

    sse-starlette ends streams on a process-wide exit flag that it sets from uvicorn's signal
    handler; that neither covers a server stopped without a signal (tests, ``tickwire
    cluster``) nor lets us abort one stream whose socket write is blocked. Here the stream
    ends when ``stop`` is set: by the node at shutdown, or by the hub when it drops this
    subscriber as a slow consumer. The task group then cancels a blocked send, so a stalled
    reader cannot hold the connection (or the shutdown) open.
    """

    def __init__(self, *args: Any, stop: anyio.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop = stop

    async def _listen_for_exit_signal_with_grace(self) -> None:
        await self._stop.wait()
        # the subscription is closed too, so the generator ends by itself: give it a moment
        # to do so, which lets the response finish cleanly (the last chunk is sent)
        with anyio.move_on_after(1.0):
            while self.active:
                await anyio.sleep(0.02)


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
    stop = node.stop_signal()
    transport = request.scope.get("tickwire.transport")

    def on_close(closed: Any) -> None:
        if closed.closed_reason == "slow_consumer":
            node.metrics.slow_consumers.labels("sse").inc()
            if transport is not None:  # its socket may never drain: drop it now
                transport.abort()
        stop.set()

    sub.add_close_callback(on_close)
    if transport is not None:
        node.stream_transports.add(transport)
    return _StoppableStream(
        _frames(node, sub),
        headers=SSE_HEADERS,
        ping=node.settings.sse_heartbeat_s,
        ping_message_factory=_heartbeat,
        send_timeout=30,
        stop=stop,
    )


async def _frames(node: Node, sub: Any) -> AsyncIterator[bytes]:
    from exchange.hub import SlowConsumer, SubscriptionClosed

    metrics = node.metrics
    metrics.connections.labels("sse").inc()
    out = metrics.messages_out.labels("sse", "md")
    try:
        yield f"retry: {node.settings.sse_retry_ms}\n\n".encode()
        while not node.shutting_down:
            # no timeout: the hub's close (shutdown) or the slow-consumer drop ends the wait,
            # and a deadline costs a timeout context per wake (the hub's fast path has none)
            batch = await sub.next_batch()
            if batch:
                out.inc(len(batch))
                yield b"".join([ev.sse for ev in batch])
    except SlowConsumer as exc:  # counted by the close callback
        yield f": disconnected: {exc}\n\n".encode()
    except SubscriptionClosed:
        pass
    finally:
        metrics.connections.labels("sse").dec()
        sub.close()
