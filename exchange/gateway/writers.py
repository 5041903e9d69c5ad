"""Writing to a connection from the publishing side, below ASGI: the fast path under uvicorn.

Exports: ``HttpStreamWriter``, ``WsWriter``, ``DeflateFraming``, ``http_stream_writer``,
``ws_writer``.

Market data is pushed: the hub writes each batch to every subscriber's socket itself
(``exchange.hub.push``), which an ASGI ``send`` cannot do (it is a coroutine per call, with
its own flow control that would wait on a stalled reader). Under uvicorn (httptools and the
websockets-sansio protocol, as ``exchange.gateway.server`` runs it) the objects behind
``send`` expose the connection's transport; these writers use it, keeping to what uvicorn
itself does with it:

* ``HttpStreamWriter``: bytes already framed as HTTP/1.1 chunks
  (``exchange.hub.events.SSE_CHUNKED``) written after uvicorn sent the response head and the
  first chunk; the response is ended through ``send`` as usual, which writes the last chunk.
* ``WsWriter``: whole WebSocket frames. Uncompressed frames are the same bytes for every
  subscriber (``WS_TEXT``); when the client negotiated permessage-deflate each connection has
  its own ``DeflateFraming`` (the compressor's state is per connection), and a frame is made
  only when it is about to be written, so compressed frames leave in the order they were made.

``http_stream_writer(send)`` / ``ws_writer(scope)`` return ``None`` under any other server;
the transports then fall back to a task per connection and ASGI ``send``.
"""

from __future__ import annotations

from typing import Any

from exchange.hub.events import WS_TEXT, Framing, MdEvent, ws_text_frame

__all__ = [
    "DeflateFraming",
    "HttpStreamWriter",
    "WsWriter",
    "http_stream_writer",
    "ws_writer",
]


class HttpStreamWriter:
    """A uvicorn (httptools) response cycle's transport, for a streamed chunked response."""

    __slots__ = ("cycle", "high_water", "transport")

    def __init__(self, cycle: Any, high_water: int) -> None:
        self.cycle = cycle
        self.transport = cycle.transport
        self.high_water = high_water

    def ready(self) -> bool:
        return (
            not self.cycle.disconnected
            and self.transport.get_write_buffer_size() < self.high_water
            and not self.transport.is_closing()
        )

    def offer(self, data: bytes) -> bool:
        transport = self.transport
        if self.cycle.disconnected or transport.get_write_buffer_size() >= self.high_water:
            return False
        transport.write(data)
        return True

    def write(self, data: bytes) -> None:
        if not self.closing():
            self.transport.write(data)

    def buffered(self) -> int:
        size: int = self.transport.get_write_buffer_size()
        return size

    def closing(self) -> bool:
        return bool(self.cycle.disconnected or self.transport.is_closing())

    def wake(self) -> None:
        """Wake the handler waiting in ``receive()`` (it then sees its subscription closed)."""
        self.cycle.message_event.set()

    def abort(self) -> None:
        """Drop the connection now (a stalled reader would never take a clean end)."""
        self.transport.abort()


def http_stream_writer(send: Any, high_water: int) -> HttpStreamWriter | None:
    """The writer behind uvicorn's httptools ``send``, or ``None`` (another server, or ASGI
    middleware wrapping ``send``)."""
    cycle = getattr(send, "__self__", None)
    needed = ("transport", "disconnected", "message_event", "response_complete")
    if cycle is None or not all(hasattr(cycle, name) for name in needed):
        return None
    return HttpStreamWriter(cycle, high_water)


class WsWriter:
    """A uvicorn websockets-sansio connection: whole frames onto its transport."""

    __slots__ = ("conn", "deflate", "high_water", "proto", "transport")

    def __init__(self, proto: Any, high_water: int) -> None:
        self.proto = proto
        self.conn = proto.conn
        self.transport = proto.transport
        self.high_water = high_water
        #: The client negotiated permessage-deflate: frames go through the connection's own
        #: compressor (``DeflateFraming``, ``send_text``).
        self.deflate = bool(proto.conn.extensions)

    def closing(self) -> bool:
        proto = self.proto
        return bool(proto.close_sent or proto.disconnected or self.transport.is_closing())

    def ready(self) -> bool:
        proto = self.proto
        return (
            not proto.close_sent
            and not proto.disconnected
            and proto.writable.is_set()
            and self.transport.get_write_buffer_size() < self.high_water
        )

    def offer(self, data: bytes) -> bool:
        proto = self.proto
        transport = self.transport
        if (
            proto.close_sent
            or proto.disconnected
            or transport.get_write_buffer_size() >= self.high_water
        ):
            return False
        transport.write(data)
        return True

    def write(self, data: bytes) -> None:
        if not self.closing():
            self.transport.write(data)

    def buffered(self) -> int:
        size: int = self.transport.get_write_buffer_size()
        return size

    def send_text(self, payload: bytes) -> None:
        """One text message (compressed when negotiated), written now."""
        if self.closing():
            return
        if self.deflate:
            self.conn.send_text(payload)
            self.transport.write(b"".join(self.conn.data_to_send()))
        else:
            self.transport.write(ws_text_frame(payload))

    def send_texts(self, payloads: list[bytes]) -> None:
        """Several text messages in one socket write (in order)."""
        if self.closing():
            return
        if self.deflate:
            conn = self.conn
            for payload in payloads:
                conn.send_text(payload)
            self.transport.write(b"".join(conn.data_to_send()))
        else:
            self.transport.write(b"".join([ws_text_frame(p) for p in payloads]))

    def framing(self) -> Framing:
        """The market-data framing for this connection."""
        return DeflateFraming(self) if self.deflate else WS_TEXT

    async def drained(self) -> None:
        """Wait until the transport takes writes again (uvicorn's flow control)."""
        await self.proto.writable.wait()


class DeflateFraming(Framing):
    """``md.*`` messages through one connection's permessage-deflate compressor.

    ``stateful``: the bytes depend on what was compressed before, so the hub frames a batch
    only when the connection is ready and then writes it unconditionally."""

    __slots__ = ("writer",)
    stateful = True

    def __init__(self, writer: WsWriter) -> None:
        super().__init__("ws-deflate")
        self.writer = writer

    def frame(self, events: list[MdEvent]) -> bytes:
        conn = self.writer.conn
        for ev in events:
            conn.send_text(ev.ws)
        return b"".join(conn.data_to_send())


def ws_writer(scope: Any, high_water: int) -> WsWriter | None:
    """The writer of a WebSocket connection under uvicorn's websockets-sansio protocol (put
    in the scope by ``exchange.gateway.server.ExposeTransport``), or ``None``."""
    proto = scope.get("tickwire.ws_protocol")
    needed = ("conn", "transport", "close_sent", "disconnected", "writable")
    if proto is None or not all(hasattr(proto, name) for name in needed):
        return None
    return WsWriter(proto, high_water)
