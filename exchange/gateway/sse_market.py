"""Market data over Server-Sent Events: ``GET /md/stream`` (PROTOCOL.md section 4).

Exports: ``router`` (the route, for OpenAPI and for servers other than uvicorn),
``serve_sse`` (the ASGI handler; ``exchange.gateway.server`` calls it directly under
uvicorn), ``SSE_HEADERS``.

Under uvicorn the stream is a push subscription of the hub (``MarketHub.attach``): the hub
writes each batch to the socket as one HTTP chunk, the same bytes for every subscriber of the
same filter; the handler task only waits for the client to go away. Heartbeat comments
(``: hb <ns>``) come from one hub timer for all streams, slow readers are found from the
socket's write buffer (conflated, then dropped with ``: disconnected: slow_consumer``), and
``Last-Event-ID`` (header, or ``last_event_id`` in the query) resumes exactly at any depth
within history (the backlog is paced by the connection). Under another server (hypercorn for
HTTP/2) a task per stream reads a pull subscription and sends through ASGI: same bytes, same
rules. docs/architecture.md says what was kept of sse-starlette (nothing at run time).

A client whose ``Accept-Encoding`` takes gzip (or brotli) gets the stream compressed, one
compressor per connection flushed at every batch (``exchange.gateway.content_coding``);
``?compress=0`` declines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from exchange.gateway.content_coding import (
    ENCODINGS,
    CompressedSseFraming,
    StreamCompressor,
    negotiate,
)
from exchange.gateway.deps import Node, parse_filter
from exchange.gateway.writers import HttpStreamWriter, http_stream_writer
from exchange.hub import SlowConsumer, SubscriptionClosed
from exchange.hub.events import SSE_CHUNKED, Framing, http_chunk, parse_conflate

__all__ = ["SSE_HEADERS", "router", "serve_sse"]

log = logging.getLogger("tickwire.sse")
router = APIRouter()

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"vary", b"accept-encoding"),
]


class AsgiEndpoint(Response):
    """A FastAPI return value that hands the request to a raw ASGI handler."""

    def __init__(self, handler: Any, node: Node) -> None:
        super().__init__()
        self.handler = handler
        self.node = node

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.handler(scope, receive, send, self.node)


@router.get(
    "/md/stream",
    summary="Market data over SSE",
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        400: {"description": "unknown symbol or channel, bad conflate window or compress"},
        503: {"description": "SSE is switched off on this server (TRANSPORT_DISABLED)"},
    },
)
async def md_stream(
    request: Request,
    symbols: str | None = None,
    channels: str | None = None,
    conflate: str | None = None,
    last_event_id: str | None = None,
    compress: Literal["0", "1"] | None = None,
) -> Any:
    return AsgiEndpoint(serve_sse, request.app.state.node)


async def send_json(send: Any, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    """A complete JSON response through ASGI ``send``."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def error_body(code: str, message: str) -> bytes:
    import orjson

    return orjson.dumps({"code": code, "message": message})


def query_of(scope: Any) -> dict[str, str]:
    """The query string's parameters (the last of repeated ones wins)."""
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def header_of(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def serve_sse(scope: Any, receive: Any, send: Any, node: Node) -> None:
    """``GET /md/stream`` (see the module docstring)."""
    settings = node.settings
    if "sse" not in settings.transports:
        body = error_body("TRANSPORT_DISABLED", "SSE market data is off on this server")
        await send_json(send, 503, body)
        return
    query = query_of(scope)
    try:
        flt = parse_filter(node, query.get("symbols"), query.get("channels"))
        conflate_ns = parse_conflate(query.get("conflate"))
        coding = _coding(scope, query.get("compress"), settings.sse_encodings)
    except ValueError as exc:
        await send_json(send, 400, error_body("BAD_REQUEST", str(exc)))
        return
    resume_from = header_of(scope, b"last-event-id") or query.get("last_event_id") or None
    head_only = scope.get("method") == "HEAD"
    headers = SSE_HEADERS if coding is None else [*SSE_HEADERS, (b"content-encoding",
                                                                 coding.encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if head_only:
        await send({"type": "http.response.body", "body": b""})
        return
    retry = f"retry: {settings.sse_retry_ms}\n\n".encode()
    compressed: CompressedSseFraming | None = None
    if coding is not None:
        compressed = CompressedSseFraming(StreamCompressor(coding))
        retry = compressed.compressor.compress(retry)
    writer = http_stream_writer(send, settings.subscriber_high_water)
    metrics = node.metrics
    metrics.connections.labels("sse").inc()
    try:
        if writer is not None and not node.shutting_down:
            await send({"type": "http.response.body", "body": retry, "more_body": True})
            await _push(node, receive, send, writer, flt, resume_from, conflate_ns, compressed)
        else:
            await _pull(node, receive, send, retry, flt, resume_from, conflate_ns, compressed)
    finally:
        metrics.connections.labels("sse").dec()


def _coding(scope: Any, compress: str | None, offered: tuple[str, ...]) -> str | None:
    """The content coding of this stream (``None``: identity). ``compress=0`` declines one,
    ``compress=1`` (the default) lets ``Accept-Encoding`` choose; anything else is an error."""
    if compress not in (None, "0", "1"):
        raise ValueError(f"compress must be 0 or 1, not {compress!r}")
    if compress == "0" or not offered:
        return None
    usable = [c for c in offered if c in ENCODINGS]
    return negotiate(header_of(scope, b"accept-encoding"), usable)


async def _push(
    node: Node,
    receive: Any,
    send: Any,
    writer: HttpStreamWriter,
    flt: Any,
    resume_from: str | None,
    conflate_ns: int | None,
    compressed: CompressedSseFraming | None,
) -> None:
    framing: Framing = SSE_CHUNKED if compressed is None else compressed
    sub = node.hub.attach(flt, writer, framing, resume_from, conflate_ns=conflate_ns, kind="sse")
    node.note_resume("sse", sub, resume_from)

    def on_close(closed: Any) -> None:
        if closed.closed_reason == "slow_consumer":
            node.metrics.slow_consumers.labels("sse").inc()
            writer.write(SSE_CHUNKED_REASON if compressed is None else
                         compressed.chunk(SSE_REASON) + compressed.end())  # fmt: skip
            writer.abort()  # a stalled socket never drains: drop it now
        writer.wake()

    sub.add_close_callback(on_close)
    try:
        while not sub.closed:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
    finally:
        sub.close("disconnected")
    if not writer.closing() and writer.buffered():
        writer.abort()  # ended by the server with bytes still unsent: do not wait for them
    if writer.closing():
        # let uvicorn see the connection lost before we return (or it reports an
        # unfinished response)
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    if compressed is not None:
        writer.write(compressed.end())  # the gzip trailer: the client sees a whole stream
    with contextlib.suppress(Exception):
        await send({"type": "http.response.body", "body": b""})


#: Written to a subscriber dropped for not reading (it may never arrive: it is stalled).
SSE_REASON = b": disconnected: slow_consumer\n\n"
SSE_CHUNKED_REASON = http_chunk(SSE_REASON)


async def _pull(
    node: Node,
    receive: Any,
    send: Any,
    retry: bytes,
    flt: Any,
    resume_from: str | None,
    conflate_ns: int | None,
    compressed: CompressedSseFraming | None,
) -> None:
    """The stream through ASGI ``send``, a task per connection (servers other than uvicorn);
    ``retry`` is already compressed when the stream is."""
    sub = node.hub.subscribe(flt, last_id=resume_from, conflate_ns=conflate_ns, kind="sse")
    node.note_resume("sse", sub, resume_from)
    heartbeat = node.settings.sse_heartbeat_s

    compressor = compressed.compressor if compressed is not None else None

    async def body(chunk: bytes) -> None:
        if compressor is not None:
            chunk = compressor.compress(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def stream() -> None:
        await send({"type": "http.response.body", "body": retry, "more_body": True})
        while not node.shutting_down:
            batch = await sub.next_batch(heartbeat)
            if batch:
                await body(b"".join([ev.sse for ev in batch]))
            else:
                await body(b": hb %d\n\n" % time.time_ns())

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    streaming = asyncio.ensure_future(stream())
    watching = asyncio.ensure_future(disconnected())
    client_gone = False
    try:
        await asyncio.wait({streaming, watching}, return_when=asyncio.FIRST_COMPLETED)
        client_gone = watching.done()
        if streaming.done() and not streaming.cancelled():
            exc = streaming.exception()
            if isinstance(exc, SlowConsumer):
                node.metrics.slow_consumers.labels("sse").inc()
                with contextlib.suppress(Exception):
                    await body(SSE_REASON)
            elif exc is not None and not isinstance(exc, SubscriptionClosed):
                raise exc
    finally:
        for task in (streaming, watching):
            task.cancel()
        sub.close()
    if not client_gone:
        with contextlib.suppress(Exception):
            end = compressor.finish() if compressor is not None else b""
            await send({"type": "http.response.body", "body": end})
