"""The ``redis://`` fan-out backend: one Redis Stream carries the writer hub's events to every
gateway's follower hub, with the same offsets and ids everywhere.

Exports: ``RedisBackend``, ``STREAM``, ``flush_forever`` (the retrying flush loop, also used by
``exchange.cluster.bus.StreamWriter``) and its ``Flusher`` protocol.

Layout: stream ``<prefix>:md`` whose entry ids are ``<offset>-0`` (so a resume id maps to a
stream range exactly) and whose fields are ``e`` (event), ``s`` (symbol, empty for none),
``t`` (ts) and ``d`` (the JSON encoded once by the writer); hash ``<prefix>:md:meta`` holds the
``epoch``. The stream is trimmed (approximately) to ``history_size`` entries.

``publish`` never blocks the sequencer: it queues the batch and a flusher task writes queued
events with one pipelined round trip per batch. While Redis is unreachable the flusher keeps
the queue and retries with capped backoff, logging each failure once per outage. A reply
that times out after Redis applied the writes is safe: the retried XADDs carry the same
explicit ids, and one refused as "equal or smaller than the target stream top item" counts
as written (only connection/timeout and other errors requeue the batch).

Redis restarted without persistence: the writer's XADDs use ``NOMKSTREAM``, so nothing is
written to a stream that vanished; when one is refused the writer rewrites the whole
retained history (``retained()``, the writer hub's ring) and the epoch first, then goes on.
Ids and epoch are unchanged, so a follower (or a client resuming with ``Last-Event-ID``)
continues exactly as long as its offset is within the writer's retained history. A follower
never ingests across a hole: entries that do not continue its offset are left until the
writer has filled the hole, and ``gap_s`` later it gives up (``on_gap``: the gateway then
rebuilds its hub, and its clients get ``reset`` when their id is beyond what it holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from exchange.hub.events import CHANNEL_OF, MdEvent
from exchange.hub.hub import MarketHub

__all__ = ["STREAM", "Flusher", "RedisBackend", "flush_forever"]

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


def _already_written(reply: object) -> bool:
    """An XADD refused because its explicit id is not above the stream's top: the entry (same
    id, same bytes: ids are offsets) is already there, written by an attempt whose reply was
    lost (a timeout after Redis applied the pipeline)."""
    return isinstance(reply, ResponseError) and "equal or smaller" in str(reply)


def _check_written(results: list[Any]) -> list[Any]:
    """Pipeline replies with already-written entries counted as written (their reply becomes
    ``b"written"``); raise the first other error (the caller requeues the batch and retries,
    and the written part of it is then skipped the same way)."""
    out: list[Any] = []
    for reply in results:
        if _already_written(reply):
            out.append(b"written")
        elif isinstance(reply, Exception):
            raise reply
        else:
            out.append(reply)
    return out


class Flusher(Protocol):
    """A queue written to Redis in batches: what :func:`flush_forever` drives."""

    failures: int
    _wakeup: asyncio.Event
    _queue: deque[Any]

    async def flush(self) -> None: ...


async def flush_forever(owner: Flusher, what: str, logger: logging.Logger = log) -> None:
    """Call ``owner.flush()`` whenever ``owner._wakeup`` is set, forever. While Redis fails,
    retry with backoff (50 ms doubling to 2 s) keeping the queue, count ``owner.failures``, and
    log one line when an outage starts and one when it ends."""
    delay = 0.05
    while True:
        await owner._wakeup.wait()
        owner._wakeup.clear()
        try:
            await owner.flush()
            if owner.failures:
                logger.warning("Redis is back: %s flowing again", what)
            owner.failures, delay = 0, 0.05
        except (RedisError, OSError) as exc:
            if owner.failures == 0:
                logger.error("Redis unreachable, %d %s queued: %s", len(owner._queue), what, exc)
            owner.failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            owner._wakeup.set()


#: What ``XREAD`` gives for one stream: ``(entry id, fields)`` pairs.
Entries = list[tuple[bytes, dict[bytes, bytes]]]


async def read_forever(
    redis: Any,
    stream: str,
    position: Callable[[], str],
    *,
    what: str,
    count: int = 1000,
    block_ms: int = 1000,
    stop: asyncio.Event | None = None,
    logger: logging.Logger | None = log,
) -> AsyncIterator[Entries]:
    """Each batch of ``stream``'s entries after ``position()`` (asked before every read, so
    the consumer moves it), each ``XREAD`` blocking up to ``block_ms``; until ``stop`` is set
    (forever without one). While Redis fails, retry with backoff (50 ms doubling to 2 s) and
    log one line when an outage starts and one when it ends (``what``: what is followed; no
    logging with ``logger=None``, for a reader whose outage another one reports)."""
    delay, down = 0.05, False
    while stop is None or not stop.is_set():
        try:
            reply = await redis.xread({stream: position()}, count=count, block=block_ms)
        except (RedisError, OSError) as exc:
            if not down and logger is not None:
                logger.error("Redis unreachable while following %s (retrying): %s", what, exc)
            down = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        if down and logger is not None:
            logger.warning("Redis is back: following %s after %s", what, position())
        delay, down = 0.05, False
        for _stream, entries in reply or ():
            if entries:
                yield entries


class RedisBackend:
    """Writer side (``publish`` + ``start_publisher``) and follower side (``follow``)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tw",
        history_size: int = 100_000,
        socket_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.stream = f"{prefix}:md"
        self.meta_key = f"{prefix}:md:meta"
        self.history_size = history_size
        self.redis: Any = aioredis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=2
        )
        self._queue: deque[MdEvent] = deque()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._retained: Callable[[], list[MdEvent]] | None = None
        self._epoch = ""
        self.published = 0
        self.failures = 0
        self.rewrites = 0  # times the stream had vanished and was rewritten
        #: Follower side: what to call when a hole in the stream is not filled in ``gap_s``.
        self.gap_s = 10.0
        self.on_gap: Callable[[], None] | None = None

    # ------------------------------------------------------------------ setup

    async def check(self) -> None:
        """Raise ``RedisError`` with a clear message if Redis cannot be reached."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise RedisError(f"cannot reach Redis at {self.url}: {exc}") from exc

    async def head(self) -> int:
        """The offset of the stream's last entry (0 when empty or missing)."""
        top = await self.redis.xrevrange(self.stream, count=1)
        return int(top[0][0].split(b"-", 1)[0]) if top else 0

    async def epoch(self) -> str | None:
        raw = await self.redis.hget(self.meta_key, "epoch")
        return raw.decode() if raw is not None else None

    async def set_epoch(self, epoch: str) -> None:
        self._epoch = epoch
        await self.redis.hset(self.meta_key, "epoch", epoch)

    @property
    def queued(self) -> int:
        """Events waiting to be written."""
        return len(self._queue)

    async def restore(self, retained: Sequence[MdEvent], epoch: str) -> None:
        """At the writer's start: set the epoch and make the stream hold ``retained`` (the
        writer hub's history): all of it when the stream is missing, else what is newer
        than its last entry (released before a crash, never written)."""
        await self.set_epoch(epoch)
        top = await self.redis.xrevrange(self.stream, count=1)
        if not top:
            await self._rewrite(retained)
            return
        top_offset = int(top[0][0].split(b"-", 1)[0])
        missing = [ev for ev in retained if ev.offset > top_offset]
        if missing:
            log.warning("writing %d market-data events missing from Redis", len(missing))
            self._queue.extendleft(reversed(missing))
            await self.flush()

    async def _rewrite(self, retained: Sequence[MdEvent]) -> None:
        """The stream is gone: write ``retained`` (queued events newer than it stay queued)."""
        newest = retained[-1].offset if retained else 0
        while self._queue and self._queue[0].offset <= newest:
            self._queue.popleft()
        if retained:
            log.warning("%s missing in Redis: writing the %d retained events (%d..%d)",
                        self.stream, len(retained), retained[0].offset, newest)  # fmt: skip
        await self.redis.hset(self.meta_key, "epoch", self._epoch)
        if not retained:  # an empty stream must exist too, or NOMKSTREAM refuses the next event
            await self.redis.xgroup_create(self.stream, "tw-create", id="0", mkstream=True)
            await self.redis.xgroup_destroy(self.stream, "tw-create")
        for i in range(0, len(retained), _BATCH):
            pipe = self.redis.pipeline(transaction=False)
            for ev in retained[i : i + _BATCH]:
                pipe.xadd(self.stream, _fields(ev), id=f"{ev.offset}-0",
                          maxlen=self.history_size, approximate=True)  # fmt: skip
            _check_written(await pipe.execute(raise_on_error=False))

    # ------------------------------------------------------------------ writer side

    def publish(self, events: Sequence[MdEvent]) -> None:
        """Queue a batch (offset order); the flusher writes it. Never blocks."""
        self._queue.extend(events)
        self._wakeup.set()

    def start_publisher(self, retained: Callable[[], list[MdEvent]] | None = None) -> None:
        """Start the flusher; ``retained()`` gives the history to rewrite if the stream
        vanishes (without it, a vanished stream is simply recreated)."""
        self._retained = retained
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
                    nomkstream=self._retained is not None,
                )
            try:
                # raise_on_error=False: an entry refused as "equal or smaller" was written by
                # an earlier attempt whose reply timed out; only real failures requeue
                results = _check_written(await pipe.execute(raise_on_error=False))
            except (RedisError, OSError):
                self._queue.extendleft(reversed(batch))  # keep order; retried by the caller
                raise
            if self._retained is not None and any(r is None for r in results):
                # the stream vanished (Redis restarted empty): history first, then the rest
                self._queue.extendleft(reversed(batch))
                await self._rewrite(self._retained())
                self.rewrites += 1
                continue
            self.published += len(batch)

    async def _flush_loop(self) -> None:
        await flush_forever(self, "market-data events")

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
        gap_since: float | None = None
        async for entries in read_forever(
            self.redis, self.stream, lambda: f"{hub.last_offset}-0", what="market data",
            count=_BATCH,
        ):  # fmt: skip
            first = int(entries[0][0].split(b"-", 1)[0])
            if first != hub.last_offset + 1:
                # a hole (Redis restarted empty and the writer has not rewritten yet):
                # never ingest across it
                now = time.monotonic()
                if gap_since is None:
                    gap_since = now
                    log.warning("%s continues at %d, this hub is at %d: waiting for the "
                                "writer to fill the hole", self.stream, first,
                                hub.last_offset)  # fmt: skip
                elif now - gap_since > self.gap_s and self.on_gap is not None:
                    log.error("%s hole after %d not filled in %.0f s: rebuilding",
                              self.stream, hub.last_offset, self.gap_s)  # fmt: skip
                    self.on_gap()
                    return
                await asyncio.sleep(0.05)
                continue
            gap_since = None
            hub.ingest([_event(hub.epoch, eid, fields) for eid, fields in entries])

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
