"""One client's peer connection and the registry of all of them.

Exports: ``RtcPeer``, ``RtcPeers``, ``RtcMetrics``, ``NEGOTIATION_TIMEOUT_S``,
``CHANNEL_GRACE_S``, ``MAX_CHANNELS`` (open data channels per peer; more are refused).

Lifecycle contract: a peer is registered (and counted against ``rtc_max_peers`` and in the
``tickwire_rtc_peer_connections`` gauge) from the moment its offer is accepted until its
``RTCPeerConnection`` is closed, which happens exactly once, when the first of these occurs:

* the connection state becomes ``failed`` or ``closed`` (DTLS close, ICE consent expired);
* ICE reports ``disconnected``, or every data channel has closed, and that lasts
  ``CHANNEL_GRACE_S`` seconds;
* no data channel opened within ``NEGOTIATION_TIMEOUT_S`` of the answer (no ICE path);
* the server stops (the node's stop signal, and the app's lifespan exit awaits it).

Closing a peer closes its hub subscriptions, cancels its tasks and frees its sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import Counter, Gauge

from exchange.gateway.deps import Node
from exchange.rtc.channels import BookChannel, TickerChannel, error_message
from shared.errors import BAD_REQUEST

if TYPE_CHECKING:  # aiortc (~30 MiB, most of a second) loads with the first offer
    from aiortc import RTCPeerConnection

__all__ = [
    "CHANNEL_GRACE_S",
    "MAX_CHANNELS",
    "NEGOTIATION_TIMEOUT_S",
    "RtcMetrics",
    "RtcPeer",
    "RtcPeers",
]

log = logging.getLogger("tickwire.rtc")

#: A peer whose data channel has not opened this long after the answer is given up.
NEGOTIATION_TIMEOUT_S = 20.0
#: How long a peer with no open channel (or ICE ``disconnected``) is kept before closing.
CHANNEL_GRACE_S = 2.0

#: Data channels one peer may have open at once (each holds a hub subscription).
MAX_CHANNELS = 4

_ids = itertools.count(1)


class RtcMetrics:
    """The WebRTC series, registered in the node's own Prometheus registry."""

    def __init__(self, registry: Any) -> None:
        self.peers = Gauge(
            "tickwire_rtc_peer_connections", "Open WebRTC peer connections", registry=registry
        )
        self.messages = Counter(
            "tickwire_rtc_messages_sent", "Data-channel messages sent", ["channel"],
            registry=registry,
        )  # fmt: skip
        self.bytes = Counter(
            "tickwire_rtc_bytes_sent", "Data-channel payload bytes sent", ["channel"],
            registry=registry,
        )  # fmt: skip
        self.offers = Counter(
            "tickwire_rtc_offers", "Offers by outcome (answered, bad, full)",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.superseded = Counter(
            "tickwire_rtc_tickers_superseded",
            "Tickers replaced by a newer one while the channel was backed up",
            registry=registry,
        )

    def counters(self, label: str) -> tuple[Any, Any]:
        return self.messages.labels(label), self.bytes.labels(label)


class RtcPeer:
    """One ``RTCPeerConnection`` and the channels its client opened."""

    def __init__(self, peers: RtcPeers, pc: RTCPeerConnection, symbols: str | None) -> None:
        self.id = next(_ids)
        self.peers = peers
        self.pc = pc
        self.symbols = symbols
        self.channels: list[TickerChannel | BookChannel] = []
        self.closed = False
        self._closing: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._grace: asyncio.Task[None] | None = None
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)
        pc.on("iceconnectionstatechange", self._on_state)

    def start_watch(self) -> None:
        """Give up on the peer if no channel opens within ``negotiation_timeout_s``."""
        self._watch = asyncio.create_task(self._negotiation_deadline(), name="rtc-negotiation")

    async def _negotiation_deadline(self) -> None:
        timeout = self.peers.negotiation_timeout_s
        await asyncio.sleep(timeout)
        if not self.channels:
            log.info("rtc peer %d: no data channel after %.1fs", self.id, timeout)
            self.close_soon()

    def _on_datachannel(self, channel: Any) -> None:
        node, metrics = self.peers.node, self.peers.metrics
        label = channel.label
        if self.closed:
            channel.close()
            return
        self.channels = [ch for ch in self.channels if ch.channel.readyState != "closed"]
        try:
            if len(self.channels) >= MAX_CHANNELS:
                raise ValueError(f"at most {MAX_CHANNELS} data channels per peer connection")
            if label == "ticker":
                ch: TickerChannel | BookChannel = TickerChannel(
                    node, channel, metrics.counters(label), self.symbols, metrics.superseded
                )
            elif label == "book":
                ch = BookChannel(node, channel, metrics.counters(label))
            else:
                _refuse(channel, f"unknown channel {label!r}: open 'ticker' or 'book'")
                return
        except ValueError as exc:  # too many channels, or unknown symbols in the offer
            _refuse(channel, str(exc))
            return
        self.channels.append(ch)
        if self._watch is not None:
            self._watch.cancel()
        channel.on("close", self._on_channel_close)

    def _on_channel_close(self) -> None:
        if all(ch.channel.readyState in ("closing", "closed") for ch in self.channels):
            self._start_grace()

    def _on_state(self) -> None:
        pc = self.pc
        if pc.connectionState in ("failed", "closed") or pc.iceConnectionState == "failed":
            self.close_soon()
        elif pc.iceConnectionState == "disconnected":
            self._start_grace()

    def _start_grace(self) -> None:
        if self._grace is None and not self.closed:
            self._grace = asyncio.create_task(self._grace_then_close(), name="rtc-grace")

    async def _grace_then_close(self) -> None:
        await asyncio.sleep(self.peers.grace_s)
        open_channels = any(ch.channel.readyState == "open" for ch in self.channels)
        if open_channels and self.pc.iceConnectionState != "disconnected":
            self._grace = None  # recovered
            return
        self.close_soon()

    def close_soon(self) -> asyncio.Task[None]:
        """Start closing (idempotent); the task finishes when everything is freed."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(), name="rtc-close")
        return self._closing

    async def _close(self) -> None:
        self.closed = True
        current = asyncio.current_task()
        for task in (self._watch, self._grace):
            if task is not None and task is not current:
                task.cancel()
        for ch in self.channels:
            ch.close()
        try:
            await asyncio.wait_for(self.pc.close(), 5.0)
        except Exception:  # a failed close must still release the slot
            log.exception("rtc peer %d: close failed", self.id)
        finally:
            self.peers.discard(self)


def _refuse(channel: Any, text: str) -> None:
    """Say why on the channel, then close it (the peer's other channels go on)."""
    if channel.readyState == "open":
        channel.send(orjson.dumps(error_message(BAD_REQUEST, text)).decode())
    channel.close()


class RtcPeers:
    """Every open peer of one node, the cap, and closing them all at shutdown."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.metrics = RtcMetrics(node.metrics.registry)
        #: see ``NEGOTIATION_TIMEOUT_S`` and ``CHANNEL_GRACE_S`` (per registry, for tests)
        self.negotiation_timeout_s = NEGOTIATION_TIMEOUT_S
        self.grace_s = CHANNEL_GRACE_S
        self.peers: set[RtcPeer] = set()
        self._stop_task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self.peers)

    @property
    def full(self) -> bool:
        return len(self.peers) >= self.node.settings.rtc_max_peers

    def add(self, peer: RtcPeer) -> None:
        self.peers.add(peer)
        self.metrics.peers.set(len(self.peers))
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._close_on_stop(), name="rtc-stop")

    def discard(self, peer: RtcPeer) -> None:
        self.peers.discard(peer)
        self.metrics.peers.set(len(self.peers))

    async def _close_on_stop(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.node.stop_signal().wait()
            await self.close_all()

    async def close_all(self) -> None:
        """Close every peer and wait until all are freed."""
        tasks = [peer.close_soon() for peer in list(self.peers)]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """The app is stopping: close every peer, and the shutdown watcher."""
        await self.close_all()
        if self._stop_task is not None and self._stop_task is not asyncio.current_task():
            self._stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stop_task
            self._stop_task = None
