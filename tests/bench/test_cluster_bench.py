"""``bench.cluster`` runs each of its four scenarios end to end on real processes (redis-server,
``tickwire engine``, ``tickwire gateway``, ``tickwire serve``, SSE client processes) for a
second or two, and its figures are present and consistent: every order acknowledged, every
published event in Redis, subscribers connected and fed, the projection computed from the
measured rows. No speed is asserted."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.cluster import Plan, md_hop, order_hop, publisher  # noqa: E402
from bench.cluster_procs import Stack, start_redis  # noqa: E402
from bench.cluster_publish import PUBLISHERS, md_events, publish_rate  # noqa: E402
from bench.cluster_sse import SsePlan, SseRow, held, projection, sse_sweep  # noqa: E402
from bench.orders_load import (  # noqa: E402
    RATE_ENV,
)

pytestmark = pytest.mark.redis

TINY = Plan(
    seq_n=30, seq_warm=5, reps=1, md_rate=300.0, md_subs=2, md_warm_s=0.5, md_window_s=1.0,
    pub_events=600, pub_tick=10, sse=SsePlan(20.0, (4,), 1, 0.5, 1.0, 250.0),
)  # fmt: skip


def _sane_latency(series: dict[str, list[float]]) -> None:
    for p50, p99 in zip(series["p50"], series["p99"], strict=True):
        assert 0 < p50 <= p99 < 120e6  # µs; a lost reply would show as a 2-minute wait


async def test_order_hop_acks_every_order_on_both_targets() -> None:
    res = await order_hop(TINY, "off")
    assert set(res) == {"single", "cluster"}
    for series in res.values():
        assert series["err"] == [0]
        _sane_latency(series)
        assert series["cpu"][0] > 0  # server CPU per order was read from /proc


def test_md_hop_delivers_the_feed_through_the_gateway() -> None:
    res = md_hop(TINY)
    for name in ("single", "cluster"):
        series = res[name]
        assert series["failed"] == [0] and series["alive"] == [TINY.md_subs], name
        assert series["delivered"][0] > 0, name
        _sane_latency(series)


async def test_every_publisher_writes_every_event_in_order() -> None:
    events = md_events(250)
    assert [ev.offset for ev in events] == list(range(1, 251))
    redis = start_redis(0)
    try:
        for run, name in enumerate(PUBLISHERS):
            rate, length = await publish_rate(name, redis.url, events, 7, run)
            assert length == len(events) and rate > 0, name
        # publish_rate removes its stream; the ids are the offsets, so a resume maps exactly
        r = aioredis.from_url(redis.url)
        try:
            assert await r.keys("bench*") == []
        finally:
            await r.aclose()
    finally:
        redis.stop()
    res = await publisher(TINY)
    assert all(series["missing"] == [0] for series in res.values())


@pytest.mark.slow  # a long end-to-end run (make test-fast skips it)
def test_sse_sweep_feeds_every_subscriber_of_each_gateway() -> None:
    rows = {k: sse_sweep(k, TINY.sse, RATE_ENV) for k in (1, 2)}
    for k, sweep in rows.items():
        (row,) = sweep
        assert row.gateways == k and len(row.gw_cpu) == k and len(row.gw_rss_mb) == k
        assert row.alive == 4 and row.failed == 0
        assert row.delivered > 0 and 0 < row.p50 <= row.p99
        assert all(mb > 10 for mb in row.gw_rss_mb)  # a Python gateway, read from /proc
    lines = projection(rows[1], TINY.sse.rate, 250.0, (1, 4))
    assert lines[-1].startswith("| 4 | 8 | ")


def _row(subs: int, delivered: float, p99: float, cpu: float, rss: float) -> SseRow:
    return SseRow(1, subs, subs, 20.0 * subs, delivered, p99 / 2, p99, [cpu], 1.0, 2.0, 30.0,
                  [100.0 + rss], [100.0])  # fmt: skip


def test_held_is_the_largest_step_kept_in_full_under_the_bound() -> None:
    rows = [
        _row(500, 10_000, 80, 40, 20),
        _row(1000, 19_500, 200, 70, 40),
        _row(2000, 39_000, 400, 90, 80),  # over the p99 bound
        _row(3000, 30_000, 100, 95, 120),  # behind: 50 % delivered
    ]
    assert held(rows, 250.0) == 1000
    assert held(rows, 500.0) == 2000
    assert held(rows[3:], 250.0) == 0


def test_projection_scales_the_measured_per_subscriber_cost() -> None:
    # 1,000 subscribers at 70 % of a core and 40 MiB: 700 µs/s and 41 KiB each
    lines = projection([_row(1000, 19_500, 200, 70, 40)], 20.0, 250.0, (1, 10))
    text = "\n".join(lines)
    assert "700 µs/s" in text and "35.0 µs per delivered event" in text
    assert "1,143 subscribers per core" in text  # 0.8 / 0.0007
    assert "41.0 KiB" in text
    # two cores per machine, CPU-bound: 2,286 per machine, ten machines ten times that
    assert lines[-2] == "| 1 | 2 | 2,286 | 40 |"
    assert lines[-1] == "| 10 | 20 | 22,857 | 400 |"


def test_a_stack_stops_every_process_it_started() -> None:
    stack = Stack(RATE_ENV).start()
    procs = [stack.redis.proc] if stack.redis else []
    procs += [p.proc for p in ([stack.engine] if stack.engine else []) + stack.gateways]
    assert len(procs) == 3 and all(p.poll() is None for p in procs)
    stack.stop()
    assert all(p.poll() is not None for p in procs)
    assert stack.pids() == {}


def test_nan_free_figures_when_nothing_arrives() -> None:
    # a row of a sweep where nothing was delivered still projects (to zero subscribers held)
    rows = [_row(10, 0.0, math.nan, 5, 1)]
    assert held(rows, 250.0) == 0
    assert projection(rows, 20.0, 250.0, (1,))[-1].startswith("| 1 | 2 |")
