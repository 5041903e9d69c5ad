"""The fan-out backend interface: how published events reach every gateway's hub.

Exports: ``HubBackend`` (Protocol), ``MemoryBackend``.

The one writer's ``MarketHub`` assigns offsets and encodes; a backend carries the resulting
``MdEvent`` batches to follower hubs (one per gateway process), which ``ingest`` them with the
same offsets and ids, so a client can resume on any gateway.

* ``memory://`` (``MemoryBackend``): same process; followers are fed synchronously. In the
  default single-process deployment the gateway simply uses the writer's hub and no backend
  is needed at all.
* ``redis://`` (``exchange.hub.redis_backend``): the writer XADDs each batch to one Redis
  Stream trimmed to the history size, from a task so the sequencer never waits on Redis;
  followers XREAD from ``after`` and ingest; a starting gateway catches up from the stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from exchange.hub.events import MdEvent
from exchange.hub.hub import MarketHub

__all__ = ["HubBackend", "MemoryBackend"]


class HubBackend(Protocol):
    """Carries ``MdEvent`` batches from the writer's hub to follower hubs."""

    def publish(self, events: Sequence[MdEvent]) -> None:
        """Hand over a batch in offset order. Must not block (buffer and flush elsewhere)."""
        ...

    async def history(self, after: int) -> list[MdEvent]:
        """Retained events with offsets ``> after`` (for a follower's catch-up)."""
        ...

    async def follow(self, hub: MarketHub) -> None:
        """Catch ``hub`` up from its ``last_offset``; returns once caught up, and new batches
        keep being ingested into it (from a background task, for Redis) until ``close``."""
        ...

    async def close(self) -> None:
        """Stop following and release resources."""
        ...


class MemoryBackend:
    """In-process backend: attach it with ``writer_hub.add_listener(backend.publish)``."""

    def __init__(self, history_size: int = 100_000) -> None:
        self._log: list[MdEvent] = []
        self._history_size = history_size
        self._followers: list[MarketHub] = []

    def publish(self, events: Sequence[MdEvent]) -> None:
        self._log.extend(events)
        if len(self._log) > 2 * self._history_size:
            del self._log[: len(self._log) - self._history_size]
        for hub in self._followers:
            hub.ingest(events)

    async def history(self, after: int) -> list[MdEvent]:
        return [ev for ev in self._log if ev.offset > after]

    async def follow(self, hub: MarketHub) -> None:
        backlog = await self.history(hub.last_offset)
        if backlog and backlog[0].offset != hub.last_offset + 1:
            raise ValueError(f"follower at {hub.last_offset} but history starts later")
        hub.ingest(backlog)
        self._followers.append(hub)

    async def close(self) -> None:
        self._followers.clear()
