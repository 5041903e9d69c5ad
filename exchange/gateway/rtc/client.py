"""A Python (aiortc) client of the WebRTC market-data transport, for tests, the lab and people.

Exports: ``RtcMarketClient``, ``RtcClientStats``, ``RtcConnectError``.

Use::

    async with RtcMarketClient("http://127.0.0.1:8000", symbols=["BTC-USD"]) as c:
        async for channel, msg in c:          # channel is "ticker" or "book"
            ...                               # msg is the decoded JSON object
        c.stats                               # RtcClientStats (counts, bytes, timings)

Constructor (keyword arguments after ``base_url``):

* ``symbols``: symbols for both channels (``None``: all).
* ``channels``: which data channels to open, a subset of ``("ticker", "book")``.
* ``book_channels``: hub channels requested on the ``book`` data channel (default
  ``("book",)``: snapshots and deltas; any of book, trades, ticker, candles, status).
* ``after``: a market-data id to resume the ``book`` channel from (exact, or ``md.reset`` and
  snapshots, as on /ws/md). ``conflate``: e.g. ``"100ms"``, as on /ws/md.
* ``token``: optional bearer token (sent as ``Authorization``).
* ``ice_servers``: STUN/TURN URLs as in ``Settings.rtc_ice_servers`` (default none).
* ``connect_timeout``: seconds for signalling + ICE + DTLS + SCTP until every requested
  channel is open; beyond it ``RtcConnectError`` (the caller falls back to WebSocket).
* ``ordered_ticker``: test hook; ``True`` opens ``ticker`` ordered and reliable instead.

On entry the client POSTs its offer to ``/rtc/offer`` (``?symbols=`` carries the ticker
symbols), waits for the channels to open and sends ``{"op": "subscribe", "req_id": 1,
"symbols": [...], "channels": [...], "after": ...}`` on ``book``. Iteration yields every
message of both channels in arrival order, including ``subscribed``, ``error`` and
``md.reset``; it ends when the peer connection closes (``closed_reason`` says why) or on
``aclose``. ``await c.next(timeout)`` returns one item or raises ``TimeoutError``.
``await c.send("book", {...})`` sends any op (e.g. a new ``subscribe`` with ``after``).
``c.last_book_id`` is the id of the last ``md.*`` message on ``book`` (resume from it).
``c.wire_stats()`` gives DTLS-level bytes and packets both ways (for bytes-on-the-wire).

The client gathers candidates only on loopback when ``base_url`` is a loopback address (see
``exchange.gateway.rtc.ice``), so tests never use another interface. Messages are JSON text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from aiortc import RTCPeerConnection, RTCSessionDescription

from exchange.gateway.rtc.ice import gather_addresses, ice_configuration, is_loopback_host

__all__ = ["RtcClientStats", "RtcConnectError", "RtcMarketClient"]

_LOOPBACK = ("127.0.0.1", "::1")
_CLOSED = ("", None)


class RtcConnectError(ConnectionError):
    """Signalling was refused (``status`` and ``body`` of the answer) or no channel opened in
    time (``status`` is None); ``str()`` says which. Fall back to WebSocket."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class RtcClientStats:
    """Counters of one client. Times are seconds from entering the context."""

    messages: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    signalling_s: float | None = None
    connect_s: float | None = None
    first_message_s: float | None = None
    errors: int = 0
    resets: int = 0


class RtcMarketClient:
    """See the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        symbols: Sequence[str] | None = None,
        channels: Sequence[str] = ("ticker", "book"),
        book_channels: Sequence[str] = ("book",),
        after: str | None = None,
        conflate: str | None = None,
        token: str | None = None,
        ice_servers: Sequence[str] = (),
        connect_timeout: float = 15.0,
        ordered_ticker: bool = False,
    ) -> None:
        unknown = [c for c in channels if c not in ("ticker", "book")]
        if unknown or not channels:
            raise ValueError(f"channels must be a non-empty subset of ticker, book: {unknown}")
        self.base_url = base_url.rstrip("/")
        self.symbols = list(symbols) if symbols else None
        self.channel_names = tuple(channels)
        self.book_channels = list(book_channels)
        self.after = after
        self.conflate = conflate
        self.token = token
        self.ice_servers = tuple(ice_servers)
        self.connect_timeout = connect_timeout
        self.ordered_ticker = ordered_ticker
        self.stats = RtcClientStats()
        self.last_book_id: str | None = None
        self.closed_reason: str | None = None
        self.pc: RTCPeerConnection | None = None
        self.channels: dict[str, Any] = {}
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._t0 = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> RtcMarketClient:
        try:
            await self.connect()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Signal, connect and subscribe (what ``async with`` does on entry)."""
        self._t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        pc = self.pc = RTCPeerConnection(ice_configuration(self.ice_servers))
        pc.on("connectionstatechange", self._on_state)
        opened = {name: loop.create_future() for name in self.channel_names}
        for name in self.channel_names:
            if name == "ticker" and not self.ordered_ticker:
                ch = pc.createDataChannel("ticker", ordered=False, maxRetransmits=0)
            else:
                ch = pc.createDataChannel(name)
            self._wire(name, ch, opened[name])
        host = urlsplit(self.base_url).hostname
        with gather_addresses(_LOOPBACK if is_loopback_host(host) else None):
            await pc.setLocalDescription(await pc.createOffer())
        answer = await self._signal(pc)
        self.stats.signalling_s = time.perf_counter() - self._t0
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        try:
            async with asyncio.timeout(self.connect_timeout):
                await asyncio.gather(*opened.values())
        except TimeoutError as exc:
            state = pc.connectionState
            raise RtcConnectError(
                f"no data channel open after {self.connect_timeout:g}s (connection {state})"
            ) from exc
        self.stats.connect_s = time.perf_counter() - self._t0
        if "book" in self.channels:
            await self.subscribe(after=self.after)

    async def _signal(self, pc: RTCPeerConnection) -> dict[str, Any]:
        local = pc.localDescription
        assert local is not None
        params = {"symbols": ",".join(self.symbols)} if self.symbols else {}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            # plain http makes no TLS context (httpx loads the CA bundle per client: ~30 ms)
            verify = not self.base_url.startswith("http://")
            async with httpx.AsyncClient(timeout=self.connect_timeout, verify=verify) as http:
                r = await http.post(
                    f"{self.base_url}/rtc/offer",
                    json={"sdp": local.sdp, "type": local.type},
                    params=params,
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            raise RtcConnectError(f"signalling failed: {exc!r}") from exc
        try:
            body = r.json()
        except ValueError:
            body = r.text
        if r.status_code != 200 or not isinstance(body, dict) or body.get("type") != "answer":
            raise RtcConnectError(
                f"signalling refused: {r.status_code} {body}", r.status_code, body
            )
        return body

    def _wire(self, name: str, ch: Any, opened: asyncio.Future[None]) -> None:
        self.channels[name] = ch

        @ch.on("open")
        def _open() -> None:
            if not opened.done():
                opened.set_result(None)

        @ch.on("message")
        def _message(data: str | bytes) -> None:
            self._on_message(name, data)

        @ch.on("close")
        def _close() -> None:
            if all(c.readyState == "closed" for c in self.channels.values()):
                self._end("channels closed")

    def _on_message(self, name: str, data: str | bytes) -> None:
        st = self.stats
        st.messages[name] = st.messages.get(name, 0) + 1
        st.bytes[name] = st.bytes.get(name, 0) + len(data)
        if st.first_message_s is None:
            st.first_message_s = time.perf_counter() - self._t0
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            msg = {"type": "error", "code": "CLIENT_DECODE", "message": repr(data[:80])}
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "error":
            st.errors += 1
        elif kind == "md.reset":
            st.resets += 1
        if name == "book" and isinstance(kind, str) and kind.startswith("md."):
            self.last_book_id = msg.get("id")
        self._queue.put_nowait((name, msg))

    def _on_state(self) -> None:
        pc = self.pc
        if pc is not None and pc.connectionState in ("failed", "closed"):
            self._end(f"connection {pc.connectionState}")

    def _end(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._queue.put_nowait(_CLOSED)

    async def aclose(self) -> None:
        """Close the peer connection (idempotent); iteration ends."""
        self._end("closed by the client")
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()

    # ------------------------------------------------------------------ use

    def wire_stats(self) -> dict[str, int]:
        """Bytes and packets of DTLS records (the UDP payloads) sent and received so far:
        ``bytes_sent``, ``bytes_received``, ``packets_sent``, ``packets_received``. Add 28
        bytes per packet for the IPv4 and UDP headers. ICE consent checks (one STUN exchange
        every ~5 s) are not included. Zeros before the connection is up or after it closed."""
        empty = {"bytes_sent": 0, "bytes_received": 0, "packets_sent": 0, "packets_received": 0}
        sctp = self.pc.sctp if self.pc is not None else None
        if sctp is None:
            return empty
        # aiortc has no public per-transport counters for data channels: its DTLS transport's
        # own stats method is the one place they are kept
        for stats in sctp.transport._get_stats().values():
            return {
                "bytes_sent": stats.bytesSent,
                "bytes_received": stats.bytesReceived,
                "packets_sent": stats.packetsSent,
                "packets_received": stats.packetsReceived,
            }
        return empty

    async def subscribe(
        self, *, after: str | None = None, symbols: Sequence[str] | None = None
    ) -> None:
        """(Re)subscribe the ``book`` channel; ``after`` resumes exactly after that id."""
        op: dict[str, Any] = {"op": "subscribe", "req_id": 1, "channels": self.book_channels}
        chosen = list(symbols) if symbols else self.symbols
        if chosen:
            op["symbols"] = chosen
        if after:
            op["after"] = after
        if self.conflate:
            op["conflate"] = self.conflate
        await self.send("book", op)

    async def send(self, channel: str, message: dict[str, Any] | str) -> None:
        """Send an op (or raw text) on ``channel``."""
        ch = self.channels[channel]
        ch.send(message if isinstance(message, str) else orjson.dumps(message).decode())

    async def next(self, timeout: float | None = None) -> tuple[str, Any]:
        """The next ``(channel, message)``; ``TimeoutError`` after ``timeout`` seconds,
        ``StopAsyncIteration`` once closed."""
        if self.closed_reason is not None and self._queue.empty():
            raise StopAsyncIteration
        async with asyncio.timeout(timeout):
            item = await self._queue.get()
        if item is _CLOSED or item == _CLOSED:
            self._queue.put_nowait(_CLOSED)  # later calls end too
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[str, Any]]:
        while True:
            try:
                yield await self.next()
            except StopAsyncIteration:
                return
