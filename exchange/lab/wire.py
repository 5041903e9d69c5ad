"""Market-data clients that count every byte at the socket and time every event.

Exports: ``Meter``, ``MeteredClient``, ``SseClient``, ``PollClient``, ``WsClient``,
``ChunkedDecoder``, ``event_offset`` (``exchange.lab.clients.open_client`` opens one of
any transport, WebRTC included).

Each client is an ``asyncio.Protocol`` on a plain TCP connection that speaks HTTP/1.1 (and
RFC 6455 through the ``websockets`` sans-I/O protocol) itself, so ``Meter.up``/``Meter.down``
are exactly the bytes handed to and received from the kernel: request and response headers,
chunked-transfer framing, WebSocket framing (and masking), every long-poll request. TCP/IP
headers and retransmissions are below the socket and not counted.

Latency is ``time.time_ns()`` at ``data_received`` minus the event's ``ts`` (server clock,
same host or same kernel clock across namespaces), one sample per event that carries ``ts``.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import orjson
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from exchange.lab.staleness import TickerLog

__all__ = [
    "ChunkedDecoder",
    "Meter",
    "MeteredClient",
    "PollClient",
    "SseClient",
    "WsClient",
    "event_offset",
]


def event_offset(event_id: str) -> int:
    """The global offset inside an opaque ``<epoch>-<offset>`` id (-1 if it has none)."""
    try:
        return int(event_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


@dataclass
class Meter:
    """What one client saw. ``counting`` gates bytes, events and latencies (not ids/firsts)."""

    counting: bool = True
    up: int = 0
    down: int = 0
    events: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    keep_ids: bool = False
    datagrams_up: int = 0  # UDP transports (rtc) only: datagrams sent and received
    datagrams_down: int = 0

    def reset(self) -> None:
        self.up = self.down = self.events = 0
        self.datagrams_up = self.datagrams_down = 0
        self.latencies_ns = []
        self.ids = []


class ChunkedDecoder:
    """Incremental HTTP/1.1 chunked-transfer decoder: ``feed(raw)`` returns the payload bytes."""

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0  # payload bytes still due in the current chunk
        self._crlf = 0  # CRLF bytes still due after a chunk's payload
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf + data
        out: list[bytes] = []
        i = 0
        while i < len(buf) and not self.done:
            if self._left:
                take = buf[i : i + self._left]
                out.append(take)
                self._left -= len(take)
                i += len(take)
                if not self._left:
                    self._crlf = 2
            elif self._crlf:
                skip = min(self._crlf, len(buf) - i)
                self._crlf -= skip
                i += skip
            else:
                j = buf.find(b"\r\n", i)
                if j < 0:
                    break
                size = int(buf[i:j].split(b";", 1)[0], 16)
                i = j + 2
                if size == 0:
                    self.done = True
                self._left = size
        self._buf = buf[i:]
        return b"".join(out)


class MeteredClient(asyncio.Protocol):
    """Base: counts bytes, timestamps the connection, dispatches events to ``on_event``.

    ``connected`` resolves when the TCP connection is up; ``first_event_ns`` is the receipt
    time of the first event (any kind) and ``first_live_ns`` of the first one carrying ``ts``.
    ``closed`` resolves when the connection ends. ``last_id`` is the last event id seen.
    """

    def __init__(self, host: str, port: int, meter: Meter) -> None:
        self.host = host
        self.port = port
        self.meter = meter
        self.transport: asyncio.Transport | None = None
        self.started_ns = time.time_ns()
        self.first_event_ns = 0
        self.first_live_ns = 0
        self.last_id: str | None = None
        self.received_ids: list[str] = []
        self.record_ids = False
        self.ticker_log: TickerLog | None = None  # set to record every ticker (staleness)
        self.on_event: Callable[[str, str, int], None] | None = None
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    # -- transport side ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        if not self.connected.done():
            self.connected.set_result(None)
        self.start()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        if self.meter.counting:
            self.meter.down += len(data)
        self.received(data, now)

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.meter.counting:
            self.meter.up += len(data)
        self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- event side ----------------------------------------------------------------------
    def event(self, event_id: str, name: str, data: bytes, now: int) -> None:
        """One decoded event: count it, time it (``ts`` in ``data``), remember its id."""
        if not self.first_event_ns:
            self.first_event_ns = now
        if event_id:
            self.last_id = event_id
            if self.record_ids:
                self.received_ids.append(event_id)
        if name == "ticker" and self.ticker_log is not None:
            self.ticker_log.add(now, data, event_id)
        ts = _ts(data)
        if ts and not self.first_live_ns:
            self.first_live_ns = now
        m = self.meter
        if m.counting:
            m.events += 1
            if ts:
                m.latencies_ns.append(now - ts)
        if self.on_event is not None:
            self.on_event(event_id, name, now)

    def start(self) -> None:  # pragma: no cover - subclasses send their request
        raise NotImplementedError

    def received(self, data: bytes, now: int) -> None:  # pragma: no cover
        raise NotImplementedError


def _ts(data: bytes) -> int:
    """The payload's top-level ``ts`` (0 if absent); a byte scan, not a full parse."""
    i = data.find(b'"ts":')
    if i < 0:
        return 0
    j = k = i + 5
    while k < len(data) and 48 <= data[k] <= 57:
        k += 1
    return int(data[j:k]) if k > j else 0


def _request(host: str, port: int, path: str, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class SseClient(MeteredClient):
    """``GET /md/stream`` (optionally with ``Last-Event-ID``), parsed as it streams.

    ``coding`` (``gzip``, ``br``) asks for the stream compressed (``Accept-Encoding``) and
    decodes it as it arrives; ``coding_agreed`` is the server's ``Content-Encoding``."""

    def __init__(
        self,
        host: str,
        port: int,
        meter: Meter,
        query: dict[str, str],
        resume: str | None,
        coding: str | None = None,
    ) -> None:
        super().__init__(host, port, meter)
        headers = {"Accept": "text/event-stream"}
        if resume:
            headers["Last-Event-ID"] = resume
        if coding:
            headers["Accept-Encoding"] = coding
        self.coding_agreed: str | None = None
        self._decode: Callable[[bytes], bytes] | None = None
        path = "/md/stream" + (f"?{urlencode(query)}" if query else "")
        self.request = _request(host, port, path, headers)
        self._head = b""
        self._in_body = False
        self._chunked = ChunkedDecoder()
        self._text = b""

    def start(self) -> None:
        self.write(self.request)

    def received(self, data: bytes, now: int) -> None:
        if not self._in_body:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._head[:end].lower()
            data, self._head, self._in_body = self._head[end + 4 :], b"", True
            i = head.find(b"\r\ncontent-encoding:")
            if i >= 0:
                self.coding_agreed = head[i + 19 :].split(b"\r\n", 1)[0].strip().decode()
                self._decode = _decoder(self.coding_agreed)
        body = self._chunked.feed(data)
        if body and self._decode is not None:
            body = self._decode(body)
        if not body:
            return
        text = self._text + body
        cut = text.rfind(b"\n\n")
        if cut < 0:
            self._text = text
            return
        self._text = text[cut + 2 :]
        for block in text[:cut].split(b"\n\n"):
            ev_id, name, payload = "", "message", b""
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    payload = line[5:].lstrip(b" ")
                elif line.startswith(b"id:"):
                    ev_id = line[3:].strip().decode()
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode()
            if payload:
                self.event(ev_id, name, payload, now)


def _decoder(coding: str) -> Callable[[bytes], bytes]:
    """An incremental decoder of one ``Content-Encoding`` stream."""
    if coding == "br":
        import brotli

        return brotli.Decompressor().process
    if coding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    raise ValueError(f"the server answered with an unknown Content-Encoding {coding!r}")


class PollClient(MeteredClient):
    """``GET /md/poll`` in a loop on one keep-alive connection, cursor from each answer."""

    def __init__(
        self, host: str, port: int, meter: Meter, query: dict[str, str], resume: str | None
    ) -> None:
        super().__init__(host, port, meter)
        self.query = dict(query)
        self.cursor = resume
        self._buf = b""
        self._need = -1  # body length once the head is read

    def start(self) -> None:
        self._ask()

    def _ask(self) -> None:
        q = dict(self.query, timeout="25")
        if self.cursor:
            q["cursor"] = self.cursor
        self.write(_request(self.host, self.port, f"/md/poll?{urlencode(q)}"))

    def received(self, data: bytes, now: int) -> None:
        self._buf += data
        while True:
            if self._need < 0:
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self._buf[:end].lower()
                i = head.find(b"content-length:")
                self._need = int(head[i + 15 :].split(b"\r\n", 1)[0]) if i >= 0 else 0
                self._buf = self._buf[end + 4 :]
            if len(self._buf) < self._need:
                return
            body, self._buf, self._need = self._buf[: self._need], self._buf[self._need :], -1
            answer = orjson.loads(body) if body else {}
            for ev in answer.get("events", ()):
                self.event(ev["id"], ev["event"], orjson.dumps(ev["data"]), now)
            self.cursor = answer.get("cursor", self.cursor)
            self._ask()


class WsClient(MeteredClient):
    """``/ws/md`` + ``subscribe`` (``after`` to resume), on ``websockets``' sans-I/O protocol."""

    def __init__(
        self,
        host: str,
        port: int,
        meter: Meter,
        query: dict[str, str],
        resume: str | None,
        deflate: bool = False,
    ) -> None:
        super().__init__(host, port, meter)
        ext = [ClientPerMessageDeflateFactory()] if deflate else None
        self.proto = ClientProtocol(parse_uri(f"ws://{host}:{port}/ws/md"), extensions=ext)
        sub: dict[str, object] = {"op": "subscribe", "req_id": 1}
        for key in ("symbols", "channels", "conflate"):
            if key in query:  # the SSE query's comma lists are JSON lists here
                sub[key] = query[key] if key == "conflate" else query[key].split(",")
        if resume:
            sub["after"] = resume
        self.subscribe = orjson.dumps(sub)
        self.deflate_agreed = False

    def start(self) -> None:
        self.proto.send_request(self.proto.connect())
        self._flush()

    def _flush(self) -> None:
        out = self.proto.data_to_send()
        if out:
            self.write(b"".join(out))

    def received(self, data: bytes, now: int) -> None:
        self.proto.receive_data(data)
        for item in self.proto.events_received():
            if isinstance(item, Response):
                self.deflate_agreed = bool(self.proto.extensions)
                self.proto.send_text(self.subscribe)
            elif isinstance(item, Frame) and item.opcode is Opcode.TEXT:
                msg = bytes(item.data)
                if msg.startswith(b'{"type":"md.'):
                    name_end = msg.index(b'"', 12)
                    i = msg.index(b'"id":"') + 6
                    ev_id = msg[i : msg.index(b'"', i)].decode()
                    self.event(ev_id, msg[12:name_end].decode(), msg, now)
        self._flush()


TRANSPORT_CLASSES: dict[str, type[MeteredClient]] = {
    "ws": WsClient,
    "sse": SseClient,
    "poll": PollClient,
}
