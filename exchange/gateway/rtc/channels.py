"""The two data channels a client opens, served from the market-data hub.

Exports: ``TickerChannel``, ``BookChannel``, ``ChannelStats``, ``error_message``,
``MESSAGE_TOO_LARGE``, ``TICKER_BUFFER_BYTES``, ``BOOK_BUFFER_BYTES``.

* ``ticker`` (the client opens it unordered, ``maxRetransmits: 0``): one ``md.ticker`` message
  per update, each self-contained, exactly the /ws/md bytes. While the SCTP send buffer holds
  more than ``TICKER_BUFFER_BYTES`` nothing is queued: the newest ticker of each symbol waits
  in a dict, replacing the one before it, so a backed-up link delivers the latest value when
  it drains instead of a queue of stale ones.
* ``book`` (ordered, reliable): the /ws/md conversation (``subscribe`` with ``symbols``,
  ``channels``, ``after``, ``conflate``; ``unsubscribe``; ``ping``) on the same
  ``MarketPump`` and ``Outbox`` as /ws/md, so ids, payloads, snapshots, exact resume, resets
  and the slow-consumer rule are the hub's, not a copy.

Both channels follow the node's market-data hub when it is replaced (a cluster gateway
rebuilding it): the ticker channel subscribes anew, the book channel resumes after the last
id it sent (exact, or ``reset`` and snapshots), so neither goes silent.

A bad frame (not JSON, unknown op, over the size limit) is answered with an ``error`` message
on the channel it came on; nothing is closed for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from exchange.gateway.deps import Node, parse_filter
from exchange.gateway.ws_market import MarketPump
from exchange.node.delivery import Outbox
from shared.codec import decode_op
from shared.errors import BAD_REQUEST, UNKNOWN_OP, ProtocolError

log = logging.getLogger("tickwire.rtc")

#: ``error`` code sent in place of a message larger than the peer accepts.
MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"

__all__ = [
    "BOOK_BUFFER_BYTES",
    "MESSAGE_TOO_LARGE",
    "TICKER_BUFFER_BYTES",
    "BookChannel",
    "ChannelStats",
    "TickerChannel",
    "error_message",
]

#: Above this many bytes waiting in aiortc's send queue, tickers are held (and superseded).
TICKER_BUFFER_BYTES = 16 * 1024
#: Above this, the book writer waits for the queue to drain; its outbox then fills and the
#: pump stops pulling, so the hub's per-subscriber policy (conflate, then drop) applies.
BOOK_BUFFER_BYTES = 1024 * 1024


@dataclass
class ChannelStats:
    """What one channel sent (also added to the node's Prometheus counters)."""

    messages: int = 0
    bytes: int = 0
    #: tickers replaced by a newer one of their symbol before they were sent
    superseded: int = 0
    #: times the ticker writer found the send buffer above ``TICKER_BUFFER_BYTES`` and held
    backed_up: int = 0


def error_message(code: str, message: str, req_id: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if req_id is not None:
        msg["req_id"] = req_id
    return msg


class _Channel:
    """Shared plumbing: counting, sending text, and decoding client frames."""

    label = ""

    def __init__(self, node: Node, channel: Any, counters: tuple[Any, Any]) -> None:
        self.node = node
        self.channel = channel
        self.stats = ChannelStats()
        self._messages, self._bytes = counters
        self.tasks: list[asyncio.Task[None]] = []
        channel.on("message", self._on_message)

    def send_raw(self, frame: bytes) -> bool:
        """Send one message as text; False once the channel is no longer open.

        A message over the peer's ``a=max-message-size`` (Chromium: 256 KiB; a full-book
        snapshot of a very deep book could be) is not sent: an ``error`` with code
        ``MESSAGE_TOO_LARGE`` and the message's ``id`` is sent in its place."""
        if self.channel.readyState != "open":
            return False
        try:
            self.channel.send(frame.decode())
        except ValueError as exc:  # aiortc refuses a message the peer cannot take
            log.warning("rtc %s channel: %s", self.label, exc)
            refusal = error_message(MESSAGE_TOO_LARGE, f"{len(frame)} bytes")
            refusal["id"] = orjson.loads(frame).get("id")
            with contextlib.suppress(ValueError):  # a peer that takes not even this
                self.channel.send(orjson.dumps(refusal).decode())
            return True
        self.stats.messages += 1
        self.stats.bytes += len(frame)
        self._messages.inc()
        self._bytes.inc(len(frame))
        return True

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(orjson.dumps(message))

    def _on_message(self, data: str | bytes) -> None:
        """Answer one client frame; every failure becomes an ``error`` on this channel."""
        try:
            if len(data) > self.node.settings.max_frame_bytes:
                raise ProtocolError(BAD_REQUEST, "frame over the size limit")
            reply = self._dispatch(decode_op(data))
        except ProtocolError as exc:
            reply = exc.to_error()
        except Exception:  # raised here it would unwind into aiortc's SCTP receive path
            log.exception("rtc %s channel: frame not handled", self.label)
            reply = error_message(BAD_REQUEST, "the server could not handle this frame")
        if reply is not None:
            self.send(reply)

    def _dispatch(self, op: Any) -> dict[str, Any] | None:
        if op.op == "ping":
            return {"type": "pong", "req_id": op.req_id, "server_time": time.time_ns()}
        handler: Callable[[Any], None] | None = getattr(self, "op_" + op.op, None)
        if handler is None:
            text = f"{self.label} channel: only subscribe, unsubscribe and ping"
            raise ProtocolError(UNKNOWN_OP, text, op.req_id)
        try:
            handler(op)
        except ValueError as exc:
            raise ProtocolError(BAD_REQUEST, str(exc), op.req_id) from exc
        return None

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()


class TickerChannel(_Channel):
    """Latest-value tickers for the peer's symbols; ``subscribe`` changes the symbols."""

    label = "ticker"

    def __init__(
        self,
        node: Node,
        channel: Any,
        counters: tuple[Any, Any],
        symbols: str | None,
        superseded: Any,
    ) -> None:
        super().__init__(node, channel, counters)
        self.sub: Any = None
        self._superseded = superseded
        self._start(symbols)

    def _start(self, symbols: str | None) -> None:
        flt = parse_filter(self.node, symbols, "ticker")
        sub = self.node.hub.subscribe(flt, kind="rtc")
        self.close()
        self.sub = sub
        self.tasks = [asyncio.create_task(self._follow(sub, flt), name="rtc-ticker")]

    async def _follow(self, sub: Any, flt: Any) -> None:
        """Serve ``sub``; when its hub closes and the node has a new one (a cluster gateway
        rebuilt its market data), go on from the new hub: tickers are latest-value, so
        there is nothing to resume, only the next ticker of each symbol to wait for."""
        hub = self.node.hub
        while True:
            await self._run(sub)
            if sub.closed_reason != "hub_closed" or self.node.shutting_down:
                return
            if self.node.hub is hub or self.channel.readyState != "open":
                return  # the hub stopped without a successor: the server is stopping
            hub = self.node.hub
            sub = self.sub = hub.subscribe(flt, kind="rtc")
            log.info("rtc ticker channel: followed the market-data hub's replacement")

    def op_subscribe(self, op: Any) -> None:
        if op.channels and set(op.channels) != {"ticker"}:
            raise ValueError('the ticker channel carries only the "ticker" channel')
        if op.after is not None:
            raise ValueError("tickers are latest-value: no resume (after) on this channel")
        symbols = ",".join(op.symbols) if op.symbols else None
        self._start(symbols)
        reply: dict[str, Any] = {"type": "subscribed", "req_id": op.req_id, "channels": ["ticker"]}
        if op.symbols:
            reply["symbols"] = sorted(set(op.symbols))
        self.send(reply)

    def op_unsubscribe(self, op: Any) -> None:
        self.close()
        self.send({"type": "unsubscribed", "req_id": op.req_id})

    async def _run(self, sub: Any) -> None:
        from exchange.hub import SubscriptionClosed

        latest: dict[str | None, Any] = {}
        channel = self.channel
        try:
            while channel.readyState in ("connecting", "open"):
                # when backed up, look again soon: the buffer drains without an event we see
                batch = await sub.next_batch(0.02 if latest else 1.0)
                for ev in batch:
                    if ev.event != "ticker":
                        continue  # a reset passes every filter; it means nothing here
                    if latest.pop(ev.symbol, None) is not None:
                        self.stats.superseded += 1
                        self._superseded.inc()
                    latest[ev.symbol] = ev
                while latest and channel.bufferedAmount <= TICKER_BUFFER_BYTES:
                    symbol = next(iter(latest))
                    if not self.send_raw(latest.pop(symbol).ws):
                        return
                if latest:
                    self.stats.backed_up += 1
        except (SubscriptionClosed, asyncio.CancelledError):
            pass
        finally:
            sub.close()

    def close(self) -> None:
        super().close()
        if self.sub is not None:
            self.sub.close()


class _FollowingPump(MarketPump):
    """A ``MarketPump`` that survives the replacement of the node's hub.

    When its subscription ends with ``hub_closed`` and ``node.hub`` is a new hub (a cluster
    gateway rebuilding its market data from a snapshot), it subscribes there with the same
    filter and conflation, ``after`` the last id it delivered: the new hub answers with the
    exact continuation or a ``reset`` and snapshots, as for any resume, so the client's book
    stays right without a new subscribe. Without a new hub (the server stopping) it ends."""

    def __init__(self, node: Node, outbox: Outbox, sub: Any, transport: str, opts: Any) -> None:
        self.hub = node.hub  # the hub ``sub`` belongs to (start() subscribed just now)
        super().__init__(node, outbox, sub, transport, opts)

    async def _run(self) -> None:
        while True:
            await super()._run()
            sub, node = self.sub, self.node
            if sub.closed_reason != "hub_closed" or self.outbox.closed or node.shutting_down:
                return
            if node.hub is self.hub:
                return
            self.hub = node.hub
            self.sub = self.hub.subscribe(
                sub.filter, last_id=sub.last_id, conflate_ns=sub.conflate_ns, kind=self.transport
            )
            log.info("rtc book channel: resumed on the market-data hub's replacement")


class BookChannel(_Channel):
    """The /ws/md subscribe conversation over a reliable, ordered channel."""

    label = "book"

    def __init__(self, node: Node, channel: Any, counters: tuple[Any, Any]) -> None:
        super().__init__(node, channel, counters)
        self.outbox = Outbox("")
        self.pump: MarketPump | None = None
        self._drained = asyncio.Event()
        channel.bufferedAmountLowThreshold = BOOK_BUFFER_BYTES // 2
        channel.on("bufferedamountlow", self._drained.set)
        self.tasks = [asyncio.create_task(self._write(), name="rtc-book")]

    def _stop_pump(self) -> None:
        if self.pump is not None:
            self.pump.close()
            self.pump = None

    def op_subscribe(self, op: Any) -> None:
        self._stop_pump()
        self.pump = _FollowingPump.start(self.node, self.outbox, op, "rtc")
        self.outbox.send({"type": "subscribed", "req_id": op.req_id, **self.pump.settings()})

    def op_unsubscribe(self, op: Any) -> None:
        self._stop_pump()
        self.outbox.send({"type": "unsubscribed", "req_id": op.req_id})

    def send(self, message: dict[str, Any]) -> None:
        # through the outbox, so replies and errors keep their place among the events
        self.outbox.send(message)

    async def _write(self) -> None:
        channel = self.channel
        queue = self.outbox.queue
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                frame = await queue.get()
                if frame is None:
                    return
                while channel.bufferedAmount > BOOK_BUFFER_BYTES:
                    self._drained.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._drained.wait(), 0.5)
                    if channel.readyState != "open":
                        return
                if not self.send_raw(frame):
                    return

    def close(self) -> None:
        self._stop_pump()
        self.outbox.close()
        super().close()
