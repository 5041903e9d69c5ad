"""The ``redis://`` fan-out backend: one Redis Stream carries the writer hub's events to every
gateway's follower hub, with the same offsets and ids everywhere.

Exports: ``RedisBackend``, ``STREAM``.

Layout: stream ``<prefix>:md`` whose entry ids are ``<offset>-0`` (so a resume id maps to a
stream range exactly) and whose fields are ``e`` (event), ``s`` (symbol, empty for none),
``t`` (ts) and ``d`` (the JSON encoded once by the writer); hash ``<prefix>:md:meta`` holds the
``epoch``. The stream is trimmed (approximately) to ``history_size`` entries.

``publish`` never blocks the sequencer: it queues the batch and a flusher task writes queued
events with one pipelined round trip per batch. While Redis is unreachable the flusher keeps
the queue and retries with capped backoff, logging each failure once per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exchange.hub.events import CHANNEL_OF, MdEvent
from exchange.hub.hub import MarketHub

__all__ = ["STREAM", "RedisBackend"]

log = logging.getLogger("tickwire.hub.redis")

STREAM = "tw:md"
_BATCH = 1000


def _fields(ev: MdEvent) -> dict[str, Any]:
    return {"e": ev.event, "s": ev.symbol or "", "t": ev.ts, "d": ev.data}


def _event(epoch: str, entry_id: bytes, fields: dict[bytes, bytes]) -> MdEvent:
    offset = int(entry_id.split(b"-", 1)[0])
    name = fields[b"e"].decode()
    symbol = fields[b"s"].decode() or None
    return MdEvent(
        offset, f"{epoch}-{offset}", name, symbol, CHANNEL_OF[name], int(fields[b"t"]), fields[b"d"]
    )


class RedisBackend:
    """Writer side (``publish`` + ``start_publisher``) and follower side (``follow``)."""

    def __init__(self, url: str, *, prefix: str = "tw", history_size: int = 100_000) -> None:
        self.url = url
        self.stream = f"{prefix}:md"
        self.meta_key = f"{prefix}:md:meta"
        self.history_size = history_size
        self.redis: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._queue: deque[MdEvent] = deque()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.published = 0
        self.failures = 0

    # ------------------------------------------------------------------ setup

    async def check(self) -> None:
        """Raise ``RedisError`` with a clear message if Redis cannot be reached."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise RedisError(f"cannot reach Redis at {self.url}: {exc}") from exc

    async def epoch(self) -> str | None:
        raw = await self.redis.hget(self.meta_key, "epoch")
        return raw.decode() if raw is not None else None

    async def set_epoch(self, epoch: str) -> None:
        await self.redis.hset(self.meta_key, "epoch", epoch)

    # ------------------------------------------------------------------ writer side

    def publish(self, events: Sequence[MdEvent]) -> None:
        """Queue a batch (offset order); the flusher writes it. Never blocks."""
        self._queue.extend(events)
        self._wakeup.set()

    def start_publisher(self) -> None:
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="redis-md-publisher"))

    async def flush(self) -> None:
        """Write everything queued now (one pipelined round trip per ``_BATCH`` events)."""
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
            pipe = self.redis.pipeline(transaction=False)
            for ev in batch:
                pipe.xadd(
                    self.stream,
                    _fields(ev),
                    id=f"{ev.offset}-0",
                    maxlen=self.history_size,
                    approximate=True,
                )
            try:
                await pipe.execute()
            except (RedisError, OSError):
                self._queue.extendleft(reversed(batch))  # keep order; retried by the caller
                raise
            self.published += len(batch)

    async def _flush_loop(self) -> None:
        delay = 0.05
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self.flush()
                if self.failures:
                    log.warning("Redis is back: market data flowing again")
                self.failures, delay = 0, 0.05
            except (RedisError, OSError) as exc:
                if self.failures == 0:
                    log.error("Redis unreachable, %d events queued: %s", len(self._queue), exc)
                self.failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                self._wakeup.set()

    # ------------------------------------------------------------------ follower side

    async def history(self, after: int, epoch: str) -> list[MdEvent]:
        """Retained events with offsets ``> after``, in order."""
        out: list[MdEvent] = []
        start = f"{after + 1}-0"
        while True:
            entries = await self.redis.xrange(self.stream, min=start, count=_BATCH)
            out.extend(_event(epoch, eid, fields) for eid, fields in entries)
            if len(entries) < _BATCH:
                return out
            start = f"({entries[-1][0].decode()}"

    async def follow(self, hub: MarketHub) -> None:
        """Catch ``hub`` up from its ``last_offset``, then keep ingesting from a task."""
        backlog = await self.history(hub.last_offset, hub.epoch)
        if backlog and backlog[0].offset != hub.last_offset + 1:
            raise RedisError(
                f"history in Redis starts at {backlog[0].offset}, after this hub's "
                f"{hub.last_offset}: events were trimmed"
            )
        hub.ingest(backlog)
        self._tasks.append(asyncio.create_task(self._follow_loop(hub), name="redis-md-follower"))

    async def _follow_loop(self, hub: MarketHub) -> None:
        delay = 0.05
        while True:
            last = f"{hub.last_offset}-0"
            try:
                reply = await self.redis.xread({self.stream: last}, count=_BATCH, block=1000)
                delay = 0.05
            except (RedisError, OSError) as exc:
                log.error("Redis unreachable while following market data: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            for _stream, entries in reply or ():
                hub.ingest([_event(hub.epoch, eid, fields) for eid, fields in entries])

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
