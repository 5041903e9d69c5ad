"""One client's peer connection and the registry of all of them.

Exports: ``RtcPeer``, ``RtcPeers``, ``RtcMetrics``, ``NEGOTIATION_TIMEOUT_S``,
``CHANNEL_GRACE_S``, ``MAX_CHANNELS`` (open data channels per peer; more are refused),
``TOO_MANY_PEERS``.

Admission contract (``RtcPeers.refusal``): per client address, offers are rate limited by a
token bucket (``rtc_offer_rate``/``rtc_offer_burst``: 429 ``RATE_LIMITED``), and at most
``rtc_max_peers_per_ip`` peers, negotiating or open, are kept (429 ``TOO_MANY_PEERS``); in
all, at most ``rtc_max_peers`` (503 ``TOO_MANY_PEERS``). A peer that never connects holds
its slot for ``NEGOTIATION_TIMEOUT_S``.

Lifecycle contract: a peer is registered (and counted against ``rtc_max_peers`` and in the
``tickwire_rtc_peer_connections`` gauge) from the moment its offer is accepted until its
``RTCPeerConnection`` is closed, which happens exactly once, when the first of these occurs:

* the connection state becomes ``failed`` or ``closed`` (DTLS close, ICE consent expired);
* ICE reports ``disconnected``, or every data channel has closed, and that lasts
  ``CHANNEL_GRACE_S`` seconds;
* no data channel opened within ``NEGOTIATION_TIMEOUT_S`` of the answer (no ICE path);
* the server stops (the node's stop signal, and the app's lifespan exit awaits it).

Closing a peer closes its hub subscriptions, cancels its tasks and frees its sockets. A
data channel that closes on its own (the peer's others staying open) is freed at once: its
tasks end and its hub subscription closes.
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
from exchange.gateway.rtc.channels import BookChannel, TickerChannel, error_message
from exchange.node.ratelimit import TokenBucket
from shared.errors import BAD_REQUEST, RATE_LIMITED

if TYPE_CHECKING:  # aiortc (~30 MiB, most of a second) loads with the first offer
    from aiortc import RTCPeerConnection

#: ``error`` code of an offer refused for the peer caps (all peers, or one address's).
TOO_MANY_PEERS = "TOO_MANY_PEERS"

__all__ = [
    "CHANNEL_GRACE_S",
    "MAX_CHANNELS",
    "NEGOTIATION_TIMEOUT_S",
    "TOO_MANY_PEERS",
    "RtcMetrics",
    "RtcPeer",
    "RtcPeers",
]

log = logging.getLogger("tickwire.rtc")

#: A peer whose data channel has not opened this long after the answer is given up.
NEGOTIATION_TIMEOUT_S = 10.0
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
            "tickwire_rtc_offers", "Offers by outcome (answered, bad, full, limited)",
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

    def __init__(
        self, peers: RtcPeers, pc: RTCPeerConnection, symbols: str | None, address: str = ""
    ) -> None:
        self.id = next(_ids)
        self.peers = peers
        #: the client address its offer came from (what the per-address cap counts)
        self.address = address
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
        self._prune()
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
        channel.on("close", lambda: self._on_channel_close(ch))

    def _prune(self) -> None:
        """Free the channels no longer open (their tasks and hub subscriptions): they stop
        counting against ``MAX_CHANNELS``, so their resources must go with them."""
        for ch in self.channels:
            if ch.channel.readyState in ("closing", "closed"):
                ch.close()
        self.channels = [ch for ch in self.channels if ch.channel.readyState not in
                         ("closing", "closed")]  # fmt: skip

    def _on_channel_close(self, ch: TickerChannel | BookChannel) -> None:
        # one channel closed while others may stay open: free its pump and subscription now
        ch.close()
        if ch in self.channels:
            self.channels.remove(ch)
        if all(c.channel.readyState in ("closing", "closed") for c in self.channels):
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


class _Bucket(TokenBucket):
    __slots__ = ()

    def full(self) -> bool:
        """Refilled to the burst by now (an address that stopped offering)."""
        self.take(0.0)
        return self.tokens >= self.burst


#: Offer buckets kept before the full ones (quiet addresses) are forgotten.
_MAX_BUCKETS = 4096


class RtcPeers:
    """Every open peer of one node, the cap, and closing them all at shutdown."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.metrics = RtcMetrics(node.metrics.registry)
        #: see ``NEGOTIATION_TIMEOUT_S`` and ``CHANNEL_GRACE_S`` (per registry, for tests)
        self.negotiation_timeout_s = NEGOTIATION_TIMEOUT_S
        self.grace_s = CHANNEL_GRACE_S
        self.peers: set[RtcPeer] = set()
        self.per_address: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._stop_task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self.peers)

    @property
    def full(self) -> bool:
        return len(self.peers) >= self.node.settings.rtc_max_peers

    def refusal(self, address: str) -> tuple[int, str, str] | None:
        """Why an offer from ``address`` may not open a peer now, as (HTTP status, code,
        message), or None. Takes a token from the address's offer bucket."""
        settings = self.node.settings
        if settings.rtc_offer_rate > 0:
            bucket = self._buckets.get(address)
            if bucket is None:
                if len(self._buckets) >= _MAX_BUCKETS:  # forget addresses that went quiet
                    self._buckets = {a: b for a, b in self._buckets.items() if not b.full()}
                bucket = self._buckets[address] = _Bucket(
                    settings.rtc_offer_rate, settings.rtc_offer_burst
                )
            if not bucket.take():
                rate = settings.rtc_offer_rate
                return 429, RATE_LIMITED, f"over {rate:g} WebRTC offers per second: slow down"
        if self.full:
            return 503, TOO_MANY_PEERS, f"{len(self.peers)} WebRTC peers open: try later"
        cap = settings.rtc_max_peers_per_ip
        if cap and self.per_address.get(address, 0) >= cap:
            return 429, TOO_MANY_PEERS, f"{cap} WebRTC peers open from {address}: close one"
        return None

    def add(self, peer: RtcPeer) -> None:
        self.peers.add(peer)
        self.per_address[peer.address] = self.per_address.get(peer.address, 0) + 1
        self.metrics.peers.set(len(self.peers))
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._close_on_stop(), name="rtc-stop")

    def discard(self, peer: RtcPeer) -> None:
        if peer in self.peers:
            self.peers.discard(peer)
            left = self.per_address.pop(peer.address, 1) - 1
            if left > 0:
                self.per_address[peer.address] = left
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
