"""The read/write loop every WebSocket endpoint shares.

Exports: ``serve_socket``, ``outbox_for``.

One reader loop per connection, no task per frame: each received frame is handed to
``on_frame`` in order. Writes go through the connection's ``Outbox``: straight to the socket
under uvicorn (``direct``), or from a writer task reading its queue elsewhere. The outbox's
``close(code, reason)`` ends the connection with that code once what it queued is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from exchange.gateway.writers import ws_writer
from exchange.node.delivery import Outbox

__all__ = ["outbox_for", "serve_socket"]

#: Background closes in flight (a reference keeps them from being garbage-collected).
_closing: set[asyncio.Task[None]] = set()


def outbox_for(ws: WebSocket, account: str, high_water: int, limit: int = 10_000) -> Outbox:
    """The connection's outbox: direct when the server exposes the socket."""
    return Outbox(account, limit, direct=ws_writer(ws.scope, high_water))


async def _close(ws: WebSocket, outbox: Outbox) -> None:
    with contextlib.suppress(Exception):
        await ws.close(outbox.close_code or 1000, outbox.close_reason)


async def serve_socket(
    ws: WebSocket, outbox: Outbox, on_frame: Callable[[str | bytes], Awaitable[None]]
) -> None:
    """Feed each received frame to ``on_frame`` until the peer disconnects or the outbox is
    closed; then, if the outbox was closed with a code, close the socket with it."""
    if outbox.direct is None:
        await _serve_queued(ws, outbox, on_frame)
    else:
        await _serve_direct(ws, outbox, on_frame)
    if outbox.close_code is not None:
        await _close(ws, outbox)


async def _serve_direct(
    ws: WebSocket, outbox: Outbox, on_frame: Callable[[str | bytes], Awaitable[None]]
) -> None:
    def close_soon() -> None:
        # the reader is waiting in receive(): closing the socket wakes it (disconnect)
        task = asyncio.ensure_future(_close(ws, outbox))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    outbox.on_close = close_soon
    try:
        while not outbox.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await on_frame(data)
    except WebSocketDisconnect:
        pass
    finally:
        outbox.on_close = None
        outbox.closed = True


async def _serve_queued(
    ws: WebSocket, outbox: Outbox, on_frame: Callable[[str | bytes], Awaitable[None]]
) -> None:
    async def write() -> None:
        while True:
            frame = await outbox.queue.get()
            if frame is None:
                return
            await ws.send({"type": "websocket.send", "text": frame.decode()})

    writer = asyncio.ensure_future(write())
    try:
        while not writer.done():
            recv = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait({recv, writer}, return_when=asyncio.FIRST_COMPLETED)
            if recv not in done:
                recv.cancel()
                with contextlib.suppress(BaseException):
                    await recv
                break
            message = recv.result()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await on_frame(data)
    except WebSocketDisconnect:
        pass
    finally:
        outbox.closed = True
        writer.cancel()
        with contextlib.suppress(BaseException):
            await writer
