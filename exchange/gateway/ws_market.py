"""Market data over WebSocket: ``subscribe`` on ``/ws`` or on ``/ws/md`` (no token needed).

Exports: ``router`` (``/ws/md``), ``MarketPump``, ``parse_conflate``.

Messages are ``{"type": "md.<event>", "id": ..., "data": ...}``, the hub's pre-encoded bytes
(one encoding shared by every subscriber). ``subscribe`` takes ``after`` (an event id) for an
exact resume, with the same reset rule as SSE.

When the server ends a subscription while it runs on (a cluster gateway rebuilding its
market-data hub), ``/ws/md`` closes with 1012 (service restart) and ``/ws`` sends an ``error``
``SUBSCRIPTION_ENDED``: the client subscribes again with ``after`` (a stop closes with 1001).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from fastapi import APIRouter, WebSocket

from exchange.gateway.deps import Node, check_origin_ws, parse_filter
from exchange.gateway.router import Outbox
from exchange.gateway.wsconn import serve_socket
from shared.codec import decode_op
from shared.errors import ProtocolError

__all__ = ["MarketPump", "parse_conflate", "router"]

router = APIRouter()

_CONFLATE_RE = re.compile(r"^(\d{1,6})(ms|s)$")
#: Frames allowed to wait in a connection's outbox before the pump stops pulling from the
#: hub; beyond this the hub's per-subscriber policy (conflate, then disconnect) applies.
_OUTBOX_HIGH_WATER = 256
#: The /ws/md close code when the server ended the subscription (service restart).
CLOSE_SERVICE_RESTART = 1012


def parse_conflate(value: str | int | None) -> int | None:
    """``"100ms"``/``"1s"`` (or an int of ms) -> nanoseconds; None -> None; bad -> ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    else:
        m = _CONFLATE_RE.match(str(value))
        if not m:
            raise ValueError(f"bad conflate value {value!r} (use e.g. 100ms or 1s)")
        ms = int(m.group(1)) * (1000 if m.group(2) == "s" else 1)
    if ms < 0 or ms > 60_000:
        raise ValueError("conflate must be within 0..60s")
    return ms * 1_000_000 or None


def _csv(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class MarketPump:
    """Moves a hub subscription's events into an outbox, respecting backpressure."""

    def __init__(self, node: Node, outbox: Outbox, sub: Any, transport: str, opts: dict[str, Any]):
        self.node = node
        self.outbox = outbox
        self.sub = sub
        self.transport = transport
        self.opts = opts
        self.task = asyncio.create_task(self._run())

    @classmethod
    def start(cls, node: Node, outbox: Outbox, op: Any, transport: str) -> MarketPump:
        symbols = _csv(getattr(op, "symbols", None))
        channels = _csv(getattr(op, "channels", None))
        flt = parse_filter(node, symbols, channels)
        conflate_ns = parse_conflate(getattr(op, "conflate", None))
        after = getattr(op, "after", None)
        sub = node.hub.subscribe(flt, last_id=after, conflate_ns=conflate_ns, kind=transport)
        node.note_resume(transport, sub, after)
        opts = {"symbols": symbols, "channels": channels, "after": after}
        return cls(node, outbox, sub, transport, opts)

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.opts.items() if v is not None}

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


@router.websocket("/ws/md")
async def ws_md(ws: WebSocket) -> None:
    node: Node = ws.app.state.node
    if "ws" not in node.settings.transports:
        await ws.send_denial_response(_disabled())
        return
    if not await check_origin_ws(ws):
        return
    await ws.accept()
    outbox = Outbox("")
    node.track_ws(ws, +1, "ws_md")
    state: dict[str, Any] = {"pump": None, "close": None}

    def on_slow(reason: str) -> None:
        state["close"] = (1008, f"slow consumer: {reason}")
        outbox.close()

    def on_ended() -> None:
        state["close"] = (
            CLOSE_SERVICE_RESTART,
            "market data restarted: reconnect, resume with after",
        )
        outbox.close()

    async def on_frame(data: str | bytes) -> None:
        if len(data) > node.settings.max_frame_bytes:
            state["close"] = (1009, "frame over the size limit")
            outbox.close()
            return
        try:
            op: Any = decode_op(data)
        except ProtocolError as exc:
            outbox.send(_err(exc.code, exc.message, exc.req_id))
            return
        req_id = getattr(op, "req_id", None)
        pump: MarketPump | None = state["pump"]
        if op.op in ("subscribe", "unsubscribe") and pump is not None:
            pump.close()
            state["pump"] = None
        if op.op == "subscribe":
            try:
                pump = MarketPump.start(node, outbox, op, "ws")
            except ValueError as exc:
                outbox.send(_err("BAD_REQUEST", str(exc), req_id))
                return
            pump.on_slow = on_slow  # type: ignore[method-assign]
            pump.on_ended = on_ended  # type: ignore[method-assign]
            state["pump"] = pump
            outbox.send({"type": "subscribed", "req_id": req_id, **pump.settings()})
        elif op.op == "unsubscribe":
            outbox.send({"type": "unsubscribed", "req_id": req_id})
        elif op.op == "ping":
            outbox.send({"type": "pong", "req_id": req_id, "server_time": time.time_ns()})
        else:
            outbox.send(_err("UNKNOWN_OP", "only subscribe, unsubscribe and ping here", req_id))

    try:
        await serve_socket(ws, outbox, on_frame)
    finally:
        node.track_ws(ws, -1, "ws_md")
        if state["pump"] is not None:
            state["pump"].close()
    if state["close"] is not None:
        with contextlib.suppress(Exception):
            await ws.close(*state["close"])


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
