"""Market data over WebSocket: ``subscribe`` on ``/ws`` or on ``/ws/md`` (no token needed).

Exports: ``router`` (``/ws/md``), ``MarketPump``, ``parse_conflate``.

Messages are ``{"type": "md.<event>", "id": ..., "data": ...}``, the hub's pre-encoded bytes
(one encoding shared by every subscriber). ``subscribe`` takes ``after`` (an event id) for an
exact resume, with the same reset rule as SSE.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from exchange.gateway.deps import Node, check_origin_ws, parse_filter
from exchange.gateway.router import Outbox
from shared.codec import decode_op
from shared.errors import ProtocolError

__all__ = ["MarketPump", "parse_conflate", "router"]

router = APIRouter()

_CONFLATE_RE = re.compile(r"^(\d{1,6})(ms|s)$")
#: Frames allowed to wait in a connection's outbox before the pump stops pulling from the
#: hub; beyond this the hub's per-subscriber policy (conflate, then disconnect) applies.
_OUTBOX_HIGH_WATER = 256


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
        sub = node.hub.subscribe(flt, last_id=after, conflate_ns=conflate_ns)
        opts = {"symbols": symbols, "channels": channels, "after": after}
        return cls(node, outbox, sub, transport, opts)

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.opts.items() if v is not None}

    async def _run(self) -> None:
        from exchange.hub import SlowConsumer

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
        except asyncio.CancelledError:
            pass

    def on_slow(self, reason: str) -> None:
        """Hook: the /ws/md socket closes; on /ws only the subscription ends."""

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
    pump: MarketPump | None = None
    close: tuple[int, str] | None = None

    async def writer() -> None:
        while True:
            frame = await outbox.queue.get()
            if frame is None:
                return
            await ws.send({"type": "websocket.send", "text": frame.decode()})

    wtask = asyncio.create_task(writer())
    try:
        while not wtask.done():
            recv = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait({recv, wtask}, return_when=asyncio.FIRST_COMPLETED)
            if recv not in done:
                recv.cancel()
                break
            message = recv.result()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text") or message.get("bytes") or b""
            if len(data) > node.settings.max_frame_bytes:
                close = (1009, "frame over the size limit")
                break
            try:
                op = decode_op(data)
            except ProtocolError as exc:
                outbox.send(_err(exc.code, exc.message, exc.req_id))
                continue
            req_id = getattr(op, "req_id", None)
            if op.op == "subscribe":  # type: ignore[attr-defined]
                if pump is not None:
                    pump.close()
                try:
                    pump = MarketPump.start(node, outbox, op, "ws")
                except ValueError as exc:
                    pump = None
                    outbox.send(_err("BAD_REQUEST", str(exc), req_id))
                    continue

                def _slow(reason: str) -> None:
                    nonlocal close
                    close = (1008, "slow consumer")
                    outbox.close()

                pump.on_slow = _slow  # type: ignore[method-assign]
                outbox.send({"type": "subscribed", "req_id": req_id, **pump.settings()})
            elif op.op == "unsubscribe":  # type: ignore[attr-defined]
                if pump is not None:
                    pump.close()
                    pump = None
                outbox.send({"type": "unsubscribed", "req_id": req_id})
            elif op.op == "ping":  # type: ignore[attr-defined]
                import time

                outbox.send({"type": "pong", "req_id": req_id, "server_time": time.time_ns()})
            else:
                outbox.send(_err("UNKNOWN_OP", "only subscribe, unsubscribe and ping here", req_id))
    except WebSocketDisconnect:
        pass
    finally:
        node.track_ws(ws, -1, "ws_md")
        if pump is not None:
            pump.close()
        outbox.closed = True
        wtask.cancel()
        with contextlib.suppress(BaseException):
            await wtask
        if close is not None:
            with contextlib.suppress(Exception):
                await ws.close(*close)


def _err(code: str, message: str, req_id: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if req_id is not None:
        msg["req_id"] = req_id
    return msg


def _disabled() -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"code": "TRANSPORT_DISABLED", "message": "WebSocket market data is off"}, 503)
