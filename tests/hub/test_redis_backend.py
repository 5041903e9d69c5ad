"""The redis:// fan-out backend against a real redis-server: followers get the writer's
events with the same ids, late followers catch up, and both sides ride out a Redis restart."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis.exceptions import RedisError

from exchange.hub import Filter, MarketHub
from exchange.hub.redis_backend import RedisBackend

SNAP = {"symbol": "X", "seq": 0, "bids": [], "asks": [], "last_trade_id": 0, "checksum": 0}


def trade(i: int) -> tuple[str, str, dict[str, Any]]:
    return (
        "trade",
        "X",
        {"symbol": "X", "trade_id": i, "price": "1.00", "qty": "1", "taker_side": "buy", "ts": i},
    )


async def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def writer_hub(backend: RedisBackend) -> MarketHub:
    hub = MarketHub("ep1")
    hub.seed([SNAP], 0)
    hub.add_listener(backend.publish)
    return hub


def follower_hub() -> MarketHub:
    hub = MarketHub("ep1")
    hub.seed([SNAP], 0)
    return hub


async def test_followers_get_the_same_ids_and_bytes(redis_server: Any) -> None:
    pub = RedisBackend(redis_server.url)
    sub = RedisBackend(redis_server.url)
    await pub.check()
    pub.start_publisher()
    writer = writer_hub(pub)
    early = follower_hub()
    await sub.follow(early)
    for i in range(1, 301):
        writer.publish([trade(i)], i)
    await wait_for(lambda: early.last_offset == writer.last_offset)
    late = follower_hub()
    late_sub = RedisBackend(redis_server.url)
    await late_sub.follow(late)  # catches up from the stream's history
    assert late.last_offset == writer.last_offset
    flt = Filter.parse(None, "trades")
    for hub in (early, late):
        events, exact = hub.resume(flt, "ep1-100")
        reference, _ = writer.resume(flt, "ep1-100")
        assert exact and [(e.id, e.data) for e in events] == [(e.id, e.data) for e in reference]
    for b in (pub, sub, late_sub):
        await b.close()


async def test_publisher_and_follower_survive_a_redis_restart(redis_server: Any) -> None:
    pub = RedisBackend(redis_server.url)
    sub = RedisBackend(redis_server.url)
    pub.start_publisher()
    writer = writer_hub(pub)
    follower = follower_hub()
    await sub.follow(follower)
    writer.publish([trade(1)], 1)
    await wait_for(lambda: follower.last_offset == 1)
    redis_server.stop()
    for i in range(2, 51):
        writer.publish([trade(i)], i)  # queued while Redis is down, never blocking
    await asyncio.sleep(0.3)
    assert pub.failures >= 1
    redis_server.start()
    # the stream lost its history with Redis (no persistence): the publisher writes what it
    # queued and the follower, which kept its own offset, picks up the rest by itself
    await wait_for(lambda: follower.last_offset == writer.last_offset, timeout=10)
    await pub.close()
    await sub.close()


async def test_unreachable_redis_is_a_clear_error() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0")
    with pytest.raises(RedisError, match=re.escape("cannot reach Redis at redis://127.0.0.1:1/0")):
        await backend.check()
    await backend.close()


async def test_a_stream_lost_with_redis_is_rewritten_and_followers_continue_exactly(
    redis_server: Any,
) -> None:
    pub = RedisBackend(redis_server.url)
    sub = RedisBackend(redis_server.url)
    writer = MarketHub("ep1")
    writer.seed([SNAP], 0)
    await asyncio.wait_for(pub.restore(writer.history(), "ep1"), 5)
    writer.add_listener(pub.publish)
    pub.start_publisher(writer.history)
    follower = follower_hub()
    await asyncio.wait_for(sub.follow(follower), 5)
    for i in range(1, 101):
        writer.publish([trade(i)], i)
    await wait_for(lambda: follower.last_offset == writer.last_offset)
    redis_server.stop()
    redis_server.start()  # no persistence: tw:md and its epoch are gone
    for i in range(101, 201):
        writer.publish([trade(i)], i)
    # the writer notices (NOMKSTREAM refused), rewrites its retained history, then the rest
    await wait_for(lambda: follower.last_offset == writer.last_offset, timeout=15)
    assert pub.rewrites == 1
    flt = Filter.parse(None, "trades")
    got, exact = follower.resume(flt, "ep1-50")
    want, _ = writer.resume(flt, "ep1-50")
    assert exact and [(e.id, e.data) for e in got] == [(e.id, e.data) for e in want]
    # a late follower finds the whole retained history in Redis again, epoch included
    late = follower_hub()
    late_sub = RedisBackend(redis_server.url)
    await asyncio.wait_for(late_sub.follow(late), 5)
    assert late.last_offset == writer.last_offset
    assert await asyncio.wait_for(late_sub.epoch(), 5) == "ep1"
    for b in (pub, sub, late_sub):
        await asyncio.wait_for(b.close(), 5)


async def test_a_follower_never_ingests_across_a_hole(redis_server: Any) -> None:
    sub = RedisBackend(redis_server.url)
    sub.gap_s = 0.5
    gaps: list[int] = []
    follower = follower_hub()
    sub.on_gap = lambda: gaps.append(follower.last_offset)
    await sub.follow(follower)
    # offsets 5.. appear but 1..4 never do (a writer that lost them)
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_server.url)
    for i in range(5, 8):
        name, sym, data = trade(i)
        await r.xadd("tw:md", {"e": name, "s": sym, "t": i, "d": str(data)}, id=f"{i}-0")
    await wait_for(lambda: gaps == [0], timeout=10)
    assert follower.last_offset == 0  # nothing ingested past the hole
    await r.aclose()
    await sub.close()


@pytest.fixture
def debug_redis(tmp_path: Any) -> Iterator[str]:
    """A redis-server that allows DEBUG SLEEP from loopback (the shared fixture's does not)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path), "--enable-debug-command", "local"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_a_reply_lost_to_a_timeout_does_not_wedge_the_publisher(debug_redis: str) -> None:
    """Redis applies a pipeline whose reply timed out (DEBUG SLEEP past socket_timeout): the
    retried XADDs are refused as "equal or smaller"; they count as written and the queue
    drains, so market data keeps flowing (it used to stay stuck for good)."""
    import redis.asyncio as aioredis

    pub = RedisBackend(debug_redis, socket_timeout=0.3)
    pub.start_publisher()
    writer = writer_hub(pub)
    for i in range(1, 11):
        writer.publish([trade(i)], i)
    await wait_for(lambda: pub.published == 10 and pub.queued == 0)
    admin: Any = aioredis.from_url(debug_redis, socket_timeout=30)
    sleeper = asyncio.create_task(admin.execute_command("DEBUG", "SLEEP", "2"))
    probe: Any = aioredis.from_url(debug_redis, socket_timeout=0.1, retry=None)
    while True:  # the sleep is under way once another client's PING times out
        try:
            await probe.ping()
        except RedisError:
            break
        await asyncio.sleep(0.01)
    await probe.aclose()
    for i in range(11, 21):  # Redis writes these after the sleep, their reply long timed out
        writer.publish([trade(i)], i)
    await wait_for(lambda: pub.failures > 0, timeout=10)
    await sleeper
    for i in range(21, 31):
        writer.publish([trade(i)], i)
    await wait_for(lambda: pub.queued == 0 and pub.published >= 30, timeout=20)
    entries = await admin.xrange(pub.stream)
    assert [int(eid.split(b"-")[0]) for eid, _ in entries] == list(range(1, 31))
    await pub.close()
    await admin.aclose()


async def test_read_forever_follows_its_position_across_an_outage_and_stops(
    redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The one XREAD loop of the hub's follower and the cluster's readers: entries after the
    consumer's position, one log line when Redis goes away and one when it is back, no entry
    read twice, and an end when ``stop`` is set."""
    import redis.asyncio as aioredis

    from exchange.hub.redis_backend import read_forever

    writer = aioredis.Redis.from_url(redis_server.url)
    reader = aioredis.Redis.from_url(redis_server.url)
    for i in range(1, 4):
        await writer.xadd("s", {"i": str(i)}, id=f"{i}-0")
    seen: list[int] = []
    last = "1-0"  # the consumer has entry 1 already
    stop = asyncio.Event()

    async def consume() -> None:
        nonlocal last
        position = lambda: last  # noqa: E731 (read late on purpose)
        async for entries in read_forever(
            reader, "s", position, what="the test stream", block_ms=100, stop=stop
        ):
            for eid, fields in entries:
                last = eid.decode()
                seen.append(int(fields[b"i"]))

    task = asyncio.create_task(consume())
    await wait_for(lambda: seen == [2, 3])
    redis_server.stop()
    await asyncio.sleep(0.5)
    assert not task.done()  # retrying, not failed
    redis_server.start()  # (empty: it kept nothing)
    await writer.aclose()
    writer = aioredis.Redis.from_url(redis_server.url)
    await writer.xadd("s", {"i": "4"}, id="4-0")
    await wait_for(lambda: seen == [2, 3, 4], timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    text = caplog.text
    assert text.count("Redis unreachable while following the test stream") == 1
    assert text.count("Redis is back: following the test stream after 3-0") == 1
    await writer.aclose()
    await reader.aclose()
