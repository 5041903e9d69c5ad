"""Private routing: an account's events to every socket of that account, in release order.

Exports: ``AccountRouter``, ``Outbox``.

Rules (PROTOCOL.md section 3): events of the execution stream (they carry ``exec_seq``) go to
every connection of their account, so each connection sees a gap-free stream; events that
change nothing (rejects, duplicates, ``orders.canceled_all``) go only to the connection that
asked. The asking connection's direct replies (ack, reject, cancel) echo its ``req_id``.
Everything a connection sends passes through its :class:`Outbox`, so order is preserved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from exchange.engine import types as t
from exchange.sequencer import Origin

__all__ = ["AccountRouter", "Outbox"]

_REQ_ID_TYPES = (t.OrderAccepted, t.OrderRejected, t.OrderCanceled, t.CanceledAll)


class Outbox:
    """A connection's ordered, bounded queue of encoded frames and its writer side.

    ``put`` never blocks (the sequencer calls it); when more than ``limit`` frames wait, the
    outbox is marked overflowed and the owner must close the connection (the client resumes
    with ``executions.resume``).
    """

    __slots__ = ("account", "closed", "limit", "overflowed", "queue")

    def __init__(self, account: str, limit: int = 10_000) -> None:
        self.account = account
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.limit = limit
        self.overflowed = False
        self.closed = False

    def put(self, frame: bytes) -> None:
        if self.closed or self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(frame)

    def send(self, message: dict[str, Any]) -> None:
        self.put(orjson.dumps(message))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class AccountRouter:
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
                    box.send({**msg, "req_id": origin.req_id})  # type: ignore[union-attr]
                else:
                    box.put(plain)
