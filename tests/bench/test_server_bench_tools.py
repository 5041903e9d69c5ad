"""The server benchmarks' tools do what their figures claim: order load generators get every
reply they count, the SSE reader counts exactly across split reads, the synthetic feed is a
valid market-data stream, and framing is measured byte for byte. No speed is asserted."""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.fanout import framing, hist_percentile  # noqa: E402
from bench.md_client import SseReader, Stats, Worker  # noqa: E402
from bench.naive_sse import NaiveHub  # noqa: E402
from bench.orders_load import (  # noqa: E402
    Target,
    close_conns,
    closed_loop,
    connect_tickwire,
    open_conns,
    open_loop,
    order_msg,
    sequential,
)
from shared.book import L2Book  # noqa: E402
from shared.codec import decode_op  # noqa: E402
from shared.models import OrderNew  # noqa: E402

# every client of a benchmark comes from one address: the per-address limits are off too
FAST = {"conn_rate": 1e6, "conn_burst": 1e6, "account_rate": 1e6, "account_burst": 1e6,
        "ip_order_rate": 0.0, "account_create_rate": 0.0}  # fmt: skip


def _target(port: int) -> Target:
    return Target("tickwire", None, lambda a: connect_tickwire(port, a), expect_ack=True)


def test_order_messages_are_valid_resting_orders_on_both_sides() -> None:
    buy, sell = decode_op(order_msg("t1", 1)), decode_op(order_msg("t1", 2))
    assert isinstance(buy, OrderNew) and isinstance(sell, OrderNew)
    assert (buy.op, buy.side, str(buy.price)) == ("order.new", "buy", "1.00")
    assert (sell.side, sell.client_order_id, sell.req_id) == ("sell", "t1-2", 2)


async def test_sequential_gets_an_ack_for_every_order(live_server_factory: Any) -> None:
    srv = live_server_factory(**FAST)
    lat, errors = await sequential(_target(srv.port), 20, 3)
    assert errors == 0 and len(lat) == 20 and lat == sorted(lat) and lat[0] > 0


async def test_open_and_closed_loops_count_every_reply(live_server_factory: Any) -> None:
    srv = live_server_factory(**FAST)
    target = _target(srv.port)
    conns = await open_conns(target, 3, "ol")
    lat, errors, sent, late = await open_loop(target, conns, 200.0, 0.25)
    assert (sent, errors, len(lat), len(late)) == (50, 0, 50, 50)
    rate, errors, _gen, _srv = await closed_loop(target, conns, 2, 0.3, 0.1)
    await close_conns(conns)
    assert errors == 0 and rate > 0


async def test_a_refused_order_counts_as_an_error(live_server_factory: Any) -> None:
    # a burst of 10, then one token a second: nearly every order is RATE_LIMITED
    srv = live_server_factory(conn_rate=1.0, conn_burst=10.0, abuse_limit=100_000)
    target = _target(srv.port)
    conns = await open_conns(target, 1, "rl")
    _lat, errors, sent, _late = await open_loop(target, conns, 2000.0, 0.15)
    await close_conns(conns)
    assert sent == 300 and errors >= 250  # RATE_LIMITED replies are not acks


async def test_sse_reader_counts_events_split_across_reads() -> None:
    stats = Stats()
    stats.counting = True
    reader = SseReader(b"", stats, set())
    ts = 1_700_000_000_000_000_000
    frames = b"".join(
        b'id:e-%d\nevent:ticker\ndata:{"symbol":"X","ts":%d}\n\n' % (i, ts) for i in range(5)
    )
    for i in range(0, len(frames), 7):  # reads cut anywhere, even inside "data:" and ts
        reader.data_received(frames[i : i + 7])
    assert stats.events == 5
    assert sum(stats.hist.values()) == 5
    assert reader.answered.done()


def test_hist_percentile_reads_log_buckets() -> None:
    hist = {round(20 * math.log(1000)): 99, round(20 * math.log(100_000)): 1}
    assert hist_percentile(hist, 50) == pytest.approx(1.0, rel=0.03)
    assert hist_percentile(hist, 100) == pytest.approx(100.0, rel=0.03)
    assert math.isnan(hist_percentile({}, 50))


async def test_synthetic_feed_is_a_valid_book_stream(
    live_server_factory: Callable[..., Any],
) -> None:
    srv = live_server_factory(md_synthetic_rate=300.0)
    books: dict[str, L2Book] = {}
    deltas = 0
    async with (
        httpx.AsyncClient(base_url=srv.url, timeout=10.0) as http,
        http.stream("GET", "/md/stream?channels=book") as r,
    ):
        event = None
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:]
            elif line.startswith("data:"):
                data = orjson.loads(line[5:])
                book = books.setdefault(data["symbol"], L2Book(data["symbol"]))
                if event == "snapshot":
                    book.apply_snapshot(data)
                else:  # raises on a gap or a wrong checksum
                    assert book.apply_delta(data)
                    assert data["ts"] > 1_700_000_000_000_000_000
                    deltas += 1
                    if deltas == 40:
                        break
    assert deltas == 40 and len(books) == 3


async def test_sse_worker_reads_the_live_feed(live_server_factory: Callable[..., Any]) -> None:
    srv = live_server_factory(md_synthetic_rate=200.0)
    worker = Worker(srv.port)
    await worker.open(3, "/md/stream")
    out = await worker.go(0.6)
    assert worker.opened == 3 and worker.failed == 0 and out["alive"] == 3
    assert isinstance(out["events"], int) and out["events"] > 0
    # reads that carry no "ts" (snapshots, candles) count events but no latency
    assert isinstance(out["hist"], dict) and 0 < sum(out["hist"].values()) <= out["events"]
    for r in list(worker.alive):
        assert r.transport is not None
        r.transport.abort()
    await asyncio.sleep(0.05)
    assert not worker.alive


async def test_framing_is_measured_from_the_bytes(live_server_factory: Callable[..., Any]) -> None:
    srv = live_server_factory(md_synthetic_rate=200.0)
    n, mean, top = await asyncio.to_thread(framing, srv.url, 0.5)
    # "id:" + id + "\nevent:" + name + "\ndata:" + json + "\n\n": 18 bytes + id + name,
    # with id = "<epoch>-<offset>" (offsets of 1 to 4 digits here), names of 4 to 8 letters
    base = 18 + len(srv.node.hub.epoch) + 1
    assert n > 0
    assert base + 1 + 4 <= mean <= top <= base + 4 + 8


async def test_naive_hub_queues_per_subscriber_and_counts_drops() -> None:
    hub = NaiveHub(0.0, 1)
    a: asyncio.Queue[Any] = asyncio.Queue(2)
    b: asyncio.Queue[Any] = asyncio.Queue(5)
    hub.queues |= {a, b}
    for i in range(4):
        hub.publish("ticker", {"i": i})
    assert (a.qsize(), b.qsize(), hub.dropped, hub.published) == (2, 4, 2, 4)
