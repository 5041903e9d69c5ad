"""The retained market-data history: a ring of ``MdEvent`` with consecutive offsets.

Exports: ``History``.

Events are appended in offset order with no gaps; the oldest are dropped when the ring holds
more than ``max_events`` or when they are older than ``max_age_ns`` relative to the newest
event's ``ts``. Lookup by offset is O(1) (a list plus a moving head index, compacted now and
then, so trimming is amortised O(1) per event). ``first_offset`` and ``last_offset`` are
plain attributes because every subscriber reads them on every batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange.hub.events import MdEvent

__all__ = ["History"]

# Compact the backing list once this many dropped slots sit before the head (at least).
_COMPACT_MIN = 256


class History:
    """Events ``first_offset .. last_offset`` (empty when ``first_offset > last_offset``)."""

    __slots__ = ("_events", "_head", "first_offset", "last_offset", "max_age_ns", "max_events")

    def __init__(self, last_offset: int, max_events: int, max_age_ns: int | None) -> None:
        if max_events < 1:
            raise ValueError("history must hold at least one event")
        self._events: list[MdEvent] = []
        self._head = 0
        #: Offset of the newest event (or the offset the empty history starts after).
        self.last_offset = last_offset
        #: Offset of the oldest retained event (``last_offset + 1`` when empty).
        self.first_offset = last_offset + 1
        self.max_events = max_events
        self.max_age_ns = max_age_ns

    def __len__(self) -> int:
        return self.last_offset - self.first_offset + 1

    def reset(self, last_offset: int) -> None:
        """Drop everything; the next event appended must be ``last_offset + 1``."""
        self._events = []
        self._head = 0
        self.last_offset = last_offset
        self.first_offset = last_offset + 1

    def append(self, ev: MdEvent) -> None:
        """Append the event at ``last_offset + 1``; ``ValueError`` on any other offset."""
        if ev.offset != self.last_offset + 1:
            raise ValueError(f"offset {ev.offset} does not follow {self.last_offset}")
        self._events.append(ev)
        self.last_offset = ev.offset

    def extend(self, events: Iterable[MdEvent]) -> None:
        for ev in events:
            self.append(ev)

    def trim(self) -> None:
        """Drop events beyond the count bound and those older than the age bound."""
        events = self._events
        head = self._head
        excess = len(events) - head - self.max_events
        if excess > 0:
            head += excess
        if self.max_age_ns is not None and head < len(events):
            oldest_kept = events[-1].ts - self.max_age_ns
            # Keep the newest event always: a resume from it must stay exact.
            last = len(events) - 1
            while head < last and events[head].ts < oldest_kept:
                head += 1
        self.first_offset += head - self._head
        # Compacting when half a ring's worth is dead keeps the list under 1.5x the bound
        # and costs about two pointer moves per event.
        if head >= _COMPACT_MIN and head * 2 >= self.max_events:
            del events[:head]
            head = 0
        self._head = head

    def since(self, offset: int) -> list[MdEvent]:
        """Events with offsets ``>= offset`` (from the oldest retained if ``offset`` is older)."""
        first = self.first_offset
        return self._events[self._head + offset - first if offset > first else self._head :]

    def slice(self, start: int, stop: int) -> list[MdEvent]:
        """Events with offsets in ``[start, stop)`` (clipped to what is retained)."""
        first = self.first_offset
        base = self._head - first
        return self._events[
            base + max(start, first) : base + max(min(stop, self.last_offset + 1), first)
        ]

    def at(self, offset: int) -> MdEvent:
        return self._events[self._head + offset - self.first_offset]

    def all(self) -> list[MdEvent]:
        return self._events[self._head :]
