"""Market-data events as the hub holds them, and the subscription filter.

Exports: ``MdEvent``, ``Filter``, ``CHANNELS``, ``CHANNEL_OF``, ``make_event``, ``encode``,
``parse_conflate``, ``Framing``, ``SSE_CHUNKED``, ``WS_TEXT``, ``POLL_BODY``,
``ws_text_frame``, ``http_chunk``, ``poll_body``.

An ``MdEvent`` is built once per published payload and shared by every subscriber: its
``data`` is the orjson encoding of the payload, and its transport frames (``sse``, ``ws``,
``poll``) are built lazily, at most once, and then shared. Never mutate an ``MdEvent``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "CHANNELS",
    "CHANNEL_OF",
    "POLL_BODY",
    "SSE_CHUNKED",
    "WS_TEXT",
    "Filter",
    "Framing",
    "MdEvent",
    "encode",
    "http_chunk",
    "make_event",
    "parse_conflate",
    "poll_body",
    "ws_text_frame",
]

#: Subscribable channels (PROTOCOL.md section 4).
CHANNELS: frozenset[str] = frozenset({"book", "trades", "ticker", "candles", "status"})

#: Event name -> channel. ``reset`` is on its own channel, which passes every filter.
CHANNEL_OF: dict[str, str] = {
    "snapshot": "book",
    "book": "book",
    "trade": "trades",
    "ticker": "ticker",
    "candle": "candles",
    "status": "status",
    "reset": "reset",
}


class MdEvent:
    """One market-data event at a global ``offset`` (``id`` is ``f"{epoch}-{offset}"``).

    ``data`` is the payload's JSON, encoded once. ``ts`` is the event time in ns (for latency
    measurement). The frame properties return the same ``bytes`` object on every call:

    * ``sse``: ``id:<id>\\nevent:<event>\\ndata:<data>\\n\\n`` (no space after the colons, which
      the SSE grammar allows; it saves three bytes per event);
    * ``ws``: ``{"type":"md.<event>","id":"<id>","data":<data>}``;
    * ``poll``: ``{"id":"<id>","event":"<event>","data":<data>}``, to be spliced into the JSON
      array of a long-poll answer;
    * ``ws_frame``: ``ws`` as an unmasked, uncompressed WebSocket text frame (RFC 6455), the
      bytes a server writes to the socket.
    """

    __slots__ = (
        "_poll", "_sse", "_ws", "_ws_frame", "channel", "data", "event", "id", "offset",
        "symbol", "ts",
    )  # fmt: skip

    def __init__(
        self,
        offset: int,
        id: str,
        event: str,
        symbol: str | None,
        channel: str,
        ts: int,
        data: bytes,
    ) -> None:
        self.offset = offset
        self.id = id
        self.event = event
        self.symbol = symbol
        self.channel = channel
        self.ts = ts
        self.data = data
        self._sse: bytes | None = None
        self._ws: bytes | None = None
        self._poll: bytes | None = None
        self._ws_frame: bytes | None = None

    @property
    def sse(self) -> bytes:
        frame = self._sse
        if frame is None:
            frame = self._sse = b"".join(
                (
                    b"id:",
                    self.id.encode(),
                    b"\nevent:",
                    self.event.encode(),
                    b"\ndata:",
                    self.data,
                    b"\n\n",
                )
            )
        return frame

    @property
    def ws(self) -> bytes:
        frame = self._ws
        if frame is None:
            frame = self._ws = b"".join(
                (
                    b'{"type":"md.',
                    self.event.encode(),
                    b'","id":"',
                    self.id.encode(),
                    b'","data":',
                    self.data,
                    b"}",
                )
            )
        return frame

    @property
    def poll(self) -> bytes:
        frame = self._poll
        if frame is None:
            frame = self._poll = b"".join(
                (
                    b'{"id":"',
                    self.id.encode(),
                    b'","event":"',
                    self.event.encode(),
                    b'","data":',
                    self.data,
                    b"}",
                )
            )
        return frame

    @property
    def ws_frame(self) -> bytes:
        frame = self._ws_frame
        if frame is None:
            frame = self._ws_frame = ws_text_frame(self.ws)
        return frame

    def payload(self) -> Any:
        """The decoded payload (a new object each call; for tests and the rare merge path)."""
        return orjson.loads(self.data)

    def __repr__(self) -> str:
        return f"MdEvent({self.id} {self.event} {self.symbol} {self.data[:60]!r})"


def ws_text_frame(payload: bytes) -> bytes:
    """``payload`` (UTF-8 text) as one final, unmasked WebSocket text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def http_chunk(body: bytes) -> bytes:
    """``body`` as one HTTP/1.1 chunk of a ``Transfer-Encoding: chunked`` response."""
    return b"%x\r\n%b\r\n" % (len(body), body)


class Framing:
    """How a batch of events becomes the bytes written to one kind of connection.

    The hub groups push subscribers by ``(filter, framing)`` and calls ``frame`` once per
    group and batch, so every subscriber of a group is written the same ``bytes`` object.
    A framing that depends on the connection (a compressor with its own state) is one
    instance per connection, so its group has one member. ``keepalive`` is the frame written
    to idle connections every ``keepalive_s`` (``None``: the transport keeps itself alive).
    """

    __slots__ = ("name",)
    #: The bytes depend on the connection's history (a compressor): ``frame`` only when the
    #: result will be written, and never share it.
    stateful = False

    def __init__(self, name: str) -> None:
        self.name = name

    def frame(self, events: list[MdEvent]) -> bytes:
        raise NotImplementedError

    def keepalive(self) -> bytes | None:
        return None

    def __repr__(self) -> str:
        return f"Framing({self.name})"


class _SseChunked(Framing):
    """SSE frames of a batch in one HTTP/1.1 chunk (the response is chunked)."""

    __slots__ = ()

    def frame(self, events: list[MdEvent]) -> bytes:
        return http_chunk(b"".join([ev.sse for ev in events]))

    def keepalive(self) -> bytes | None:
        return http_chunk(b": hb %d\n\n" % time.time_ns())


class _WsText(Framing):
    """One uncompressed WebSocket text frame per event (``{"type":"md.<event>",...}``)."""

    __slots__ = ()

    def frame(self, events: list[MdEvent]) -> bytes:
        return b"".join([ev.ws_frame for ev in events])


def poll_body(events: list[MdEvent], cursor: str) -> bytes:
    """A long-poll answer: ``{"events": [...], "cursor": "<id>"}``."""
    return b"".join(
        (b'{"events":[', b",".join([ev.poll for ev in events]), b'],"cursor":"',
         cursor.encode(), b'"}')
    )  # fmt: skip


class _PollBody(Framing):
    """A whole long-poll answer whose cursor is the batch's last id."""

    __slots__ = ()

    def frame(self, events: list[MdEvent]) -> bytes:
        return poll_body(events, events[-1].id)


#: Server-Sent Events on an HTTP/1.1 chunked response.
SSE_CHUNKED: Framing = _SseChunked("sse")
#: ``md.*`` messages on a WebSocket without compression.
WS_TEXT: Framing = _WsText("ws")
#: The answer to a waiting long poll (the same bytes for every poller of a filter).
POLL_BODY: Framing = _PollBody("poll")


def make_event(
    epoch: str, offset: int, event: str, symbol: str | None, ts: int, payload: Any
) -> MdEvent:
    """Encode ``payload`` once and wrap it. Raises ``ValueError`` on an unknown event name."""
    channel = CHANNEL_OF.get(event)
    if channel is None:
        raise ValueError(f"unknown market-data event {event!r}")
    return MdEvent(offset, f"{epoch}-{offset}", event, symbol, channel, ts, encode(payload))


def encode(payload: Any) -> bytes:
    """orjson bytes trimmed to size, for objects that live long (the history ring).

    orjson 3.13's result keeps its ~4 KiB working buffer (measured: ~4,100 bytes of RSS per
    small payload vs ~170 for a copy), so a 100,000-event history would hold ~400 MB. One
    extra copy (~0.5 us) gives the memory back.
    """
    return memoryview(orjson.dumps(payload)).tobytes()


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events a subscriber wants. ``None`` means all (symbols or channels).

    ``reset`` events pass every filter; an event without a symbol passes any symbol filter.
    Filters are hashable: the hub groups waiting subscribers by filter.
    """

    symbols: frozenset[str] | None = None
    channels: frozenset[str] | None = None

    @classmethod
    def parse(cls, symbols_q: str | None, channels_q: str | None) -> Filter:
        """Parse the ``symbols=A,B`` / ``channels=book,trades`` query values.

        Empty or missing means all. Raises ``ValueError`` naming any unknown channel; symbols
        are not validated here (that is the gateway's job, it knows the symbol list).
        """
        symbols = _split(symbols_q)
        channels = _split(channels_q)
        if channels is not None:
            unknown = sorted(channels - CHANNELS)
            if unknown:
                raise ValueError(
                    f"unknown channel(s) {', '.join(unknown)}; known: {', '.join(sorted(CHANNELS))}"
                )
        return cls(symbols, channels)

    def matches(self, ev: MdEvent) -> bool:
        channels = self.channels
        if channels is not None and ev.channel not in channels and ev.channel != "reset":
            return False
        symbols = self.symbols
        return symbols is None or ev.symbol is None or ev.symbol in symbols

    def wants_channel(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    def wants_symbol(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols

    @property
    def is_all(self) -> bool:
        return self.symbols is None and self.channels is None


_UNITS_NS = {"ms": 1_000_000, "s": 1_000_000_000, "us": 1_000}
#: Longest accepted conflation window.
MAX_CONFLATE_NS = 10 * 1_000_000_000


def parse_conflate(value: str | None) -> int | None:
    """``conflate=`` query value (``"100ms"``, ``"1s"``, ``"500us"``; ``"0"``/empty = off) to
    ns, or ``None`` when off. Raises ``ValueError`` on anything else or above 10 s."""
    if value is None or value.strip() in ("", "0"):
        return None
    text = value.strip()
    for unit in ("ms", "us", "s"):
        if text.endswith(unit):
            number = text[: -len(unit)]
            if number.isascii() and number.isdigit() and len(number) <= 6:
                ns = int(number) * _UNITS_NS[unit]
                if ns > MAX_CONFLATE_NS:
                    raise ValueError(f"conflate window {value!r} is longer than 10s")
                return ns or None
            break
    raise ValueError(f"bad conflate window {value!r}; use e.g. 100ms or 1s")


def _split(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    parts = frozenset(p.strip() for p in value.split(",") if p.strip())
    return parts or None
