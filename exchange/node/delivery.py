"""Private delivery: an account's events to every socket of that account, in release order.

Exports: ``PrivateDelivery``, ``Outbox``.

Rules (PROTOCOL.md section 3): events of the execution stream (they carry ``exec_seq``) go to
every connection of their account, so each connection sees a gap-free stream; events that
change nothing (rejects, duplicates, ``orders.canceled_all``) go only to the connection that
asked. The asking connection's direct replies (ack, reject, cancel) echo its ``req_id``.
Everything a connection sends passes through its :class:`Outbox`, so order is preserved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import orjson

from exchange.engine import types as t
from exchange.sequencer import Origin

__all__ = ["Outbox", "PrivateDelivery"]

log = logging.getLogger("tickwire.delivery")

_REQ_ID_TYPES = (t.OrderAccepted, t.OrderRejected, t.OrderCanceled, t.CanceledAll)


class Outbox:
    """A connection's ordered, bounded stream of outgoing messages.

    ``put`` never blocks (the sequencer calls it). With a ``direct`` writer (a WebSocket under
    uvicorn, ``exchange.gateway.writers.WsWriter``) a message is written to the socket at
    once when nothing is queued and the socket takes writes; otherwise it waits in ``queue``
    and a drain task writes it when the socket drains, keeping the order. Without one
    (other servers, WebRTC) ``queue`` is read by the owner's writer task. When more than
    ``limit`` messages wait, the outbox is marked overflowed and closed with 1008 (the client
    resumes with ``executions.resume``).

    ``close(code, reason)`` ends the stream: queued messages are still written, then
    ``on_close`` (set by the socket loop) closes the connection with that code.

    ``hold()`` / ``release()`` bracket a replay (``executions.resume``): while held, what
    others ``put`` waits (counted against ``limit``) and the replay writes with ``put_now``
    at the pace of ``room()``; ``release()`` then appends what waited, so live events follow
    the replayed ones in order.
    """

    __slots__ = (
        "_drainer",
        "_held",
        "_queue",
        "_turn",
        "account",
        "close_code",
        "close_reason",
        "closed",
        "direct",
        "limit",
        "on_close",
        "overflowed",
        "withhold_acks",
    )

    #: Between ``begin_batch`` and ``end_batch`` (one synchronous release of a batch): the
    #: outboxes with frames to write, written at ``end_batch`` instead of a loop turn later.
    _batch: ClassVar[list[Outbox] | None] = None

    @classmethod
    def begin_batch(cls) -> None:
        """From now on direct outboxes collect their frames for ``end_batch``."""
        cls._batch = []

    @classmethod
    def end_batch(cls) -> None:
        """Write what every outbox collected since ``begin_batch``: one write each, at once
        (a sequential client's ack is then not a loop turn late)."""
        due, cls._batch = cls._batch, None
        for outbox in due or ():
            try:
                outbox.flush_turn()
            except Exception:  # one broken socket must not leave the others unwritten
                log.exception("writing to a connection failed")

    def __init__(self, account: str, limit: int = 10_000, direct: Any = None) -> None:
        self.account = account
        self._queue: asyncio.Queue[bytes | None] | None = None
        self.limit = limit
        self.overflowed = False
        self.closed = False
        self.direct = direct
        self.close_code: int | None = None
        self.close_reason = ""
        self.on_close: Callable[[], None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._held: list[bytes] | None = None
        #: Direct mode: frames put during this loop turn, written together at its end (one
        #: write per connection per turn, however many replies a batch released).
        self._turn: list[bytes] | None = None
        #: Fault drill (``drill`` op, servers run with ``--drills`` only): this many of the
        #: connection's own first acks are not sent to it (other connections still get them).
        self.withhold_acks = 0

    @property
    def queue(self) -> asyncio.Queue[bytes | None]:
        """Messages waiting (made on first use: a direct outbox rarely needs one)."""
        queue = self._queue
        if queue is None:
            queue = self._queue = asyncio.Queue()
        return queue

    @property
    def backlogged(self) -> bool:
        """Messages are waiting for the socket to drain (direct mode)."""
        return self._drainer is not None

    def put(self, frame: bytes) -> None:
        held = self._held
        if held is not None and not self.closed:
            if len(held) >= self.limit:
                self._overflow()
            else:
                held.append(frame)
            return
        self.put_now(frame)

    def put_now(self, frame: bytes) -> None:
        """``put``, past a ``hold()`` (the replay's own messages)."""
        if self.closed or self.overflowed:
            return
        direct = self.direct
        if direct is not None and self._drainer is None:
            turn = self._turn
            if turn is not None:  # already writing at the end of this loop turn
                turn.append(frame)
                return
            if direct.ready():
                if direct.deflate:  # market data compresses in write order: no deferral
                    direct.send_text(frame)
                    return
                self._turn = [frame]
                batch = Outbox._batch
                if batch is not None:
                    batch.append(self)
                else:
                    asyncio.get_running_loop().call_soon(self.flush_turn)
                return
            self._drainer = asyncio.ensure_future(self._drain())
        if self.queue.qsize() >= self.limit:
            self._overflow()
            return
        self.queue.put_nowait(frame)

    def flush_turn(self) -> None:
        """Write what this loop turn put, in one socket write (direct mode). Called at the
        end of the turn, and by whoever writes to the socket past the outbox first."""
        frames, self._turn = self._turn, None
        if frames:
            self.direct.send_texts(frames)

    def _overflow(self) -> None:
        self.overflowed = True
        self._held = None
        self.queue.put_nowait(None)
        self.close(1008, "slow consumer")

    def send(self, message: dict[str, Any]) -> None:
        self.put(orjson.dumps(message))

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        for frame in held or ():
            self.put_now(frame)

    async def room(self) -> None:
        """Return once the connection can take more without growing a backlog.

        Yields to the loop first: uvloop hands this turn's writes to the socket only at the
        end of the turn, so until then the write buffer reads as empty however much waits.
        """
        await asyncio.sleep(0)
        if self.direct is not None:
            await self.drained()
            return
        while not self.closed and self.queue.qsize() > self.limit // 2:
            await asyncio.sleep(0.005)

    def close(self, code: int | None = None, reason: str = "") -> None:
        """End the stream (idempotent); the first code given is the one the socket closes with."""
        if self.close_code is None and code is not None:
            self.close_code, self.close_reason = code, reason
        if self.closed:
            return
        if self._turn:
            self.flush_turn()  # what was put before the close still goes out, first
        self.closed = True
        if self.direct is None:
            self.queue.put_nowait(None)
        elif self._drainer is None and self.on_close is not None:
            self.on_close()

    async def drained(self) -> None:
        """Return once nothing is queued and the socket takes writes (direct mode), or the
        socket is closing."""
        while True:
            if self._drainer is not None:
                await asyncio.shield(self._drainer)
                continue
            direct = self.direct
            if direct is None or direct.closing() or direct.ready():
                return
            await direct.drained()
            if not direct.ready():
                await asyncio.sleep(0.005)

    async def _drain(self) -> None:
        direct = self.direct
        queue = self.queue
        try:
            while not queue.empty():
                await direct.drained()
                if direct.closing():
                    return
                frame = queue.get_nowait()
                if frame is None:
                    break
                direct.send_text(frame)
        finally:
            self._drainer = None
            if self.closed and self.on_close is not None:
                self.on_close()


class PrivateDelivery:
    """Knows which outboxes belong to which account; the sequencer's ``deliver`` callback."""

    def __init__(self, render: Callable[[t.Event], dict[str, Any]]) -> None:
        self._render = render
        self._by_account: dict[str, set[Outbox]] = {}

    def attach(self, box: Outbox) -> None:
        self._by_account.setdefault(box.account, set()).add(box)

    def detach(self, box: Outbox) -> None:
        boxes = self._by_account.get(box.account)
        if boxes is not None:
            boxes.discard(box)
            if not boxes:
                del self._by_account[box.account]

    def connections(self, account: str) -> int:
        return len(self._by_account.get(account, ()))

    def deliver(self, events: Sequence[t.Event], origin: Origin | None) -> None:
        origin_box = origin.conn if origin is not None else None
        for ev in events:
            account = ev.account  # type: ignore[union-attr]
            msg = self._render(ev)
            in_stream = msg.get("exec_seq") is not None
            wants_req_id = (
                origin_box is not None
                and origin_box.account == account
                and isinstance(ev, _REQ_ID_TYPES)
                and origin.req_id is not None  # type: ignore[union-attr]
                and (origin.echo_on_cancels or not isinstance(ev, t.OrderCanceled))  # type: ignore[union-attr]
            )
            if not in_stream:
                if origin_box is not None and origin_box.account == account:
                    if wants_req_id:
                        msg = {**msg, "req_id": origin.req_id}  # type: ignore[union-attr]
                    origin_box.send(msg)
                continue
            plain = orjson.dumps(msg)
            for box in self._by_account.get(account, ()):
                if box is origin_box and wants_req_id:
                    if box.withhold_acks and isinstance(ev, t.OrderAccepted):
                        box.withhold_acks -= 1  # a drill: this ack is "lost on the wire"
                        log.info("drill: ack of %s withheld from its connection", msg.get(
                            "client_order_id"))  # fmt: skip
                        continue
                    box.send({**msg, "req_id": origin.req_id})  # type: ignore[union-attr]
                else:
                    box.put(plain)
