"""Slow consumers: conflation, then disconnection; stalled readers cost bounded memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.hub import Filter, MarketHub, SlowConsumer, Subscription
from exchange.sim.feed import MarketSim
from shared.book import L2Book

EPOCH = "e1"


class DeltaFeed:
    """Book deltas and tickers on one symbol: all mergeable."""

    def __init__(self) -> None:
        self.seq = 0
        self.ts = 0

    def items(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        self.seq += 1
        self.ts += 1
        price = f"{100 + self.seq % 7}.00"
        return [
            ("book", "A", {"symbol": "A", "first_seq": self.seq, "seq": self.seq,
                           "bids": [[price, str(self.seq)]], "asks": [], "checksum": 0,
                           "ts": self.ts}),
            ("ticker", "A", {"symbol": "A", "bid": price, "ts": self.ts}),
        ]  # fmt: skip


def trade(n: int) -> tuple[str, str | None, dict[str, Any]]:
    return ("trade", "A", {"symbol": "A", "trade_id": n, "price": "1.00", "qty": "1"})


async def test_lagging_reader_gets_a_conflated_batch() -> None:
    hub = MarketHub(EPOCH, buffer_events=10, max_pending=100)
    feed = DeltaFeed()
    sub = hub.subscribe(Filter(), hub.last_id)
    for _ in range(20):  # 40 events > buffer_events
        hub.publish(feed.items(), feed.ts)
    batch = await sub.next_batch(0)
    assert [ev.event for ev in batch] == ["book", "ticker"]
    book = batch[0].payload()
    assert (book["first_seq"], book["seq"]) == (1, 20)
    assert batch[-1].id == hub.last_id
    assert sub.conflated_batches == 1 == hub.stats.conflated_batches
    assert sub.closed_reason is None
    # back within the buffer: exact events again, shared objects
    hub.publish(feed.items(), feed.ts)
    assert await sub.next_batch(0) == hub.history()[-2:]


async def test_still_too_many_after_conflation_disconnects() -> None:
    hub = MarketHub(EPOCH, buffer_events=10, max_pending=100)
    sub = hub.subscribe(Filter(), hub.last_id)
    hub.publish([trade(n) for n in range(1, 12)], 1)  # 11 trades: nothing merges
    with pytest.raises(SlowConsumer) as info:
        await sub.next_batch(0)
    assert info.value.reason == "slow_consumer" == sub.closed_reason
    assert hub.stats.slow_consumer_disconnects == 1
    assert hub.stats.subscribers["sse"] == 0
    with pytest.raises(SlowConsumer):  # stays closed
        await sub.next_batch(0)


async def test_over_hard_limit_disconnects_without_conflating() -> None:
    hub = MarketHub(EPOCH, buffer_events=10, max_pending=30, sweep_every=10**9)
    feed = DeltaFeed()
    sub = hub.subscribe(Filter(), hub.last_id)
    for _ in range(16):  # 32 raw events > max_pending, though they would merge to 2
        hub.publish(feed.items(), feed.ts)
    with pytest.raises(SlowConsumer):
        await sub.next_batch(0)
    assert hub.stats.conflated_batches == 0


async def test_disconnect_policy_does_not_conflate() -> None:
    hub = MarketHub(EPOCH, buffer_events=10, slow_policy="disconnect")
    feed = DeltaFeed()
    sub = hub.subscribe(Filter(), hub.last_id)
    for _ in range(6):
        hub.publish(feed.items(), feed.ts)
    with pytest.raises(SlowConsumer):
        await sub.next_batch(0)


async def test_opt_in_conflation_merges_book_deltas_only() -> None:
    hub = MarketHub(EPOCH)
    feed = DeltaFeed()
    sub = hub.subscribe(Filter(), hub.last_id, conflate_ns=1)
    for _ in range(5):
        hub.publish(feed.items(), feed.ts)
    batch = await sub.next_batch(0)
    assert [ev.event for ev in batch] == ["ticker"] * 4 + ["book", "ticker"]
    assert (batch[4].payload()["first_seq"], batch[4].payload()["seq"]) == (1, 5)
    assert hub.stats.conflated_batches == 0  # opt-in merging is not the slow path


async def test_stalled_subscribers_are_dropped_and_memory_stays_flat() -> None:
    """1,000 subscribers that never read: the sweep drops them, their close callbacks fire,
    a reading subscriber gets every event, and memory does not grow with published events."""
    sim = MarketSim(1, symbols=("A", "B"))
    hub = MarketHub(EPOCH, history_size=500, buffer_events=100, sweep_every=64)
    hub.seed(sim.snapshots(), 0)
    dropped: list[Subscription] = []
    stalled = [hub.subscribe(Filter(), hub.last_id) for _ in range(1_000)]
    for sub in stalled:
        sub.add_close_callback(dropped.append)
    reader = hub.subscribe(Filter(), hub.last_id)
    received = [0]  # the offset of the last event the reader got

    async def read() -> None:
        for ev in await reader.next_batch(0):
            assert ev.offset == received[0] + 1
            received[0] = ev.offset

    def publish(n: int) -> None:
        for _ in range(n):
            hub.publish(sim.step(), sim.ts)

    while hub.last_offset < 1_500:  # fill the history ring
        publish(10)
        await read()
    assert len(dropped) == 1_000
    assert all(sub.closed_reason == "slow_consumer" for sub in stalled)
    assert hub.stats.slow_consumer_disconnects == 1_000
    assert hub.stats.subscribers["sse"] == 1
    tracemalloc.start()
    try:
        publish(10)
        await read()
        before = tracemalloc.get_traced_memory()[0]
        while hub.last_offset < 6_000:
            publish(10)
            await read()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(hub.history()) == 500
    # Unbounded, 4,500 more events would hold about 2.5 MB; the ring (500 events plus at
    # most 256 awaiting compaction) stays well under 1 MB whatever the count.
    assert after - before < 768 * 1024, (before, after)
    assert received[0] == hub.last_offset


async def test_waiting_filtered_subscriber_survives_history_wrap() -> None:
    """A reader waiting for a quiet symbol is never "behind", however much else happens."""
    hub = MarketHub(EPOCH, history_size=50, buffer_events=10, sweep_every=5)
    quiet = hub.subscribe(Filter.parse("Q", None), hub.last_id)
    task = asyncio.create_task(quiet.next_batch(30))
    await asyncio.sleep(0)
    for n in range(1, 500):
        hub.publish([trade(n)], n)
    assert not task.done()
    hub.publish([("status", "Q", {"symbol": "Q", "state": "halted", "ts": 1})], 1000)
    batch = await asyncio.wait_for(task, 30)
    assert [(ev.symbol, ev.event) for ev in batch] == [("Q", "status")]
    assert quiet.closed_reason is None


async def test_busy_filtered_subscriber_with_nothing_pending_is_caught_up_by_sweep() -> None:
    hub = MarketHub(EPOCH, history_size=50, buffer_events=10, sweep_every=5)
    quiet = hub.subscribe(Filter.parse("Q", None), hub.last_id)
    assert await quiet.next_batch(0) == []  # not waiting now: "busy writing"
    for n in range(1, 500):
        hub.publish([trade(n)], n)
    assert quiet.closed_reason is None
    assert await quiet.next_batch(0) == []


async def test_close_callback_runs_at_once_when_already_closed() -> None:
    hub = MarketHub(EPOCH)
    sub = hub.subscribe(Filter())
    sub.close()
    seen: list[Subscription] = []
    sub.add_close_callback(seen.append)
    assert seen == [sub]


async def test_hub_close_closes_everyone() -> None:
    hub = MarketHub(EPOCH)
    subs = [hub.subscribe(Filter(), kind=k) for k in ("sse", "ws", "poll")]
    hub.close()
    assert {s.closed_reason for s in subs} == {"hub_closed"}
    assert sum(hub.stats.subscribers.values()) == 0


async def test_resume_from_far_behind_resets_instead_of_dropping() -> None:
    hub = MarketHub(EPOCH, buffer_events=10, max_pending=20)
    old = hub.last_id
    hub.publish([trade(n) for n in range(1, 30)], 1)
    sub = hub.subscribe(Filter(), old)
    batch = await sub.next_batch(0)
    assert batch[0].event == "reset" and batch[0].payload() == {"reason": "too_old"}


async def conflating_reader(seed: int, bursts: list[int]) -> MarketHub:
    """Publish ``bursts`` of steps, reading once after each; check the reader's books."""
    sim = MarketSim(seed, symbols=("A", "B"))
    hub = MarketHub(EPOCH, buffer_events=8, max_pending=10**6)
    hub.seed(sim.snapshots(), 0)
    sub = hub.subscribe(Filter.parse(None, "book,ticker"))
    books: dict[str, L2Book] = {}
    last_ticker: dict[str, bytes] = {}

    def apply(batch: list[Any]) -> None:
        for ev in batch:
            if ev.event == "snapshot":
                books[ev.symbol] = L2Book(ev.symbol)
                books[ev.symbol].apply_snapshot(ev.payload())
            elif ev.event == "book":
                assert books[ev.symbol].apply_delta(ev.payload())  # gap/checksum raise
            elif ev.event == "ticker":
                last_ticker[ev.symbol] = ev.data

    apply(await sub.next_batch(0))
    for n in bursts:
        for _ in range(n):
            hub.publish(sim.step(), sim.ts)
        apply(await sub.next_batch(0))
    for symbol, book in books.items():
        assert book.checksum() == sim.checksum(symbol)
        assert book.seq == sim.books[symbol].seq
        tickers = [e for e in hub.history() if e.event == "ticker" and e.symbol == symbol]
        if tickers:
            assert last_ticker[symbol] == tickers[-1].data
    assert sub.closed_reason is None
    return hub


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    bursts=st.lists(st.integers(1, 40), min_size=1, max_size=15),
)
def test_conflating_reader_keeps_exact_books(seed: int, bursts: list[int]) -> None:
    """A reader that falls behind (and gets conflated batches) still applies every book
    event without a gap and ends with the server's book and checksum."""
    asyncio.run(conflating_reader(seed, bursts))


async def test_conflating_reader_fixed_case_does_conflate() -> None:
    hub = await conflating_reader(7, [40, 1, 30, 2])
    assert hub.stats.conflated_batches >= 2
