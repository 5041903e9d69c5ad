"""A subscriber's view of the hub: a cursor into the shared history, plus a small prefix.

Exports: ``Subscription``, ``SlowPolicy``.

A subscription holds no copy of the live events: it reads them from the hub's history ring
from its ``cursor`` (so a subscriber that stops reading costs O(1) memory, and publishing
does not touch it at all). Its "buffer" is the matching events between its cursor and the
head. When that exceeds ``buffer_events`` it is conflated; if it is still over, or the raw
backlog exceeds ``max_pending``, or the history it needs has been dropped, the subscription
is closed with ``closed_reason = "slow_consumer"``.

Use: ``while True: batch = await sub.next_batch(timeout)`` then write ``ev.sse`` (or ``ws``,
``poll``) of each event; call ``sub.close()`` when the client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from exchange.hub.conflate import conflate
from exchange.hub.errors import SlowConsumer, SubscriptionClosed
from exchange.hub.events import Filter, MdEvent
from exchange.hub.host import HubHost

__all__ = ["SlowPolicy", "Subscription"]

#: "conflate": merge, then disconnect if still too far behind; "disconnect": no merging.
SlowPolicy = Literal["conflate", "disconnect"]

SLOW_CONSUMER = "slow_consumer"


class Subscription:
    """Events for one client, from ``MarketHub.subscribe``. Not thread-safe (one event loop).

    ``next_batch`` must not be called concurrently from two tasks.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_hub",
        "_last_delivery",
        "_prefix",
        "_scan_count",
        "_scan_offset",
        "_waiter",
        "closed_reason",
        "conflate_ns",
        "conflated_batches",
        "cursor",
        "filter",
        "kind",
        "resume_outcome",
    )

    def __init__(
        self,
        hub: HubHost,
        flt: Filter,
        kind: str,
        conflate_ns: int | None,
        cursor: int,
        prefix: list[MdEvent],
    ) -> None:
        self._hub = hub
        self.filter = flt
        self.kind = kind
        self.conflate_ns = conflate_ns
        #: Offset of the next history event to look at; everything before it was delivered
        #: (or did not match the filter).
        self.cursor = cursor
        self._prefix = prefix
        self.closed_reason: str | None = None
        #: None (subscribed without an id), "exact", or the reset reason ("too_old", ...).
        self.resume_outcome: str | None = None
        self.conflated_batches = 0
        self._waiter: asyncio.Future[None] | None = None
        self._callbacks: list[Callable[[Subscription], None]] = []
        self._last_delivery = 0.0
        self._scan_offset = cursor
        self._scan_count = 0

    # ------------------------------------------------------------------ public API

    @property
    def last_id(self) -> str:
        """The id a client that got every batch so far would resume from."""
        return f"{self._hub.epoch}-{self.cursor - 1}"

    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    def add_close_callback(self, callback: Callable[[Subscription], None]) -> None:
        """Call ``callback(sub)`` once when the subscription closes (e.g. to abort a blocked
        socket write when the hub drops a slow consumer). Called at once if already closed."""
        if self.closed_reason is not None:
            callback(self)
        else:
            self._callbacks.append(callback)

    def close(self, reason: str = "closed") -> None:
        """Close (idempotent). A pending ``next_batch`` raises ``SubscriptionClosed``."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self._hub.detach(self)
        self._wake()
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    async def next_batch(self, timeout: float | None = None) -> list[MdEvent]:
        """All pending matching events, waiting up to ``timeout`` seconds (``[]`` on timeout).

        Raises ``SlowConsumer`` if the hub dropped this subscriber, ``SubscriptionClosed`` if
        it was closed otherwise. With ``conflate_ns``, batches are at least that far apart
        and book deltas within one are merged.
        """
        if self.closed_reason is not None:
            self._raise_if_closed()
        history = self._hub.ring
        # Fast path (a reader that keeps up): something pending, no window, no deadline.
        if not self.conflate_ns and (self.cursor <= history.last_offset or self._prefix):
            batch = self._take()
            if batch:
                return batch
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        if self.conflate_ns and self._last_delivery:
            due = self._last_delivery + self.conflate_ns / 1e9
            if deadline is not None:
                due = min(due, deadline)
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
        while True:
            if self.closed_reason is not None:
                self._raise_if_closed()
            if self.cursor <= history.last_offset or self._prefix:
                batch = self._take()
                if batch:
                    if self.conflate_ns:
                        self._last_delivery = loop.time()
                    return batch
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                self._caught_up()
                return []
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter = fut
            self._hub.park(self)
            try:
                if remaining is None:
                    await fut
                else:
                    async with asyncio.timeout(remaining):
                        await fut
            except TimeoutError:
                if not fut.done():  # nothing matched while we waited
                    self._hub.unpark(self)
                    self._waiter = None
                    self._caught_up()
                    return []
                # woken in the same loop turn as the timeout: take what woke us
            finally:
                if self._waiter is fut:  # cancelled, or closed while waiting
                    self._hub.unpark(self)
                    self._waiter = None

    # ------------------------------------------------------------------ hub side

    def _wake(self, first_new: int | None = None) -> None:
        """Called by the hub: matching events were published from ``first_new`` on."""
        if first_new is not None and first_new > self.cursor:
            # While waiting nothing matched, so the skipped offsets hold nothing for us.
            self.cursor = first_new
        fut = self._waiter
        self._waiter = None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _caught_up(self) -> None:
        # Only called when no matching event is pending: skip what did not match.
        self.cursor = self._hub.ring.last_offset + 1

    def _raise_if_closed(self) -> None:
        reason = self.closed_reason
        if reason is not None:
            raise SlowConsumer(reason) if reason == SLOW_CONSUMER else SubscriptionClosed(reason)

    def _pending_count(self) -> int | None:
        """Matching events between the cursor and the head, or ``None`` when some it may
        need were already dropped from history. Incremental for filtered subscriptions; if
        nothing matched, the cursor moves past what was scanned."""
        history = self._hub.ring
        first = history.first_offset
        last = history.last_offset
        if self.filter.is_all:
            return None if self.cursor < first else last - self.cursor + 1
        if self._scan_offset < self.cursor:
            self._scan_offset, self._scan_count = self.cursor, 0
        if self._scan_offset < first:
            return None
        if self._scan_offset <= last:
            matches = self.filter.matches
            self._scan_count += sum(1 for ev in history.since(self._scan_offset) if matches(ev))
            self._scan_offset = last + 1
        if self._scan_count == 0:
            self.cursor = self._scan_offset
        return self._scan_count

    def _take(self) -> list[MdEvent]:
        hub = self._hub
        history = hub.ring
        prefix = self._prefix
        if self.cursor < history.first_offset:
            hub.drop_slow(self)
            self._raise_if_closed()
        raw = history.since(self.cursor)
        self.cursor = history.last_offset + 1
        flt = self.filter
        if flt.symbols is None and flt.channels is None:
            events = raw
        else:
            matches = flt.matches
            events = [ev for ev in raw if matches(ev)]
        if len(events) > hub.buffer_events:
            if hub.slow_policy == "disconnect" or len(events) > hub.max_pending:
                hub.drop_slow(self)
                self._raise_if_closed()
            events = conflate(events)
            self.conflated_batches += 1
            hub.stats.conflated_batches += 1
            if len(events) > hub.buffer_events:
                hub.drop_slow(self)
                self._raise_if_closed()
        elif self.conflate_ns and len(events) > 1:
            events = conflate(events, books_only=True)
        if prefix:
            self._prefix = []
            return prefix + events
        return events
