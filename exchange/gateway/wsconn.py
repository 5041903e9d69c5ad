"""The read/write loop every WebSocket endpoint shares.

Exports: ``serve_socket``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from exchange.gateway.router import Outbox

__all__ = ["serve_socket"]


async def _write(ws: WebSocket, outbox: Outbox) -> None:
    while True:
        frame = await outbox.queue.get()
        if frame is None:
            return
        await ws.send({"type": "websocket.send", "text": frame.decode()})


async def serve_socket(
    ws: WebSocket, outbox: Outbox, on_frame: Callable[[str | bytes], Awaitable[None]]
) -> None:
    """Feed each received frame to ``on_frame`` and write the outbox, until the peer
    disconnects or the outbox is closed (after its queued frames are written)."""
    writer = asyncio.create_task(_write(ws, outbox))
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
