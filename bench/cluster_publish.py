"""Scenario 3 of ``bench.cluster``: how fast the ``tw:md`` publisher writes to Redis.

Exports: ``PUBLISHERS``, ``md_events``, ``publish_rate``.

The same ``MdEvent``s (``exchange.sim.feed.MarketSim`` items encoded by ``make_event``,
~150 bytes of JSON each) go to the same redis-server through three publishers:

* ``RedisBackend``: ``exchange.hub.redis_backend.RedisBackend.publish`` (what the engine's
  hub listener calls) and its flusher task, one pipelined round trip per queued batch;
* ``StreamWriter``: ``exchange.cluster.bus.StreamWriter`` (``tw:seq``'s writer) fed the same
  entries;
* ``unpipelined``: redis-py ``await r.xadd(...)`` once per event, same fields, ids and
  ``MAXLEN ~``: the baseline the issue names.

The offering side hands events over ``tick`` at a time with an ``await asyncio.sleep(0)``
between ticks (as the sequencer's releases do), as fast as the loop allows, so the figure is
the publisher's sustained rate: events written / seconds from the first hand-over until
Redis has acknowledged the last one. Every variant writes to a fresh stream key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from exchange.cluster.bus import StreamWriter
from exchange.hub.events import MdEvent, make_event
from exchange.hub.redis_backend import RedisBackend
from exchange.sim.feed import MarketSim

__all__ = ["PUBLISHERS", "md_events", "publish_rate"]

_MAXLEN = 200_000  # the default history_size, as the engine passes it


def md_events(n: int, seed: int = 7) -> list[MdEvent]:
    """``n`` market-data events with offsets 1..n, as the writer hub makes them."""
    sim = MarketSim(seed, symbols=("BTC-USD", "ETH-USD", "SOL-USD"))
    items = [("snapshot", p["symbol"], p) for p in sim.snapshots()]
    while len(items) < n:
        items.extend(sim.step())
    ts = time.time_ns()
    return [make_event("bench", i + 1, name, sym, ts, p) for i, (name, sym, p) in
            enumerate(items[:n])]  # fmt: skip


def _fields(ev: MdEvent) -> dict[Any, Any]:
    # the fields RedisBackend writes (exchange/hub/redis_backend.py ``_fields``)
    return {"e": ev.event, "s": ev.symbol or "", "t": ev.ts, "d": ev.data}


async def _offer(events: list[MdEvent], tick: int, put: Callable[[list[MdEvent]], None]) -> None:
    for i in range(0, len(events), tick):
        put(events[i : i + tick])
        await asyncio.sleep(0)


async def _wait(done: Callable[[], bool], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("publisher did not drain")
        await asyncio.sleep(0.0005)


async def _backend(url: str, key: str, events: list[MdEvent], tick: int) -> float:
    backend = RedisBackend(url, prefix=key, history_size=_MAXLEN)
    backend.start_publisher()
    try:
        t0 = time.perf_counter()
        await _offer(events, tick, backend.publish)
        await _wait(lambda: backend.published >= len(events))
        return time.perf_counter() - t0
    finally:
        await backend.close()


async def _stream_writer(url: str, key: str, events: list[MdEvent], tick: int) -> float:
    r = aioredis.from_url(url)
    writer = StreamWriter(r, f"{key}:md", maxlen=_MAXLEN)
    writer.start()

    def put(batch: list[MdEvent]) -> None:
        for ev in batch:
            writer.put(f"{ev.offset}-0", _fields(ev))

    try:
        t0 = time.perf_counter()
        await _offer(events, tick, put)
        await _wait(lambda: writer.written >= len(events))
        return time.perf_counter() - t0
    finally:
        await writer.close()
        await r.aclose()


async def _unpipelined(url: str, key: str, events: list[MdEvent], tick: int) -> float:
    r = aioredis.from_url(url)
    stream = f"{key}:md"
    try:
        t0 = time.perf_counter()
        for ev in events:
            await r.xadd(stream, _fields(ev), id=f"{ev.offset}-0", maxlen=_MAXLEN,
                         approximate=True)  # fmt: skip
        return time.perf_counter() - t0
    finally:
        await r.aclose()


Publisher = Callable[[str, str, list[MdEvent], int], Awaitable[float]]
PUBLISHERS: dict[str, Publisher] = {
    "RedisBackend (pipelined)": _backend,
    "StreamWriter (pipelined)": _stream_writer,
    "unpipelined xadd": _unpipelined,
}


async def publish_rate(
    name: str, url: str, events: list[MdEvent], tick: int, run: int
) -> tuple[float, int]:
    """(events/s sustained by publisher ``name``, entries in its stream afterwards); the
    stream key is unique per ``run`` and deleted afterwards."""
    key = f"bench{run}"
    elapsed = await PUBLISHERS[name](url, key, events, tick)
    r = aioredis.from_url(url)
    try:
        length = int(await r.xlen(f"{key}:md"))
        await r.delete(f"{key}:md")
    finally:
        await r.aclose()
    return len(events) / elapsed, length
