"""State round trip (restart keeps epoch, ids and exact resume) and the memory backend."""

from __future__ import annotations

import pytest

from exchange.hub import Filter, MarketHub, MemoryBackend
from exchange.sim.feed import MarketSim

EPOCH = "e7"


def make_hub(sim: MarketSim, **kwargs: object) -> MarketHub:
    hub = MarketHub(EPOCH, **kwargs)  # type: ignore[arg-type]
    hub.seed(sim.snapshots(), 0)
    return hub


def test_state_round_trip_is_byte_identical() -> None:
    sim = MarketSim(1, symbols=("A", "B"))
    hub = make_hub(sim, history_size=300, buffer_events=50)
    for _ in range(200):
        hub.publish(sim.step(), sim.ts)
    restored = MarketHub.from_state(hub.to_state())
    assert restored.to_state() == hub.to_state()
    assert restored.epoch == EPOCH and restored.last_id == hub.last_id
    assert restored.buffer_events == 50
    old, new = hub.history(), restored.history()
    assert [(e.id, e.event, e.symbol, e.channel, e.ts, e.data) for e in new] == [
        (e.id, e.event, e.symbol, e.channel, e.ts, e.data) for e in old
    ]
    assert [e.sse for e in new] == [e.sse for e in old]
    for symbol in ("A", "B"):
        assert restored.snapshot_event(symbol).data == hub.snapshot_event(symbol).data
        assert restored.snapshot_event(symbol).payload() == sim.snapshot(symbol)


async def test_client_resumes_across_a_restart_without_a_gap() -> None:
    sim = MarketSim(2, symbols=("A", "B"))
    hub = make_hub(sim)
    flt = Filter.parse("A", None)
    sub = hub.subscribe(flt)
    got = await sub.next_batch(0)
    for _ in range(50):
        hub.publish(sim.step(), sim.ts)
    got += (await sub.next_batch(0))[:7]  # the connection dies mid-batch
    last_id = got[-1].id
    state = hub.to_state()
    # the same items keep coming after the restart
    later = [(sim.step(), sim.ts) for _ in range(30)]
    for items, ts in later:
        hub.publish(items, ts)
    restored = MarketHub.from_state(state)
    for items, ts in later:
        restored.publish(items, ts)
    resumed = restored.subscribe(flt, last_id)
    tail = await resumed.next_batch(0)
    want = [e for e in hub.history() if flt.matches(e) and e.offset > int(last_id.split("-")[1])]
    assert [(e.id, e.data) for e in tail] == [(e.id, e.data) for e in want]
    assert restored.stats.resume_exact == 1


def test_state_overrides_and_empty_hub() -> None:
    hub = MarketHub(EPOCH)
    hub.seed([], 41)
    restored = MarketHub.from_state(hub.to_state(), history_size=5)
    assert restored.last_id == f"{EPOCH}-41"
    assert restored.resume(Filter(), f"{EPOCH}-41") == ([], True)
    assert restored._history.max_events == 5


@pytest.mark.parametrize("blob", [b"", b"[]", b"{}", b'{"v": 99}', b"\xff"])
def test_bad_state_is_a_value_error(blob: bytes) -> None:
    with pytest.raises(ValueError):
        MarketHub.from_state(blob)


async def test_memory_backend_followers_get_the_same_ids() -> None:
    sim = MarketSim(3, symbols=("A", "B"))
    writer = make_hub(sim)
    backend = MemoryBackend()
    writer.add_listener(backend.publish)
    early = MarketHub(EPOCH)
    early.seed(sim.snapshots(), 0)
    await backend.follow(early)
    for _ in range(20):
        writer.publish(sim.step(), sim.ts)
    late = MarketHub(EPOCH)  # a gateway started later catches up from the backend's history
    late.seed(MarketSim(3, symbols=("A", "B")).snapshots(), 0)
    await backend.follow(late)
    sub = early.subscribe(Filter(), early.last_id)
    for _ in range(20):
        writer.publish(sim.step(), sim.ts)
    for follower in (early, late):
        assert [e.id for e in follower.history()] == [e.id for e in writer.history()]
        assert follower.history()[5].data is writer.history()[5].data  # bytes carried as is
        for symbol in ("A", "B"):
            assert follower.snapshot_event(symbol).payload() == sim.snapshot(symbol)
    batch = await sub.next_batch(0)
    assert [e.id for e in batch] == [e.id for e in writer.history()[-len(batch) :]]
    await backend.close()
