"""Order entry over the WebSocket ``/ws`` (PROTOCOL.md section 3): a thin adapter.

Exports: ``router`` (the FastAPI router with ``/ws``), ``OrderSession``.

Decode a frame, check limits, turn the op into an engine command or a query, hand it to the
sequencer; replies flow back through the connection's :class:`Outbox` (in release order). A
malformed message (a binary frame included: text frames only) is answered with ``error``
and never closes the socket; only abuse does (sustained rate-limit breach: 1008, oversized
frame: 1009).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket

from exchange.engine import types as t
from exchange.gateway.commands import new_order
from exchange.gateway.deps import Node, authenticate_ws, check_origin_ws, deny
from exchange.gateway.ws_market import MarketFeed
from exchange.gateway.wsconn import outbox_for, serve_socket
from exchange.node.delivery import Outbox
from exchange.node.ratelimit import TokenBucket
from exchange.sequencer import JournalFailed, Origin
from shared.codec import decode_op
from shared.errors import NOT_EXECUTED, SUBSCRIPTION_ENDED, UNCONFIRMED, ProtocolError
from shared.models.ops import MAX_DEADMAN_MS

__all__ = ["OrderSession", "router"]

log = logging.getLogger("tickwire.ws")
router = APIRouter()

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL = 1011
#: The dead-man's cancel-all is resent after this, doubling up to the cap, until confirmed.
_DEADMAN_RETRY_FIRST_S = 0.5
_DEADMAN_RETRY_MAX_S = 5.0


class OrderSession:
    """One authenticated order-entry connection: decoding, limits, dead-man's switch."""

    def __init__(self, node: Node, ws: WebSocket, account: str) -> None:
        self.node = node
        self.ws = ws
        self.account = account
        s = node.settings
        self.outbox: Outbox = outbox_for(ws, account, s.subscriber_high_water, s.outbox_limit)
        self.bucket = TokenBucket(s.conn_rate, s.conn_burst)
        self.account_bucket = node.account_bucket(account)
        self.ip = ws.client.host if ws.client else ""
        self.limited_in_a_row = 0
        self.deadman_ms = 0
        self.deadman_timer: asyncio.TimerHandle | None = None
        self.market: MarketFeed | None = None
        #: The last pipelined order's group commit or loop turn (``submit``).
        self.pipelined: asyncio.Future[Any] | None = None

    # ------------------------------------------------------------------ errors

    def error(self, code: str, message: str, req_id: Any = None) -> None:
        self.node.metrics.errors.labels(code).inc()
        msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if req_id is not None:
            msg["req_id"] = req_id
        self.send_in_order(msg)

    def send_in_order(self, msg: dict[str, Any]) -> None:
        """A reply of the gateway's own (a refusal, an error) after the replies of the orders
        before it: while their batch is not released it waits for it (the future's callbacks
        run after the release has put their replies in the outbox)."""
        pending = self.pipelined
        if pending is not None and not pending.done():
            pending.add_done_callback(lambda _f: self.outbox.send(msg))
        else:
            self.outbox.send(msg)

    def reject(self, code: str, message: str, req_id: Any, coid: Any = None) -> None:
        m = self.node.metrics
        m.child(m.rejects, code).inc()
        msg: dict[str, Any] = {
            "type": "order.reject",
            "client_order_id": coid if isinstance(coid, str) else None,
            "code": code,
            "message": message,
        }
        if req_id is not None:
            msg["req_id"] = req_id
        self.send_in_order(msg)

    def abort(self, code: int, reason: str) -> None:
        self.outbox.close(code, reason)

    # ------------------------------------------------------------------ input

    async def on_frame(self, data: str | bytes) -> None:
        """One frame. Order ops are pipelined (``submit``); any other frame, a refused one
        included, first waits for the replies of the orders before it, so a connection's
        replies keep request order."""
        self.arm_deadman()
        decoded: Any = None
        if isinstance(data, str) and len(data) <= self.node.settings.max_frame_bytes:
            try:
                decoded = decode_op(data)
            except ProtocolError as exc:
                decoded = exc
        pending = self.pipelined
        in_order = getattr(decoded, "op", None) not in _PIPELINED
        if pending is not None and in_order and not pending.done():
            await asyncio.wait([pending])
        await self._frame(data, decoded)

    async def _frame(self, data: str | bytes, decoded: Any) -> None:
        size = len(data)
        if size > self.node.settings.max_frame_bytes:
            self.node.metrics.errors.labels("BAD_REQUEST").inc()
            self.abort(CLOSE_TOO_BIG, f"frame of {size} bytes over the limit")
            return
        # every frame costs a token, garbage included, so a flood of it is limited too
        allowed = self.bucket.take()
        if isinstance(data, bytes):
            # the contract is one JSON object per *text* frame: a binary one is refused
            # unread (not decoded, so not executed), like any malformed message
            self.node.metrics.messages_in.labels("ws", "invalid").inc()
            if allowed:
                self.error("BAD_REQUEST", "text frames only: send each message as a text frame")
            else:
                self.limited(None, None)
            return
        if isinstance(decoded, ProtocolError):
            exc = decoded
            self.node.metrics.messages_in.labels("ws", "invalid").inc()
            if allowed:
                self.error(exc.code, exc.message, exc.req_id)
            else:
                self.limited(None, exc.req_id)
            return
        op = decoded
        name: str = op.op
        req_id = getattr(op, "req_id", None)
        m = self.node.metrics
        m.child(m.messages_in, "ws", name).inc()
        if not allowed:
            self.limited(op, req_id)
            return
        self.limited_in_a_row = 0
        if name in _ORDER_OPS and not (
            self.account_bucket.take() and self.node.ip_order_buckets.take(self.ip)
        ):
            # the account's (or the address's) limit, shared with other sockets: refused,
            # but this socket kept to its own rate, so it does not count toward abuse
            self.node.metrics.rate_limited.labels("account").inc()
            coid = getattr(op, "client_order_id", None)
            self.reject("RATE_LIMITED", "too many requests", req_id, coid)
            return
        try:
            await self.dispatch(name, op, req_id)
        except TimeoutError as exc:  # a cluster gateway got no answer in time (Unconfirmed)
            self.error(UNCONFIRMED, str(exc) or "not confirmed in time; retrying is safe", req_id)
        except JournalFailed as exc:  # the server failed closed: nothing of this was executed
            self.error(UNCONFIRMED, str(exc), req_id)

    def limited(self, op: Any, req_id: Any) -> None:
        """Refuse a message over a rate limit; close the socket after sustained abuse."""
        self.limited_in_a_row += 1
        self.node.metrics.rate_limited.labels("connection").inc()
        if self.limited_in_a_row > self.node.settings.abuse_limit:
            self.abort(CLOSE_POLICY, "rate limit exceeded repeatedly")
        elif op is not None and op.op in _ORDER_OPS:
            coid = getattr(op, "client_order_id", None)
            self.reject("RATE_LIMITED", "too many requests", req_id, coid)
        else:
            self.error("RATE_LIMITED", "too many requests", req_id)

    async def submit(self, cmd: t.Command, origin: Origin) -> None:
        """Hand an order op to the sequencer. Single node: pipelined, the reader goes on to
        the next frame at once and the reply is released to this outbox with the command's
        group commit (many orders of one connection share one fsync); cluster gateway:
        awaited, each command being its own Redis round trip."""
        node = self.node
        if not node.pipelined:
            await node.submit(cmd, origin)
            return
        fut = node.submit_nowait(cmd, origin)
        if fut is not None and fut is not self.pipelined:  # fsync off: one per loop turn
            fut.add_done_callback(self._released)
            self.pipelined = fut

    def _released(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() or fut.exception() is None:
            return
        # the journal could not be made durable: nothing of it was released; the client
        # must reconnect and resume (the server's own fault, logged by the sequencer)
        self.abort(CLOSE_INTERNAL, "server error: the order could not be made durable")

    async def dispatch(self, name: str, op: Any, req_id: Any) -> None:
        handler = _HANDLERS.get(name)
        if handler is None:  # the codec only lets known ops through
            self.error("UNKNOWN_OP", f"unknown op {name!r}", req_id)
            return
        await handler(self, op, req_id)

    # ------------------------------------------------------------------ one handler per op

    async def order_new(self, op: Any, req_id: Any) -> None:
        await self.submit(new_order(self.account, op), Origin(self.outbox, req_id))

    async def order_cancel(self, op: Any, req_id: Any) -> None:
        if (op.client_order_id is None) == (op.order_id is None):
            self.error("BAD_REQUEST", "give exactly one of client_order_id or order_id", req_id)
            return
        cmd = t.CancelOrder(self.account, client_order_id=op.client_order_id, order_id=op.order_id)
        await self.submit(cmd, Origin(self.outbox, req_id))

    async def order_replace(self, op: Any, req_id: Any) -> None:
        if op.price is None and op.qty is None:
            self.error("BAD_REQUEST", "order.replace needs price and/or qty", req_id)
            return
        cmd = t.ReplaceOrder(
            self.account,
            client_order_id=op.client_order_id,
            orig_client_order_id=op.orig_client_order_id,
            price=op.price,
            qty=op.qty,
        )
        await self.submit(cmd, Origin(self.outbox, req_id))

    async def orders_cancel_all(self, op: Any, req_id: Any) -> None:
        node = self.node
        if op.symbol is not None and op.symbol not in node.engine.specs:
            self.reject("INVALID_SYMBOL", f"unknown symbol {op.symbol!r}", req_id)
            return
        origin = Origin(self.outbox, req_id, echo_on_cancels=False)
        events = await node.submit(t.CancelAll(self.account, symbol=op.symbol), origin)
        count = sum(1 for e in events if isinstance(e, t.CanceledAll))
        rejected = any(isinstance(e, t.OrderRejected) for e in events)  # NOT_EXECUTED
        if count == 0 and not rejected:  # the engine always answers CanceledAll
            self.outbox.send({"type": "orders.canceled_all", "req_id": req_id, "count": 0})

    async def executions_resume(self, op: Any, req_id: Any) -> None:
        await self.resume(op.after, req_id)

    async def deadman(self, op: Any, req_id: Any) -> None:
        self.set_deadman(op.timeout_ms, req_id)

    async def drill(self, op: Any, req_id: Any) -> None:
        """A fault on this connection only (fault drills, docs/drills.md); refused unless the
        server runs with ``--drills``. Nothing another connection or account sees changes."""
        if not self.node.settings.drills:
            self.error("BAD_REQUEST", "fault drills are off on this server: start it with "
                       "--drills (TICKWIRE_DRILLS=1), demo servers only", req_id)  # fmt: skip
            return
        self.outbox.withhold_acks = op.count
        self.outbox.send({"type": "drill.set", "req_id": req_id, "fault": op.fault,
                          "count": op.count})  # fmt: skip

    async def unsubscribe(self, op: Any, req_id: Any) -> None:
        if self.market is not None:
            self.market.close()
            self.market = None
        self.outbox.send({"type": "unsubscribed", "req_id": req_id})

    async def ping(self, op: Any, req_id: Any) -> None:
        self.outbox.send({"type": "pong", "req_id": req_id, "server_time": time.time_ns()})

    async def status(self, op: Any, req_id: Any) -> None:
        if (op.client_order_id is None) == (op.order_id is None):
            self.error("BAD_REQUEST", "give exactly one of client_order_id or order_id", req_id)
            return
        view = self.node.engine.find_order(
            self.account, client_order_id=op.client_order_id, order_id=op.order_id
        )
        msg = None if view is None else self.node.render_order(view)
        await self.node.durable()  # show nothing a crash could still undo
        if msg is None:
            self.reject("UNKNOWN_ORDER", "no such order", req_id, op.client_order_id)
            return
        self.outbox.send({"type": "order.status", "req_id": req_id, **msg})

    async def resume(self, after: int, req_id: Any) -> None:
        if after < 0:
            self.error("BAD_REQUEST", "after must be >= 0", req_id)
            return
        node = self.node
        released = node.released_exec_seq(self.account)
        earliest = node.engine.earliest_exec_seq(self.account)
        if after + 1 < earliest <= released:
            # the oldest executions are no longer kept: replaying from here would hide a gap
            self.error(
                "BAD_REQUEST",
                f"executions before exec_seq {earliest} are no longer kept; "
                "read current state with order.status or GET /api/orders",
                req_id,
            )
            return
        # any depth within the retained history: the backlog is written at the pace the
        # socket drains, live executions waiting behind it (``Outbox.hold``)
        box = self.outbox
        box.hold()
        try:
            for n, ev in enumerate(node.engine.executions_after(self.account, after), 1):
                seq = getattr(ev, "exec_seq", None)
                if seq is None or seq > released:
                    break
                box.put_now(orjson.dumps(node.render_private(ev)))
                if n % 256 == 0:
                    await box.room()
                    if box.closed:
                        return
            box.put_now(
                orjson.dumps(
                    {"type": "executions.resumed", "req_id": req_id, "latest_exec_seq": released}
                )
            )
        finally:
            box.release()

    # ------------------------------------------------------------------ dead-man's switch

    def set_deadman(self, timeout_ms: int, req_id: Any) -> None:
        if timeout_ms < 0 or timeout_ms > MAX_DEADMAN_MS:  # one day (shared.models.ops)
            self.error("BAD_REQUEST", f"timeout_ms must be within 0..{MAX_DEADMAN_MS}", req_id)
            return
        self.deadman_ms = timeout_ms
        self.arm_deadman()
        self.outbox.send({"type": "deadman.set", "req_id": req_id, "timeout_ms": timeout_ms})

    def arm_deadman(self) -> None:
        """Restart the dead-man timer (called for every received frame: a timer handle is
        rescheduled, no task is made until it fires)."""
        if self.deadman_timer is not None:
            self.deadman_timer.cancel()
            self.deadman_timer = None
        if self.deadman_ms > 0:
            loop = asyncio.get_running_loop()
            self.deadman_timer = loop.call_later(self.deadman_ms / 1000, self._fire_deadman)

    def _fire_deadman(self) -> None:
        self.deadman_timer = None
        log.info("dead-man's switch fired for %s", self.account)
        task = asyncio.get_running_loop().create_task(self._cancel_all_for_deadman())
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _cancel_all_for_deadman(self) -> None:
        """Submit ``CancelAll(reason="deadman")`` until a ``CanceledAll`` comes back.

        A cluster gateway may answer ``Unconfirmed`` (a ``TimeoutError``: the sequencer is
        down) or ``NOT_EXECUTED`` (the command was lost): the switch must still fire, and
        repeating a cancel-all is harmless, so it is sent again with capped backoff. Gives up
        only when the server stops (its open orders stay in the journal) or on a reject that
        a retry cannot change."""
        delay = _DEADMAN_RETRY_FIRST_S
        while not self.node.shutting_down:
            try:
                events = await self.node.submit(t.CancelAll(self.account, reason="deadman"), None)
            except Exception as exc:  # Unconfirmed, or the server stopping under us
                problem: object = exc
            else:
                if any(isinstance(ev, t.CanceledAll) for ev in events):
                    return
                rejects = [ev for ev in events if isinstance(ev, t.OrderRejected)]
                if rejects and all(ev.code != NOT_EXECUTED for ev in rejects):
                    log.warning("dead-man's switch for %s refused: %s", self.account, rejects)
                    return
                problem = rejects or events
            if self.node.shutting_down:
                break
            log.warning("dead-man's switch for %s not confirmed (%s): again in %.1f s",
                        self.account, problem, delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, _DEADMAN_RETRY_MAX_S)
        log.warning("dead-man's switch for %s could not run: the server is stopping", self.account)

    # ------------------------------------------------------------------ market data

    async def subscribe(self, op: Any, req_id: Any) -> None:
        if self.market is not None:
            self.market.close()
            self.market = None
        try:
            self.market = await MarketFeed.start(self.node, self.outbox, op, "ws", req_id)
        except ValueError as exc:
            self.error("BAD_REQUEST", str(exc), req_id)
            return
        self.market.on_ended = self._market_ended

    def _market_ended(self) -> None:
        self.error(SUBSCRIPTION_ENDED, "the server restarted its market data: subscribe "
                   "again with after (the last id you got) to resume", None)  # fmt: skip

    # ------------------------------------------------------------------ connection

    def cleanup(self) -> None:
        # the dead-man's timer outlives the socket on purpose: a vanished client is quiet
        if self.market is not None:
            self.market.close()
        self.outbox.closed = True


#: Dead-man tasks in flight (a reference keeps them from being garbage-collected mid-run).
_background: set[asyncio.Task[None]] = set()

#: Every op the codec lets through, and its handler.
_HANDLERS: dict[str, Callable[[OrderSession, Any, Any], Awaitable[None]]] = {
    "order.new": OrderSession.order_new,
    "order.cancel": OrderSession.order_cancel,
    "order.replace": OrderSession.order_replace,
    "orders.cancel_all": OrderSession.orders_cancel_all,
    "order.status": OrderSession.status,
    "executions.resume": OrderSession.executions_resume,
    "deadman": OrderSession.deadman,
    "drill": OrderSession.drill,
    "subscribe": OrderSession.subscribe,
    "unsubscribe": OrderSession.unsubscribe,
    "ping": OrderSession.ping,
}

_ORDER_OPS = frozenset({"order.new", "order.cancel", "order.replace", "orders.cancel_all"})
#: The ops ``submit`` pipelines (their replies come with the group commit).
_PIPELINED = frozenset({"order.new", "order.cancel", "order.replace"})


@router.websocket("/ws")
async def ws_orders(ws: WebSocket) -> None:
    node: Node = ws.app.state.node
    if not await check_origin_ws(ws):
        return
    try:
        account = authenticate_ws(ws)
    except PermissionError as exc:
        await deny(ws, 401, str(exc))
        return
    await ws.accept()
    session = OrderSession(node, ws, account)
    node.delivery.attach(session.outbox)
    node.track_ws(ws, +1)
    session.outbox.send(
        {
            "type": "session",
            "account": account,
            "server_time": time.time_ns(),
            "latest_exec_seq": node.released_exec_seq(account),
            "protocol": "tickwire/1",
        }
    )
    try:
        await serve_socket(ws, session.outbox, session.on_frame)
    finally:
        node.delivery.detach(session.outbox)
        node.track_ws(ws, -1)
        session.cleanup()
