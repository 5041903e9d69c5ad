"""Resume exactness, reset reasons, snapshot id semantics and long-poll semantics."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.hub import Filter, MarketHub
from exchange.sim.feed import MarketSim
from shared.book import L2Book

EPOCH = "e1"
SYMBOLS = ("A", "B", "C")
FILTERS = [
    Filter(),
    Filter.parse("A", None),
    Filter.parse(None, "book"),
    Filter.parse("A,C", "trades,ticker"),
    Filter.parse("B", "status,candles"),
]


def make_hub(sim: MarketSim, **kwargs: object) -> MarketHub:
    hub = MarketHub(EPOCH, **kwargs)  # type: ignore[arg-type]
    hub.seed(sim.snapshots(), 0)
    return hub


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    flt=st.sampled_from(FILTERS),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("publish"), st.integers(1, 30)),
            st.tuples(st.just("read"), st.integers(0, 1_000)),
            st.tuples(st.just("drop"), st.integers(0, 1_000)),
        ),
        max_size=25,
    ),
)
def test_resume_equals_never_disconnected_stream(
    seed: int, flt: Filter, ops: list[tuple[str, int]]
) -> None:
    """A client that disconnects at random points (even mid-batch) and resumes from the id of
    the last event it received gets exactly what a never-disconnected client got."""

    async def scenario() -> None:
        sim = MarketSim(seed, symbols=SYMBOLS)
        hub = make_hub(sim)
        steady = hub.subscribe(flt)
        flaky = hub.subscribe(flt)
        got_steady = await steady.next_batch(0)
        got_flaky = await flaky.next_batch(0)
        assert got_steady == got_flaky  # the initial snapshots
        last_id = hub.last_id  # what the client's Last-Event-ID is after the snapshots
        for op, n in ops:
            if op == "publish":
                for _ in range(n):
                    hub.publish(sim.step(), sim.ts)
                continue
            batch = await flaky.next_batch(0)
            if op == "drop":  # the connection drops after part of a batch got through
                batch = batch[: n % (len(batch) + 1)]
            got_flaky += batch
            if batch:
                last_id = batch[-1].id
            if op == "drop":
                flaky.close()
                flaky = hub.subscribe(flt, last_id)
        got_steady += await steady.next_batch(0)
        got_flaky += await flaky.next_batch(0)
        assert [e.id for e in got_flaky] == [e.id for e in got_steady]
        assert got_flaky == got_steady  # the very same shared objects
        live = [ev for ev in hub.history() if flt.matches(ev)]
        assert got_steady[len(got_steady) - len(live) :] == live
        assert hub.stats.resume_reset == {}

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("last_id", "reason"),
    [
        ("zz-3", "unknown_epoch"),
        ("e2-3", "unknown_epoch"),
        ("e1-999", "ahead"),
        ("garbage", "bad_id"),
        ("e1-", "bad_id"),
        ("e1-x", "bad_id"),
        ("e1--1", "bad_id"),
        ("e1-+3", "bad_id"),
        ("e1-\u0663", "bad_id"),  # an Arabic-Indic digit: isdigit() but not ASCII
        ("", "bad_id"),
        ("e1-" + "9" * 40, "bad_id"),
    ],
)
async def test_reset_reasons(last_id: str, reason: str) -> None:
    sim = MarketSim(1, symbols=("A", "B"))
    hub = make_hub(sim)
    for _ in range(5):
        hub.publish(sim.step(), sim.ts)
    events, exact = hub.resume(Filter(), last_id)
    assert not exact
    assert events[0].event == "reset"
    assert events[0].payload() == {"reason": reason}
    assert events[0].id == hub.last_id
    assert [ev.event for ev in events[1:]] == ["snapshot", "snapshot"]
    assert all(ev.id == hub.last_id for ev in events)
    assert hub.stats.resume_reset == {reason: 1}
    sub = hub.subscribe(Filter.parse(None, "trades"), last_id)
    assert sub.resume_outcome == reason
    batch = await sub.next_batch(0)
    assert [ev.event for ev in batch] == ["reset"]  # no snapshots without the book channel


def test_too_old_and_oldest_exact_boundary() -> None:
    sim = MarketSim(2)
    hub = make_hub(sim, history_size=10)
    while hub.last_offset < 50:
        hub.publish(sim.step(), sim.ts)
    first = hub.first_offset
    assert len(hub.history()) == 10
    events, exact = hub.resume(Filter(), f"{EPOCH}-{first - 1}")
    assert exact and [ev.offset for ev in events] == list(range(first, hub.last_offset + 1))
    events, exact = hub.resume(Filter(), f"{EPOCH}-{first - 2}")
    assert not exact and events[0].payload() == {"reason": "too_old"}
    assert hub.stats.resume_exact == 1 and hub.stats.resume_reset == {"too_old": 1}


def test_history_trims_by_age() -> None:
    hub = MarketHub(EPOCH, history_age_ns=100)
    for ts in (0, 50, 100, 150, 260):
        hub.publish([("status", "A", {"symbol": "A", "state": "open", "ts": ts})], ts)
    assert [ev.ts for ev in hub.history()] == [260]
    events, exact = hub.resume(Filter(), f"{EPOCH}-4")
    assert exact and [ev.ts for ev in events] == [260]
    assert not hub.resume(Filter(), f"{EPOCH}-3")[1]


def test_resume_from_head_misses_nothing() -> None:
    sim = MarketSim(3)
    hub = make_hub(sim)
    hub.publish(sim.step(), sim.ts)
    assert hub.resume(Filter(), hub.last_id) == ([], True)
    fresh = MarketHub(EPOCH)
    assert fresh.resume(Filter(), f"{EPOCH}-0") == ([], True)


async def test_snapshot_id_resume_is_exact_and_book_stays_in_sync() -> None:
    """Snapshot, disconnect, resume from the snapshot's id: every delta applies, and the
    client's book has the server's checksum after each one."""
    sim = MarketSim(4, symbols=("A", "B"))
    hub = make_hub(sim)
    for _ in range(30):
        hub.publish(sim.step(), sim.ts)
    sub = hub.subscribe(Filter.parse(None, "book"))
    snapshots = await sub.next_batch(0)
    assert {ev.id for ev in snapshots} == {hub.last_id}
    sub.close()
    books: dict[str | None, L2Book] = {}
    for ev in snapshots:
        book = books[ev.symbol] = L2Book(ev.symbol or "")
        book.apply_snapshot(ev.payload())  # verifies the checksum
    for _ in range(100):
        hub.publish(sim.step(), sim.ts)
    events, exact = hub.resume(Filter.parse(None, "book"), snapshots[-1].id)
    assert exact and events
    for ev in events:
        assert books[ev.symbol].apply_delta(ev.payload())  # raises on a gap or bad checksum
    for book in books.values():
        assert book.checksum() == sim.checksum(book.symbol)


async def test_poll_without_cursor_gives_snapshots_and_head_cursor() -> None:
    sim = MarketSim(5, symbols=("A",))
    hub = make_hub(sim)
    hub.publish(sim.step(), sim.ts)
    events, cursor = await hub.poll(Filter(), None, 5)
    assert [ev.event for ev in events] == ["snapshot"]
    assert cursor == hub.last_id


async def test_poll_times_out_with_same_cursor() -> None:
    sim = MarketSim(6, symbols=("A", "B"))
    hub = make_hub(sim)
    hub.publish(sim.step(), sim.ts)
    cursor = hub.last_id
    assert await hub.poll(Filter(), cursor, 0.01) == ([], cursor)
    assert hub.stats.subscribers["poll"] == 0
    assert hub.stats.resume_exact == 0  # polls count resets only
    assert hub.subscribe(Filter(), cursor).resume_outcome == "exact"
    assert hub.subscribe(Filter()).resume_outcome is None
    assert hub.stats.resume_exact == 1


async def test_poll_answers_at_once_when_pending() -> None:
    sim = MarketSim(7, symbols=("A",))
    hub = make_hub(sim)
    cursor = hub.last_id
    items = sim.step()
    hub.publish(items, sim.ts)
    events, new_cursor = await hub.poll(Filter(), cursor, 30)
    assert [ev.event for ev in events] == [name for name, _, _ in items]
    assert new_cursor == hub.last_id == events[-1].id


async def test_poll_waits_until_a_matching_event() -> None:
    sim = MarketSim(8, symbols=("A", "B"))
    hub = make_hub(sim)
    cursor = hub.last_id
    flt = Filter.parse("B", "status")
    task = asyncio.create_task(hub.poll(flt, cursor, 30))
    await asyncio.sleep(0)
    hub.publish([("status", "A", {"symbol": "A", "state": "halted", "ts": 1})], 1)
    await asyncio.sleep(0)
    assert not task.done()  # a non-matching event does not answer the poll
    hub.publish([("status", "B", {"symbol": "B", "state": "halted", "ts": 2})], 2)
    events, new_cursor = await asyncio.wait_for(task, 30)
    assert [(ev.symbol, ev.event) for ev in events] == [("B", "status")]
    assert new_cursor == hub.last_id
    # the next poll from that cursor sees only what follows
    assert await hub.poll(flt, new_cursor, 0) == ([], new_cursor)


async def test_poll_with_bad_cursor_resets() -> None:
    sim = MarketSim(9, symbols=("A",))
    hub = make_hub(sim)
    events, cursor = await hub.poll(Filter(), "nope", 1)
    assert [ev.event for ev in events] == ["reset", "snapshot"]
    assert cursor == hub.last_id


async def test_next_batch_waits_for_live_events() -> None:
    sim = MarketSim(10, symbols=("A",))
    hub = make_hub(sim)
    sub = hub.subscribe(Filter(), hub.last_id)
    task = asyncio.create_task(sub.next_batch(30))
    await asyncio.sleep(0)
    assert not task.done()
    hub.publish(sim.step(), sim.ts)
    batch = await asyncio.wait_for(task, 30)
    assert batch == hub.history()
    assert await sub.next_batch(0) == []


async def test_close_wakes_a_waiting_reader() -> None:
    hub = MarketHub(EPOCH)
    sub = hub.subscribe(Filter())
    task = asyncio.create_task(sub.next_batch(30))
    await asyncio.sleep(0)
    sub.close()
    from exchange.hub import SlowConsumer, SubscriptionClosed

    with pytest.raises(SubscriptionClosed) as info:
        await asyncio.wait_for(task, 30)
    assert not isinstance(info.value, SlowConsumer)
    assert info.value.reason == "closed" == sub.closed_reason


async def test_cancelled_reader_leaves_no_waiter() -> None:
    hub = MarketHub(EPOCH)
    sub = hub.subscribe(Filter())
    task = asyncio.create_task(sub.next_batch(30))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hub._waiting == {}
