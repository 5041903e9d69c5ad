"""Market data over WebSocket: ``subscribe`` on ``/ws`` or on ``/ws/md`` (no token needed).

Exports: ``router`` (``/ws/md``), ``MarketFeed``, ``MarketPump``.

Messages are ``{"type": "md.<event>", "id": ..., "data": ...}``, the hub's pre-encoded bytes
(one encoding shared by every subscriber). ``subscribe`` takes ``after`` (an event id) for an
exact resume, with the same reset rule as SSE.

Under uvicorn a subscription is a push subscription of the hub: the hub writes each batch to
the socket, the same frames for every subscriber of a filter (one compressor per connection
when the client negotiated permessage-deflate), in the same event-loop turn as SSE. Under
another server (and for WebRTC's book channel) a ``MarketPump`` task moves a pull
subscription into the connection's outbox.

When the server ends a subscription while it runs on (a cluster gateway rebuilding its
market-data hub), ``/ws/md`` closes with 1012 (service restart) and ``/ws`` sends an ``error``
``SUBSCRIPTION_ENDED``: the client subscribes again with ``after`` (a stop closes with 1001).
A subscriber too slow to keep up gets ``error`` ``SLOW_CONSUMER``; ``/ws/md`` is then closed
(1008, the socket aborted if it cannot take even that), on ``/ws`` only the subscription ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, WebSocket

from exchange.gateway.deps import Node, check_origin_ws, parse_filter
from exchange.gateway.wsconn import outbox_for, serve_socket
from exchange.hub.events import parse_conflate
from exchange.node.delivery import Outbox
from shared.codec import decode_op
from shared.errors import ProtocolError

__all__ = ["MarketFeed", "MarketPump", "router"]

router = APIRouter()

#: Frames allowed to wait in a connection's outbox before the pump stops pulling from the
#: hub; beyond this the hub's per-subscriber policy (conflate, then disconnect) applies.
_OUTBOX_HIGH_WATER = 256
#: The /ws/md close code when the server ended the subscription (service restart).
CLOSE_SERVICE_RESTART = 1012
CLOSE_POLICY = 1008


def _csv(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _request(node: Node, op: Any) -> tuple[Any, int | None, str | None, dict[str, Any]]:
    """(filter, conflate ns, after, the settings to echo) of a ``subscribe`` op; raises
    ``ValueError`` on an unknown symbol or channel or a bad conflate window."""
    symbols = getattr(op, "symbols", None)
    channels = getattr(op, "channels", None)
    flt = parse_filter(node, _csv(symbols), _csv(channels))
    conflate = getattr(op, "conflate", None)
    conflate_ns = parse_conflate(conflate)
    after = getattr(op, "after", None)
    echo = {
        "symbols": sorted(flt.symbols) if flt.symbols is not None else None,
        "channels": sorted(flt.channels) if flt.channels is not None else None,
        "after": after,
        "conflate": conflate if conflate_ns else None,
    }
    return flt, conflate_ns, after, {k: v for k, v in echo.items() if v is not None}


class MarketPump:
    """Moves a hub (pull) subscription's events into an outbox, respecting backpressure."""

    def __init__(self, node: Node, outbox: Outbox, sub: Any, transport: str, opts: dict[str, Any]):
        self.node = node
        self.outbox = outbox
        self.sub = sub
        self.transport = transport
        self.opts = opts
        self.task = asyncio.create_task(self._run())

    @classmethod
    def start(cls, node: Node, outbox: Outbox, op: Any, transport: str) -> MarketPump:
        flt, conflate_ns, after, echo = _request(node, op)
        sub = node.hub.subscribe(flt, last_id=after, conflate_ns=conflate_ns, kind=transport)
        node.note_resume(transport, sub, after)
        return cls(node, outbox, sub, transport, echo)

    def settings(self) -> dict[str, Any]:
        return dict(self.opts)

    async def _run(self) -> None:
        from exchange.hub import SlowConsumer, SubscriptionClosed

        out = self.node.metrics.messages_out
        try:
            while not self.outbox.closed:
                while self.outbox.queue.qsize() > _OUTBOX_HIGH_WATER and not self.outbox.closed:
                    await asyncio.sleep(0.005)
                batch = await self.sub.next_batch(1.0)
                for ev in batch:
                    self.outbox.put(ev.ws)
                if batch:
                    out.labels(self.transport, "md").inc(len(batch))
        except SlowConsumer as exc:
            self.node.metrics.slow_consumers.labels(self.transport).inc()
            self.outbox.send({"type": "error", "code": "SLOW_CONSUMER", "message": str(exc)})
            self.on_slow(str(exc))
        except SubscriptionClosed:
            # ended by the server, not by the client (``close`` cancels this task first)
            # nor by a stop (sockets close with 1001): the hub was replaced
            if self.sub.closed_reason == "hub_closed" and not self.node.shutting_down:
                self.on_ended()
        except asyncio.CancelledError:
            pass

    def on_slow(self, reason: str) -> None:
        """Hook: the /ws/md socket closes; on /ws only the subscription ends."""

    def on_ended(self) -> None:
        """Hook: the hub ended the subscription while the server runs on (a cluster gateway
        rebuilt its market data): /ws/md closes with 1012, /ws sends ``SUBSCRIPTION_ENDED``;
        either way the client subscribes again with ``after`` and resumes."""

    def close(self) -> None:
        self.task.cancel()
        self.sub.close()


class _WsMdWriter:
    """The hub's view of a WebSocket that also carries an outbox: market data never jumps
    ahead of queued replies, and stops when the outbox ends."""

    __slots__ = ("direct", "outbox")

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.direct = outbox.direct

    def ready(self) -> bool:
        return not self.outbox.backlogged and not self.outbox.closed and self.direct.ready()

    def offer(self, data: bytes) -> bool:
        outbox = self.outbox
        if outbox._drainer is not None or outbox.closed:
            return False
        outbox.flush_turn()  # replies put earlier in this turn go first
        ok: bool = self.direct.offer(data)
        return ok

    def write(self, data: bytes) -> None:
        if not self.outbox.closed:
            self.outbox.flush_turn()
            self.direct.write(data)

    def buffered(self) -> int:
        size: int = self.direct.buffered()
        return size + (1 << 30 if self.outbox.backlogged else 0)

    def closing(self) -> bool:
        return self.outbox.closed or bool(self.direct.closing())


class MarketFeed:
    """One connection's market-data subscription (push under uvicorn, else a pump).

    ``on_slow(reason)`` and ``on_ended()`` are called when the hub drops the subscriber or
    ends the subscription (see the module docstring); ``close()`` ends it from our side.
    """

    def __init__(self, node: Node, outbox: Outbox, transport: str, echo: dict[str, Any]):
        self.node = node
        self.outbox = outbox
        self.transport = transport
        self.echo = echo
        self.sub: Any = None
        self.pump: MarketPump | None = None
        self.on_slow: Callable[[str], None] = lambda reason: None
        self.on_ended: Callable[[], None] = lambda: None
        self._closed = False

    @classmethod
    async def start(
        cls, node: Node, outbox: Outbox, op: Any, transport: str, req_id: Any
    ) -> MarketFeed:
        """Answer ``subscribed`` and start the feed. Raises ``ValueError`` (nothing sent) on
        a bad request."""
        flt, conflate_ns, after, echo = _request(node, op)
        feed = cls(node, outbox, transport, echo)
        reply = {"type": "subscribed", "req_id": req_id, **echo}
        if outbox.direct is None:
            pump = MarketPump(node, outbox, _pull(node, flt, after, conflate_ns, transport),
                              transport, echo)  # fmt: skip
            pump.on_slow = lambda reason: feed.on_slow(reason)  # type: ignore[method-assign]
            pump.on_ended = lambda: feed.on_ended()  # type: ignore[method-assign]
            feed.pump = pump
            outbox.send(reply)
            return feed
        # the reply first, then the snapshots or the resume backlog: nothing may be queued
        # ahead of them, as the hub writes the subscription's first frames at once
        await outbox.drained()
        outbox.send(reply)
        sub = node.hub.attach(
            flt, _WsMdWriter(outbox), outbox.direct.framing(), after,
            conflate_ns=conflate_ns, kind=transport,
        )  # fmt: skip
        node.note_resume(transport, sub, after)
        sub.add_close_callback(feed._hub_closed)
        feed.sub = sub
        return feed

    def settings(self) -> dict[str, Any]:
        return dict(self.echo)

    def _hub_closed(self, sub: Any) -> None:
        if self._closed:
            return
        reason = sub.closed_reason
        if reason == "slow_consumer":
            self.node.metrics.slow_consumers.labels(self.transport).inc()
            self.outbox.send({"type": "error", "code": "SLOW_CONSUMER", "message": reason})
            self.on_slow(reason)
        elif reason == "hub_closed" and not self.node.shutting_down:
            self.on_ended()

    def close(self) -> None:
        self._closed = True
        if self.pump is not None:
            self.pump.close()
        if self.sub is not None:
            self.sub.close()


def _pull(node: Node, flt: Any, after: str | None, conflate_ns: int | None, kind: str) -> Any:
    sub = node.hub.subscribe(flt, last_id=after, conflate_ns=conflate_ns, kind=kind)
    node.note_resume(kind, sub, after)
    return sub


@router.websocket("/ws/md")
async def ws_md(ws: WebSocket) -> None:
    node: Node = ws.app.state.node
    if "ws" not in node.settings.transports:
        await ws.send_denial_response(_disabled())
        return
    if not await check_origin_ws(ws):
        return
    await ws.accept()
    outbox = outbox_for(ws, "", node.settings.subscriber_high_water)
    node.track_ws(ws, +1, "ws_md")
    state: dict[str, Any] = {"feed": None, "idle": None}
    idle_s = node.settings.md_idle_timeout_s

    def idle_out() -> None:
        state["idle"] = None
        if state["feed"] is None:
            outbox.close(CLOSE_POLICY, f"no subscription within {idle_s:g} s")

    def arm_idle() -> None:
        # a socket without a subscription costs memory and a file descriptor for nothing
        if idle_s and state["idle"] is None:
            state["idle"] = asyncio.get_running_loop().call_later(idle_s, idle_out)

    def disarm_idle() -> None:
        if state["idle"] is not None:
            state["idle"].cancel()
            state["idle"] = None

    def on_slow(reason: str) -> None:
        direct = outbox.direct
        if direct is not None and not direct.ready():
            direct.transport.abort()  # stalled: it would never take the close frame
        outbox.close(CLOSE_POLICY, f"slow consumer: {reason}")

    def on_ended() -> None:
        outbox.close(CLOSE_SERVICE_RESTART, "market data restarted: reconnect, resume with after")

    async def on_frame(data: str | bytes) -> None:
        if len(data) > node.settings.max_frame_bytes:
            outbox.close(1009, "frame over the size limit")
            return
        try:
            op: Any = decode_op(data)
        except ProtocolError as exc:
            outbox.send(_err(exc.code, exc.message, exc.req_id))
            return
        req_id = getattr(op, "req_id", None)
        feed: MarketFeed | None = state["feed"]
        if op.op in ("subscribe", "unsubscribe") and feed is not None:
            feed.close()
            state["feed"] = None
        if op.op == "subscribe":
            try:
                feed = await MarketFeed.start(node, outbox, op, "ws", req_id)
            except ValueError as exc:
                outbox.send(_err("BAD_REQUEST", str(exc), req_id))
                arm_idle()  # the subscription it replaced (if any) is gone
                return
            feed.on_slow = on_slow
            feed.on_ended = on_ended
            state["feed"] = feed
            disarm_idle()
        elif op.op == "unsubscribe":
            outbox.send({"type": "unsubscribed", "req_id": req_id})
            arm_idle()
        elif op.op == "ping":
            outbox.send({"type": "pong", "req_id": req_id, "server_time": time.time_ns()})
        else:
            outbox.send(_err("UNKNOWN_OP", "only subscribe, unsubscribe and ping here", req_id))

    arm_idle()
    try:
        await serve_socket(ws, outbox, on_frame)
    finally:
        disarm_idle()
        node.track_ws(ws, -1, "ws_md")
        if state["feed"] is not None:
            state["feed"].close()


def _err(code: str, message: str, req_id: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if req_id is not None:
        msg["req_id"] = req_id
    return msg


def _disabled() -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(
        {"code": "TRANSPORT_DISABLED", "message": "WebSocket market data is off"}, 503
    )
