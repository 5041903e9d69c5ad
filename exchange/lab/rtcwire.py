"""The lab's WebRTC client: ``exchange.gateway.rtc.RtcMarketClient`` behind the ``MeteredClient``
interface, with its UDP datagrams counted at the socket.

Exports: ``RtcLabClient``, ``open_rtc``, ``check_rtc``, ``rtc_importable``,
``selected_pair``, ``BOOK_CHANNELS``.

Each lab client opens both data channels: ``ticker`` (unordered, ``maxRetransmits: 0``)
carries the tickers, ``book`` (ordered, reliable) carries everything else (book, trades,
candles, status), so it receives the same events as a WebSocket client subscribed to every
channel, over one SCTP association instead of one TCP connection.

Bytes: aioice's ``StunProtocol`` (the asyncio datagram protocol under every ICE candidate)
is wrapped once, class-wide, on import of this module, so every datagram a lab client's
sockets send or receive is counted: STUN connectivity checks and consent refreshes, DTLS
records carrying SCTP (data, SACKs, heartbeats). ``Meter.up``/``down`` are UDP payload bytes
(IP and UDP headers, 28 bytes per IPv4 datagram, are below the socket, as TCP/IP headers are
for the TCP clients) and ``datagrams_up``/``down`` count the datagrams. The count is taken at
the client's sockets only: the server runs in another process.

Receipt time is stamped when aiortc emits the data channel's ``message`` (after its
user-space DTLS and SCTP, which play the part the kernel's TCP plays for the other clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import time
import weakref
from typing import Any

from exchange.lab.wire import Meter, MeteredClient

__all__ = [
    "BOOK_CHANNELS",
    "RtcLabClient",
    "check_rtc",
    "open_rtc",
    "rtc_importable",
    "selected_pair",
]

#: Hub channels asked for on the ``book`` data channel (tickers come on ``ticker``).
BOOK_CHANNELS = ("book", "trades", "candles", "status")


def rtc_importable() -> bool:
    """Whether aiortc is installed (the lab then includes ``rtc`` by default)."""
    return importlib.util.find_spec("aiortc") is not None


# aioice Connection (by id) -> the meter its datagrams count towards; resolved lazily from
# the live lab clients, since RtcMarketClient creates its peer connection inside connect()
_LIVE: weakref.WeakSet[RtcLabClient] = weakref.WeakSet()
_BY_CONNECTION: dict[int, Meter] = {}


def _ice_connection(pc: Any) -> Any:
    """The aioice ``Connection`` under a peer connection's data channels (None before any)."""
    try:
        return pc.sctp.transport.transport.iceGatherer._connection
    except AttributeError:
        return None


def _meter_for(connection: Any) -> Meter | None:
    meter = _BY_CONNECTION.get(id(connection))
    if meter is None:
        for client in list(_LIVE):
            if client.rtc.pc is not None and _ice_connection(client.rtc.pc) is connection:
                meter = _BY_CONNECTION[id(connection)] = client.meter
                client.connection_key = id(connection)
                break
    return meter


def _install_counters() -> None:
    import aioice.ice

    cls: Any = aioice.ice.StunProtocol
    if getattr(cls, "_tickwire_metered", False):
        return
    received, send_data, send_stun = cls.datagram_received, cls.send_data, cls.send_stun

    def datagram_received(self: Any, data: bytes, addr: tuple[Any, ...]) -> None:
        m = _meter_for(self.receiver)
        if m is not None and m.counting:
            m.down += len(data)
            m.datagrams_down += 1
        received(self, data, addr)

    async def metered_send_data(self: Any, data: bytes, addr: tuple[str, int]) -> None:
        m = _meter_for(self.receiver)
        if m is not None and m.counting:
            m.up += len(data)
            m.datagrams_up += 1
        await send_data(self, data, addr)

    def metered_send_stun(self: Any, message: Any, addr: tuple[str, int]) -> None:
        m = _meter_for(self.receiver)
        if m is not None and m.counting:
            m.up += len(bytes(message))
            m.datagrams_up += 1
        send_stun(self, message, addr)

    cls.datagram_received = datagram_received
    cls.send_data = metered_send_data
    cls.send_stun = metered_send_stun
    cls._tickwire_metered = True


def _client_class() -> type[Any]:
    from exchange.gateway.rtc.client import RtcMarketClient

    class LabRtcMarketClient(RtcMarketClient):
        """Hands every message's raw bytes to the lab with its receipt time, instead of
        decoding and queueing it (the lab never iterates; decoding would cost the probe)."""

        sink: Any = None

        def _on_message(self, name: str, data: str | bytes) -> None:
            now = time.time_ns()
            if self.sink is not None:
                self.sink(name, data.encode() if isinstance(data, str) else data, now)

    return LabRtcMarketClient


class RtcLabClient(MeteredClient):
    """One WebRTC market-data client, measured like the TCP ones (see the module docstring).

    ``closed`` resolves when the peer connection ends; ``abort()`` closes it (in a task)."""

    def __init__(
        self,
        url: str,
        meter: Meter,
        resume: str | None,
        connect_timeout: float,
        tickers_only: bool = False,
    ) -> None:
        super().__init__("", 0, meter)
        cls = _client_class()
        self.rtc = cls(
            url,
            channels=("ticker",) if tickers_only else ("ticker", "book"),
            book_channels=BOOK_CHANNELS,
            after=resume,
            connect_timeout=connect_timeout,
        )
        self.rtc.sink = self._message
        self.connection_key = 0
        self.resets = 0
        self._closing: asyncio.Task[None] | None = None

    def _message(self, channel: str, msg: bytes, now: int) -> None:
        if not msg.startswith(b'{"type":"md.'):
            return  # subscribed, error, pong: not market data
        name_end = msg.index(b'"', 12)
        name = msg[12:name_end].decode()
        if name == "reset":
            self.resets += 1
        i = msg.find(b'"id":"')
        ev_id = msg[i + 6 : msg.index(b'"', i + 6)].decode() if i >= 0 else ""
        self.event(ev_id, name, msg, now)

    async def connect(self) -> None:
        _LIVE.add(self)
        await self.rtc.connect()
        if self.connection_key == 0 and self.rtc.pc is not None:
            _meter_for(_ice_connection(self.rtc.pc))

    def abort(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.rtc.aclose()
        _BY_CONNECTION.pop(self.connection_key, None)
        _LIVE.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)

    async def wait_closed(self) -> None:
        if self._closing is not None:
            await self._closing


def selected_pair(client: RtcLabClient) -> dict[str, object]:
    """The ICE candidate pair in use: local and remote address and candidate type."""
    conn = _ice_connection(client.rtc.pc) if client.rtc.pc is not None else None
    pair = getattr(conn, "_nominated", {}).get(1) if conn is not None else None
    if pair is None:
        return {}
    local = pair.local_candidate
    remote = pair.remote_candidate
    return {
        "local": f"{local.host}:{local.port} ({local.type})",
        "remote": f"{remote.host}:{remote.port} ({remote.type})",
        "protocol": local.transport,
    }


async def open_rtc(
    url: str,
    meter: Meter,
    *,
    resume: str | None = None,
    record_ids: bool = False,
    connect_timeout: float = 15.0,
    tickers_only: bool = False,
) -> RtcLabClient:
    """Connect one WebRTC client to ``url`` and return it once both channels are open.

    ``tickers_only`` opens only the ``ticker`` channel. Raises
    ``exchange.gateway.rtc.RtcConnectError`` when signalling is refused or no channel opens
    within ``connect_timeout`` (the peer connection is closed first)."""
    _install_counters()
    client = RtcLabClient(url, meter, resume, connect_timeout, tickers_only)
    client.record_ids = record_ids
    client.started_ns = time.time_ns()
    try:
        await client.connect()
    except BaseException:
        client.abort()
        await client.wait_closed()
        raise
    if not client.connected.done():
        client.connected.set_result(None)
    return client


async def check_rtc(url: str, timeout: float = 20.0) -> dict[str, object]:
    """Try one WebRTC connection: ``{"connected": True, "connect_ms", "ice_pair"}`` or
    ``{"connected": False, "reason"}``; never raises (the lab then goes on without rtc)."""
    if not rtc_importable():
        return {"connected": False, "reason": "aiortc is not installed"}
    try:
        client = await open_rtc(url, Meter(counting=False), connect_timeout=timeout)
    except Exception as exc:  # RtcConnectError, or aiortc/aioice failing underneath
        return {"connected": False, "reason": f"{type(exc).__name__}: {exc}"}
    try:
        await asyncio.sleep(0)
        return {
            "connected": True,
            "connect_ms": round((time.time_ns() - client.started_ns) / 1e6, 3),
            "ice_pair": selected_pair(client),
        }
    finally:
        client.abort()
        await client.wait_closed()
