"""``MarketHub``: offsets, encode-once, history, resume, books and fan-out (memory backend).

Exports: ``MarketHub``, ``HubStats``, ``RESET_REASONS``.

Contract:

* ``publish(items, ts)`` is synchronous and never waits on a client: it assigns consecutive
  offsets, encodes each payload once, appends to the history ring, updates the hub's books,
  and wakes only subscribers that are waiting and whose filter matches (setting a future).
  Subscribers that are busy or stalled are not touched: they read from the ring later.
* ``subscribe``/``resume``/``poll`` give exactly the events after a resume id when it is of
  this epoch and within history; otherwise a ``reset`` event and fresh snapshots.
* Snapshot and reset events carry the id of the last event they reflect (the head), so a
  client resuming from them is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from exchange.hub.books import BookMirror
from exchange.hub.errors import SubscriptionClosed
from exchange.hub.events import CHANNEL_OF, Filter, Framing, MdEvent, make_event
from exchange.hub.history import History
from exchange.hub.host import HubStats
from exchange.hub.push import Fanout, PushSubscription, Writer
from exchange.hub.subscription import SLOW_CONSUMER, SlowPolicy, Subscription

__all__ = ["RESET_REASONS", "HubStats", "MarketHub"]

log = logging.getLogger("tickwire.hub")

RESET_REASONS = ("unknown_epoch", "too_old", "ahead", "bad_id")
# Distinct filters interned for grouping; beyond this, subscribers simply get their own group.
_MAX_INTERNED_FILTERS = 1024
_HOUR_NS = 3600 * 10**9


class MarketHub:
    """The market-data hub of one process (see the module docstring for the contract)."""

    def __init__(
        self,
        epoch: str,
        *,
        history_size: int = 100_000,
        history_age_ns: int | None = _HOUR_NS,
        buffer_events: int = 4096,
        max_pending: int | None = None,
        slow_policy: SlowPolicy = "conflate",
        sweep_every: int = 256,
        stall_s: float = 30.0,
        keepalive_s: float | None = 15.0,
    ) -> None:
        if "-" in epoch or not epoch:
            raise ValueError("epoch must be a non-empty string without '-'")
        if slow_policy not in ("conflate", "disconnect"):
            raise ValueError(f"unknown slow_policy {slow_policy!r}")
        self.epoch = epoch
        self.buffer_events = buffer_events
        #: Raw matching backlog beyond which a subscriber is dropped without conflating.
        self.max_pending = max_pending if max_pending is not None else 4 * buffer_events
        self.slow_policy: SlowPolicy = slow_policy
        self.sweep_every = sweep_every
        self.last_ts = 0
        self.stats = HubStats()
        self._history = History(0, history_size, history_age_ns)
        self._books = BookMirror()
        self._subs: dict[Subscription, None] = {}
        #: Waiting subscriptions grouped by (interned) filter, keyed by ``id(filter)``: an int
        #: hashes and compares much faster than the dataclass, and this is per wake-up.
        self._waiting: dict[int, tuple[Filter, dict[Subscription, None]]] = {}
        self._filters: dict[Filter, Filter] = {}
        #: Subscriptions not waiting in next_batch (writing, or stalled): the sweep's work.
        self._busy: dict[Subscription, None] = {}
        self._since_sweep = 0
        self._snapshot_cache: dict[str, tuple[MdEvent, int]] = {}
        self._listeners: list[Callable[[list[MdEvent]], None]] = []
        #: Push subscribers (``attach``): written to straight from the publishing side.
        self._fanout = Fanout(self, stall_s=stall_s, keepalive_s=keepalive_s)

    # ------------------------------------------------------------------ properties

    @property
    def last_offset(self) -> int:
        return self._history.last_offset

    @property
    def last_id(self) -> str:
        return f"{self.epoch}-{self._history.last_offset}"

    @property
    def first_offset(self) -> int:
        """Oldest retained offset; resuming from ``first_offset - 1`` or later is exact."""
        return self._history.first_offset

    @property
    def symbols(self) -> list[str]:
        return self._books.symbols

    @property
    def ring(self) -> History:
        """The history ring (``HubHost``: what subscriptions read)."""
        return self._history

    @property
    def books(self) -> BookMirror:
        return self._books

    def history(self) -> list[MdEvent]:
        """The retained events, oldest first (a copy of the list)."""
        return list(self._history.all())

    # ------------------------------------------------------------------ publishing side

    def seed(self, snapshots: list[dict[str, Any]], offset: int) -> None:
        """Set the books from engine ``snapshot`` payloads reflecting everything up to ``offset``.

        At start-up only: with history present, ``offset`` must equal the last offset.
        """
        if len(self._history) and offset != self._history.last_offset:
            raise ValueError(f"seed at {offset} but history ends at {self._history.last_offset}")
        if not len(self._history):
            self._history.reset(offset)
        for payload in snapshots:
            self._books.apply("snapshot", payload["symbol"], payload)
        self._snapshot_cache.clear()

    def publish(self, items: Sequence[tuple[str, str | None, dict[str, Any]]], ts: int) -> None:
        """Append ``(event_name, symbol, payload)`` items in order, at event time ``ts`` (ns).

        Raises ``ValueError`` (publishing nothing) on an unknown event name or a book/trade
        event without a symbol.
        """
        for name, symbol, _ in items:
            if name not in CHANNEL_OF:
                raise ValueError(f"unknown market-data event {name!r}")
            if symbol is None and name in ("book", "snapshot", "trade"):
                raise ValueError(f"{name} event without a symbol")
        history = self._history
        offset = history.last_offset
        new: list[MdEvent] = []
        for name, symbol, payload in items:
            offset += 1
            ev = make_event(self.epoch, offset, name, symbol, ts, payload)
            if symbol is not None and name in ("book", "trade", "snapshot"):
                self._books.apply(name, symbol, payload)
            history.append(ev)
            new.append(ev)
        if not new:
            return
        self.last_ts = ts
        history.trim()
        self.stats.events_published += len(new)
        for listener in self._listeners:
            listener(new)
        self._wake(new)
        self._fanout.notify()
        self._since_sweep += len(new)
        # Sweep cost grows with the busy subscribers, so sweep less often when there are
        # many (amortised ~4 checks per event), but always well before max_pending.
        interval = min(max(self.sweep_every, len(self._busy) // 4), self.max_pending // 2)
        if self._since_sweep >= interval:
            self._since_sweep = 0
            self.sweep()

    def add_listener(self, listener: Callable[[list[MdEvent]], None]) -> None:
        """Call ``listener(events)`` after each ``publish`` (e.g. a backend's ``publish``).
        It runs on the sequencer's path: it must not block."""
        self._listeners.append(listener)

    def ingest(self, events: Sequence[MdEvent]) -> None:
        """Append events that already have offsets (a follower of another hub's feed).

        Ids are kept as given, so they are the same on every gateway.
        """
        for ev in events:
            if ev.symbol is not None and ev.event in ("book", "trade", "snapshot"):
                self._books.apply(ev.event, ev.symbol, ev.payload())
            self._history.append(ev)
            self.last_ts = ev.ts
        if events:
            self._history.trim()
            self.stats.events_published += len(events)
            self._wake(list(events))
            self._fanout.notify()

    def _wake(self, new: list[MdEvent]) -> None:
        if not self._waiting:
            return
        first = new[0].offset
        busy = self._busy
        for key, (flt, group) in list(self._waiting.items()):
            if flt.is_all or any(flt.matches(ev) for ev in new):
                del self._waiting[key]
                for sub in group:
                    busy[sub] = None
                    sub._wake(first)

    def sweep(self) -> None:
        """Drop subscribers that are not reading and are too far behind (also run every
        ``sweep_every`` published events). Waiting subscribers are caught up, never dropped."""
        limit = self.buffer_events if self.slow_policy == "disconnect" else self.max_pending
        for sub in list(self._busy):
            if sub._waiter is not None:
                continue
            pending = sub._pending_count()
            if pending is None or pending > limit:
                self.drop_slow(sub)

    # ------------------------------------------------------------------ reading side

    def snapshot_event(self, symbol: str) -> MdEvent:
        """The full book of ``symbol`` as a ``snapshot`` event with the head's id.

        Raises ``KeyError`` for a symbol the hub has never seen.
        """
        if symbol not in self._books:
            raise KeyError(symbol)
        head = self._history.last_offset
        version = self._books.version(symbol)
        cached = self._snapshot_cache.get(symbol)
        if cached is not None:
            ev, cached_version = cached
            if cached_version == version:
                if ev.offset == head:
                    return ev
                # Same book, newer head: reuse the encoded bytes under the new id.
                ev = MdEvent(
                    head, f"{self.epoch}-{head}", "snapshot", symbol, "book", self.last_ts, ev.data
                )
                self._snapshot_cache[symbol] = (ev, version)
                return ev
        ev = make_event(
            self.epoch, head, "snapshot", symbol, self.last_ts, self._books.snapshot(symbol)
        )
        self._snapshot_cache[symbol] = (ev, version)
        return ev

    def snapshots(self, flt: Filter) -> list[MdEvent]:
        """One snapshot per known symbol the filter wants (none without the book channel)."""
        if not flt.wants_channel("book"):
            return []
        return [self.snapshot_event(s) for s in self._books.symbols if flt.wants_symbol(s)]

    def reset_event(self, reason: str) -> MdEvent:
        head = self._history.last_offset
        return make_event(self.epoch, head, "reset", None, self.last_ts, {"reason": reason})

    def check_id(self, last_id: str) -> tuple[str | None, int]:
        """``(reset_reason, offset)``: reason is None when resuming after ``last_id`` is exact."""
        epoch, sep, offset_s = last_id.partition("-")
        if not sep or not offset_s.isascii() or not offset_s.isdigit() or len(offset_s) > 19:
            return "bad_id", -1
        if epoch != self.epoch:
            return "unknown_epoch", -1
        offset = int(offset_s)
        if offset > self._history.last_offset:
            return "ahead", offset
        if offset < self._history.first_offset - 1:
            return "too_old", offset
        return None, offset

    def _plan(
        self, flt: Filter, last_id: str | None, *, count_exact: bool = True, paced: bool = False
    ) -> tuple[list[MdEvent], int, str | None]:
        """(prefix events, cursor, reset reason or None). ``paced``: the backlog is streamed
        with flow control (push subscriptions), so any depth within history is exact."""
        head = self._history.last_offset
        if last_id is None:
            return self.snapshots(flt), head + 1, None
        reason, offset = self.check_id(last_id)
        if reason is None and not paced and head - offset > self.buffer_events:
            backlog = self._history.since(offset + 1)
            if sum(1 for ev in backlog if flt.matches(ev)) > self.max_pending:
                reason = "too_old"  # the subscriber would be dropped at once: start afresh
        if reason is not None:
            self.stats.resume_reset[reason] += 1
        elif count_exact:
            self.stats.resume_exact += 1
        if reason is None:
            return [], offset + 1, None
        return [self.reset_event(reason), *self.snapshots(flt)], head + 1, reason

    def resume(self, flt: Filter, last_id: str | None) -> tuple[list[MdEvent], bool]:
        """``(events, exact)``: the matching events after ``last_id`` and ``True`` when that is
        exact; otherwise ``[reset, snapshots...]`` (or just snapshots without an id) and
        ``False``."""
        prefix, cursor, reason = self._plan(flt, last_id)
        if last_id is None or reason is not None:
            return prefix, False
        return [ev for ev in self._history.since(cursor) if flt.matches(ev)], True

    def subscribe(
        self,
        flt: Filter,
        last_id: str | None = None,
        *,
        conflate_ns: int | None = None,
        kind: str = "sse",
    ) -> Subscription:
        """A subscription whose first batch is the resume backlog (or reset + snapshots, or
        snapshots), then live events: no gap, no duplicate. ``kind`` labels the counters.
        ``sub.resume_outcome`` says what happened: ``None`` (no id), ``"exact"`` or the reset
        reason."""
        return self._subscribe(flt, last_id, conflate_ns, kind, count_exact=True)

    def _subscribe(
        self,
        flt: Filter,
        last_id: str | None,
        conflate_ns: int | None,
        kind: str,
        *,
        count_exact: bool,
    ) -> Subscription:
        prefix, cursor, reason = self._plan(flt, last_id, count_exact=count_exact)
        interned = self._filters.get(flt)
        if interned is not None:
            flt = interned  # share one waiting group with same-filter subscribers
        elif len(self._filters) < _MAX_INTERNED_FILTERS:
            self._filters[flt] = flt
        sub = Subscription(self, flt, kind, conflate_ns, cursor, prefix)
        if last_id is not None:
            sub.resume_outcome = reason or "exact"
        self._subs[sub] = None
        self._busy[sub] = None
        self.stats.subscribers[kind] += 1
        return sub

    def attach(
        self,
        flt: Filter,
        writer: Writer,
        framing: Framing,
        last_id: str | None = None,
        *,
        conflate_ns: int | None = None,
        kind: str = "sse",
        count_exact: bool = True,
    ) -> PushSubscription:
        """A push subscription: the hub writes to ``writer`` itself, ``framing.frame(batch)``
        per batch, from the publishing side (see ``exchange.hub.push``). The prefix (reset and
        snapshots, or snapshots) is written before this returns; a resume backlog of any depth
        within history follows exactly, paced by the connection. ``sub.resume_outcome`` is as
        for ``subscribe``."""
        fanout = self._fanout
        if fanout._flush_pending:
            fanout.flush()  # every group at the head: a new member starts in step
        prefix, cursor, reason = self._plan(flt, last_id, paced=True, count_exact=count_exact)
        interned = self._filters.get(flt)
        if interned is not None:
            flt = interned
        elif len(self._filters) < _MAX_INTERNED_FILTERS:
            self._filters[flt] = flt
        sub = PushSubscription(fanout, flt, framing, kind, writer, cursor, conflate_ns)
        if last_id is not None:
            sub.resume_outcome = reason or "exact"
            if reason is None:
                sub.exact_until = self._history.last_offset
        if prefix:
            writer.write(framing.frame(prefix))
            self.stats.delivered[kind] += len(prefix)
        self.stats.subscribers[kind] += 1
        fanout.attach(sub)
        return sub

    def poll_now(
        self, flt: Filter, cursor: str | None, limit: int
    ) -> tuple[list[MdEvent], str] | None:
        """The answer a long poll gets at once, ``(events, next_cursor)``, or ``None`` when it
        must wait for events after the head (``attach`` a ``POLL_BODY`` subscriber then).

        No cursor: the snapshots (``None`` when the filter wants no book). A cursor that
        cannot resume exactly: ``reset`` and snapshots. Otherwise the matching events after
        it, at most ``limit`` (a deep backlog comes in pages, each exact)."""
        head = self._history.last_offset
        if cursor is None:
            snaps = self.snapshots(flt)
            return (snaps, self.last_id) if snaps else None
        reason, offset = self.check_id(cursor)
        if reason is not None:
            self.stats.resume_reset[reason] += 1
            return [self.reset_event(reason), *self.snapshots(flt)], self.last_id
        if offset >= head:
            return None
        history = self._history
        matches = flt.matches
        events: list[MdEvent] = []
        pos = offset + 1
        while pos <= head and len(events) < limit:
            stop = min(head + 1, pos + 4096)
            for ev in history.slice(pos, stop):
                if matches(ev):
                    events.append(ev)
                    if len(events) >= limit:
                        break
            pos = stop
        return (events, events[-1].id) if events else None

    async def poll(
        self, flt: Filter, cursor: str | None, timeout: float
    ) -> tuple[list[MdEvent], str]:
        """Long-poll helper: ``(events, next_cursor)``. Answers at once when anything matches
        after ``cursor`` (or with reset/snapshots), else waits up to ``timeout`` seconds and
        returns ``([], cursor)``. Only resets count as resume outcomes here: every poll
        resumes, so exact ones would drown the metric."""
        sub = self._subscribe(flt, cursor, None, "poll", count_exact=False)
        try:
            events = await sub.next_batch(timeout)
        except SubscriptionClosed:
            events = [self.reset_event("too_old"), *self.snapshots(flt)]
            return events, self.last_id
        finally:
            sub.close()
        if events:
            return events, sub.last_id
        return [], cursor if cursor is not None else sub.last_id

    def close(self) -> None:
        """Close every subscription (``closed_reason = "hub_closed"``)."""
        for sub in list(self._subs):
            sub.close("hub_closed")
        self._fanout.close_all("hub_closed")

    # ------------------------------------------------------------------ subscription support

    def park(self, sub: Subscription) -> None:
        flt = sub.filter
        entry = self._waiting.get(id(flt))
        if entry is None:
            entry = self._waiting[id(flt)] = (flt, {})
        entry[1][sub] = None
        self._busy.pop(sub, None)

    def unpark(self, sub: Subscription) -> None:
        if sub.closed_reason is None:
            self._busy[sub] = None
        entry = self._waiting.get(id(sub.filter))
        if entry is not None:
            group = entry[1]
            group.pop(sub, None)
            if not group:
                del self._waiting[id(sub.filter)]

    def detach(self, sub: Subscription) -> None:
        self._busy.pop(sub, None)
        if sub in self._subs:
            del self._subs[sub]
            self.stats.subscribers[sub.kind] -= 1
        self.unpark(sub)

    def drop_slow(self, sub: Subscription | PushSubscription) -> None:
        if sub.closed_reason is None:
            self.stats.slow_consumer_disconnects += 1
            log.info(
                "dropping slow %s subscriber at %d (head %d)",
                sub.kind,
                sub.cursor,
                self._history.last_offset,
            )
            sub.close(SLOW_CONSUMER)

    # ------------------------------------------------------------------ state

    def to_state(self) -> bytes:
        """Everything needed to continue after a restart (see ``exchange.hub.state``)."""
        from exchange.hub.state import dump_state

        return dump_state(self)

    @classmethod
    def from_state(cls, data: bytes, **overrides: Any) -> MarketHub:
        """A hub continuing ``to_state``'s: same epoch, offsets, history, books. Keyword
        arguments override the saved settings (``history_size``, ``buffer_events``, ...)."""
        from exchange.hub.state import load_state

        return load_state(cls, data, overrides)
