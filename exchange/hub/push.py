"""Push subscriptions: the hub writes each batch straight to its subscribers' connections.

Exports: ``Fanout``, ``PushSubscription``, ``Writer``.

The cost of a delivery is one ``Writer.offer`` (a buffer check and a socket write); no task
wakes, no queue, no lock, no timeout per subscriber. How it works:

* **Groups.** Live subscribers are grouped by ``(filter, framing, kind)``. Each group has a
  cursor: every member has been written everything before it that matched. ``flush`` (run
  once per event-loop turn after anything was published, so a batch of commands costs one
  write per subscriber) takes the new events, filters them once per group, frames them once
  per group (``Framing.frame``) and offers the same bytes to every member.
* **Lagging.** A member whose connection refuses a write (``Writer.offer``: it has its
  high-water mark of bytes or more unsent, e.g. ``Settings.subscriber_high_water``) is not
  written: it leaves its group with its own cursor (it costs O(1) memory, the events stay in
  the history ring) and joins the lagging set, which a timer services: when the connection
  has drained it is caught up from the history and rejoins its group. Catching up after
  falling behind live applies the slow-consumer policy: more than ``buffer_events`` matching
  events are conflated (or the subscriber is dropped, under ``"disconnect"``), more than
  ``max_pending`` are never conflated but dropped. A subscriber whose connection has not
  drained for ``stall_s``, or whose cursor fell out of history, is dropped
  (``closed_reason == "slow_consumer"``). So a stalled reader holds at most its high-water
  mark plus one batch in user space, whatever the feed does.
* **Exact resume.** A subscription that resumed from an id starts lagging at that id; the
  backlog up to the head at subscribe time (``exact_until``) is written exactly, in slices,
  as fast as the connection drains (flow control, never conflated), then live events follow.
* **Windows.** A subscriber with ``conflate_ns`` stays in the lagging set and is written at
  most once per window, book deltas merged (``conflate(books_only=True)``).
* **Keepalive.** One timer writes ``Framing.keepalive()`` (SSE heartbeat comments) to every
  live member every ``keepalive_s``.

Closing a subscription (by the client going away, by the hub, or as a slow consumer) calls
its close callbacks once; the transport ends the connection there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from exchange.hub.conflate import conflate
from exchange.hub.events import Filter, Framing, MdEvent
from exchange.hub.host import HubHost

__all__ = ["Fanout", "PushSubscription", "Writer"]

log = logging.getLogger("tickwire.hub")

SLOW_CONSUMER = "slow_consumer"
#: Events per slice of an exact catch-up (a resume backlog).
_SLICE = 1024
#: Seconds between services of the lagging set while it is not empty.
_SERVICE_S = 0.05


class Writer(Protocol):
    """A connection the hub writes to (implemented by each transport)."""

    def ready(self) -> bool:
        """Not closing, and fewer than its high-water mark of bytes unsent."""
        ...

    def offer(self, data: bytes) -> bool:
        """Write ``data`` unless the connection is closing or has its high-water mark of
        bytes or more unsent; ``True`` when written. Never blocks."""
        ...

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        ...

    def closing(self) -> bool:
        """The connection is gone or going: nothing more will be sent on it."""
        ...

    def write(self, data: bytes) -> None:
        """Write ``data`` whatever the buffer holds (the subscription's first frames)."""
        ...


class PushSubscription:
    """One connection's subscription, written to by the hub (see the module docstring).

    Made by ``MarketHub.attach``; the transport calls ``close()`` when the client goes away.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_due",
        "_fanout",
        "_group",
        "_lag_since",
        "_scan_count",
        "_scan_offset",
        "closed_reason",
        "conflate_ns",
        "conflated_batches",
        "cursor",
        "exact_until",
        "filter",
        "framing",
        "kind",
        "resume_outcome",
        "writer",
    )

    def __init__(
        self,
        fanout: Fanout,
        flt: Filter,
        framing: Framing,
        kind: str,
        writer: Writer,
        cursor: int,
        conflate_ns: int | None,
    ) -> None:
        self._fanout = fanout
        self.filter = flt
        self.framing = framing
        self.kind = kind
        self.writer = writer
        #: Offset of the next history event to look at; everything before it was written
        #: (or did not match). Meaningless while in a group (the group's cursor applies).
        self.cursor = cursor
        self.conflate_ns = conflate_ns
        #: Events up to this offset are written exactly (the resume backlog); -1: none.
        self.exact_until = -1
        self.closed_reason: str | None = None
        #: None (subscribed without an id), "exact", or the reset reason ("too_old", ...).
        self.resume_outcome: str | None = None
        self.conflated_batches = 0
        self._callbacks: list[Callable[[PushSubscription], None]] = []
        self._group: _Group | None = None
        self._lag_since = 0.0
        self._due = 0.0
        self._scan_offset = cursor
        self._scan_count = 0

    @property
    def last_id(self) -> str:
        """The id of the last event this subscriber was written (what it would resume from)."""
        fanout = self._fanout
        cursor = self._group.cursor if self._group is not None else self.cursor
        return f"{fanout.hub.epoch}-{cursor - 1}"

    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    def add_close_callback(self, callback: Callable[[PushSubscription], None]) -> None:
        """Call ``callback(sub)`` once when the subscription closes (at once if it is)."""
        if self.closed_reason is not None:
            callback(self)
        else:
            self._callbacks.append(callback)

    def close(self, reason: str = "closed") -> None:
        """Stop writing (idempotent) and call the close callbacks."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self._fanout.detach(self)
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                cb(self)
            except Exception:  # a transport's bug must not break the hub
                log.exception("push subscription close callback failed")

    def __repr__(self) -> str:
        return f"PushSubscription({self.kind} {self.framing.name} cursor={self.cursor})"


class _Group:
    __slots__ = ("cursor", "filter", "framing", "key", "kind", "members")

    def __init__(
        self, key: tuple[int, int, str], flt: Filter, framing: Framing, kind: str, cursor: int
    ) -> None:
        self.key = key
        self.filter = flt
        self.framing = framing
        self.kind = kind
        self.cursor = cursor
        self.members: dict[PushSubscription, None] = {}


class Fanout:
    """The push side of one ``MarketHub`` (created by the hub; see the module docstring)."""

    def __init__(
        self,
        hub: HubHost,
        *,
        stall_s: float = 30.0,
        keepalive_s: float | None = 15.0,
        catchup_bytes: int = 1 << 20,
    ) -> None:
        self.hub = hub
        self.stall_s = stall_s
        self.keepalive_s = keepalive_s
        self.catchup_bytes = catchup_bytes
        self._groups: dict[tuple[int, int, str], _Group] = {}
        self._lagging: dict[PushSubscription, None] = {}
        self._count = 0
        self._flush_pending = False
        self._service_timer: asyncio.TimerHandle | None = None
        self._service_soon = False
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return self._count

    # ------------------------------------------------------------------ membership

    def attach(self, sub: PushSubscription) -> None:
        """Start serving ``sub`` (its prefix already written, ``sub.cursor`` set)."""
        self._count += 1
        if self._loop is None:
            self._loop = _running_loop()
        self._arm_keepalive()
        if sub.conflate_ns or sub.cursor <= self.hub.ring.last_offset:
            self._lag(sub, self._now())
            self._schedule_service(soon=True)
        else:
            self._join(sub)

    def detach(self, sub: PushSubscription) -> None:
        group = sub._group
        if group is not None:
            sub.cursor = group.cursor
            sub._group = None
            group.members.pop(sub, None)
            if not group.members:
                del self._groups[group.key]
        self._lagging.pop(sub, None)
        self._count -= 1
        self.hub.stats.subscribers[sub.kind] -= 1

    def _key(self, sub: PushSubscription) -> tuple[int, int, str]:
        return (id(sub.filter), id(sub.framing), sub.kind)

    def _join(self, sub: PushSubscription) -> None:
        key = self._key(sub)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key, sub.filter, sub.framing, sub.kind, sub.cursor)
        elif group.cursor != sub.cursor:  # not in step (a flush is pending): catch up first
            self._lag(sub, self._now())
            self._schedule_service(soon=True)
            return
        group.members[sub] = None
        sub._group = group

    def _lag(self, sub: PushSubscription, now: float) -> None:
        group = sub._group
        if group is not None:
            sub.cursor = group.cursor
            sub._group = None
            group.members.pop(sub, None)
            if not group.members:
                del self._groups[group.key]
        sub._lag_since = now
        self._lagging[sub] = None

    def close_all(self, reason: str) -> None:
        subs = list(self._lagging)
        for group in list(self._groups.values()):
            subs.extend(group.members)
        for sub in subs:
            sub.close(reason)

    # ------------------------------------------------------------------ publishing

    def notify(self) -> None:
        """Events were appended to the hub's history: flush once this loop turn."""
        if not self._count or self._flush_pending:
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            self.flush()
            return
        self._flush_pending = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what was published since the last flush to every group (see the docstring)."""
        self._flush_pending = False
        hub = self.hub
        history = hub.ring
        head = history.last_offset
        first = history.first_offset
        stats = hub.stats
        laggards: list[PushSubscription] = []
        for group in list(self._groups.values()):
            start = group.cursor
            if start > head:
                continue
            if start < first:  # more than the whole history in one turn: cannot be exact
                for sub in list(group.members):
                    hub.drop_slow(sub)
                continue
            raw = history.since(start)
            group.cursor = head + 1
            flt = group.filter
            if flt.symbols is None and flt.channels is None:
                events = raw
            else:
                matches = flt.matches
                events = [ev for ev in raw if matches(ev)]
            if not events:
                continue
            framing = group.framing
            n = len(events)
            written = 0
            if framing.stateful:  # one member, its own compressor: frame only to write
                for sub in group.members:
                    if sub.writer.ready():
                        sub.writer.write(framing.frame(events))
                        written += 1
                    else:
                        laggards.append(sub)
            else:
                data = framing.frame(events)
                for sub in group.members:
                    if sub.writer.offer(data):
                        written += 1
                    else:
                        laggards.append(sub)
            stats.delivered[group.kind] += n * written
            if laggards:
                now = self._now()
                for sub in laggards:
                    self._lag(sub, now)
                    sub.cursor = start
                laggards.clear()
        if self._lagging:
            self._schedule_service()

    # ------------------------------------------------------------------ lagging set

    def _schedule_service(self, *, soon: bool = False) -> None:
        loop = self._loop
        if loop is None:
            self._service()
            return
        if soon:
            if not self._service_soon:
                self._service_soon = True
                loop.call_soon(self._service)
        elif self._service_timer is None and not self._service_soon:
            self._service_timer = loop.call_later(_SERVICE_S, self._service)

    def _service(self) -> None:
        self._service_soon = False
        if self._service_timer is not None:
            self._service_timer.cancel()
            self._service_timer = None
        if not self._lagging:
            return
        hub = self.hub
        history = hub.ring
        now = self._now()
        progressed = False
        for sub in list(self._lagging):
            if sub.closed_reason is not None:
                continue
            writer = sub.writer
            if writer.closing():
                sub.close("disconnected")
                continue
            if sub.cursor < history.first_offset:
                hub.drop_slow(sub)
                continue
            if sub.conflate_ns and now < sub._due:
                continue
            if not writer.ready():
                if now - sub._lag_since > self.stall_s or self._too_far(sub):
                    hub.drop_slow(sub)
                continue
            if self._catch_up(sub, now):
                progressed = True
        if progressed:
            self._schedule_service(soon=True)
        elif self._lagging:
            self._schedule_service()

    def _catch_up(self, sub: PushSubscription, now: float) -> bool:
        """Write ``sub``'s backlog as far as its connection takes it; ``True`` if it still
        has a backlog after writing some (service it again soon)."""
        hub = self.hub
        history = hub.ring
        writer = sub.writer
        group = self._groups.get(self._key(sub))
        if group is None or sub.conflate_ns:
            target = history.last_offset + 1
        elif group.cursor < sub.cursor:
            return False  # a flush is pending: join once the group has caught up to us
        else:
            target = group.cursor
        matches = sub.filter.matches
        wrote = 0
        while sub.cursor < target:
            if wrote >= self.catchup_bytes or not writer.ready():
                return True
            if sub.cursor <= sub.exact_until:
                stop = min(target, sub.exact_until + 1, sub.cursor + _SLICE)
                events = [ev for ev in history.slice(sub.cursor, stop) if matches(ev)]
            else:
                stop = target
                kept = self._apply_policy(
                    sub, [ev for ev in history.slice(sub.cursor, stop) if matches(ev)]
                )
                if kept is None:
                    return False
                events = kept
            sub.cursor = stop
            if events:
                data = sub.framing.frame(events)
                writer.write(data)
                wrote += len(data)
                hub.stats.delivered[sub.kind] += len(events)
            sub._lag_since = now
        sub._scan_offset, sub._scan_count = sub.cursor, 0
        if sub.conflate_ns:
            if wrote:
                sub._due = now + sub.conflate_ns / 1e9
            return False
        self._lagging.pop(sub, None)
        self._join(sub)
        return False

    def _too_far(self, sub: PushSubscription) -> bool:
        """A stalled subscriber's matching backlog is past what the policy lets it catch up
        from (counted incrementally: each event is looked at once per subscriber)."""
        hub = self.hub
        if sub.cursor <= sub.exact_until:
            return False  # still in its resume backlog: paced, never dropped for its size
        limit = hub.buffer_events if hub.slow_policy == "disconnect" else hub.max_pending
        head = hub.ring.last_offset
        if head - sub.cursor + 1 <= limit:
            return False
        if sub._scan_offset < sub.cursor:
            sub._scan_offset, sub._scan_count = sub.cursor, 0
        if sub._scan_offset <= head:
            matches = sub.filter.matches
            sub._scan_count += sum(
                1 for ev in hub.ring.slice(sub._scan_offset, head + 1) if matches(ev)
            )
            sub._scan_offset = head + 1
        return sub._scan_count > limit

    def _apply_policy(self, sub: PushSubscription, events: list[MdEvent]) -> list[MdEvent] | None:
        """The slow-consumer policy on a live backlog; ``None`` when ``sub`` was dropped."""
        hub = self.hub
        if len(events) > hub.buffer_events:
            if hub.slow_policy == "disconnect" or len(events) > hub.max_pending:
                hub.drop_slow(sub)
                return None
            events = conflate(events)
            sub.conflated_batches += 1
            hub.stats.conflated_batches += 1
            if len(events) > hub.buffer_events:
                hub.drop_slow(sub)
                return None
        elif sub.conflate_ns and len(events) > 1:
            events = conflate(events, books_only=True)
        return events

    # ------------------------------------------------------------------ keepalive

    def _arm_keepalive(self) -> None:
        if self.keepalive_s and self._keepalive_timer is None and self._loop is not None:
            self._keepalive_timer = self._loop.call_later(self.keepalive_s, self._keepalive)

    def _keepalive(self) -> None:
        self._keepalive_timer = None
        frames: dict[int, bytes | None] = {}
        for group in self._groups.values():
            framing = group.framing
            if framing.stateful:
                # its own compressor: make the frame only if it is written (a frame made
                # and dropped would leave the client's decoder out of step)
                for sub in group.members:
                    if sub.writer.ready():
                        data = framing.keepalive()
                        if data:
                            sub.writer.write(data)
                continue
            data = frames.get(id(framing), b"")
            if data == b"":
                data = frames[id(framing)] = framing.keepalive()
            if data is not None:
                for sub in group.members:
                    sub.writer.offer(data)
        if self._count:
            self._arm_keepalive()

    def _now(self) -> float:
        loop = self._loop
        return loop.time() if loop is not None else 0.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
