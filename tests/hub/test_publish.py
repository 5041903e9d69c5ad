"""Offsets, ids, encode-once frames, filters, snapshots and counters."""

from __future__ import annotations

import orjson
import pytest

from exchange.hub import Filter, MarketHub, MdEvent, parse_conflate
from exchange.sim.feed import MarketSim

EPOCH = "e1"


def make_hub(sim: MarketSim, **kwargs: object) -> MarketHub:
    hub = MarketHub(EPOCH, **kwargs)  # type: ignore[arg-type]
    hub.seed(sim.snapshots(), 0)
    return hub


def publish_steps(hub: MarketHub, sim: MarketSim, n: int) -> None:
    for _ in range(n):
        hub.publish(sim.step(), sim.ts)


def test_offsets_are_consecutive_and_ids_carry_epoch() -> None:
    sim = MarketSim(1)
    hub = make_hub(sim)
    publish_steps(hub, sim, 50)
    events = hub.history()
    assert [ev.offset for ev in events] == list(range(1, len(events) + 1))
    assert all(ev.id == f"{EPOCH}-{ev.offset}" for ev in events)
    assert hub.last_id == f"{EPOCH}-{len(events)}"
    assert hub.stats.events_published == len(events)


def test_frames_are_exact() -> None:
    ev = MdEvent(7, "e1-7", "trade", "X", "trades", 5, b'{"a":"1"}')
    assert ev.sse == b'id:e1-7\nevent:trade\ndata:{"a":"1"}\n\n'
    assert orjson.loads(ev.ws) == {"type": "md.trade", "id": "e1-7", "data": {"a": "1"}}
    assert orjson.loads(ev.poll) == {"id": "e1-7", "event": "trade", "data": {"a": "1"}}
    assert ev.sse is ev.sse and ev.ws is ev.ws and ev.poll is ev.poll


def test_publish_encodes_payload_once_per_event() -> None:
    hub = MarketHub(EPOCH)
    payload = {"symbol": "X", "state": "open", "ts": 1}
    hub.publish([("status", "X", payload)], 1)
    (ev,) = hub.history()
    assert orjson.loads(ev.data) == payload
    assert (ev.event, ev.channel, ev.symbol, ev.ts) == ("status", "status", "X", 1)


async def test_two_subscribers_share_the_same_bytes() -> None:
    sim = MarketSim(2)
    hub = make_hub(sim)
    a = hub.subscribe(Filter(), last_id=hub.last_id)
    b = hub.subscribe(Filter.parse(None, "book,trades,ticker,candles,status"), last_id=hub.last_id)
    publish_steps(hub, sim, 5)
    batch_a = await a.next_batch(0)
    batch_b = await b.next_batch(0)
    assert len(batch_a) == len(batch_b) > 0
    for x, y in zip(batch_a, batch_b, strict=True):
        assert x is y
        assert x.sse is y.sse and x.ws is y.ws and x.poll is y.poll


def test_filter_parse() -> None:
    assert Filter.parse(None, None) == Filter(None, None)
    assert Filter.parse("", "") == Filter(None, None)
    f = Filter.parse("A, B", "book,trades")
    assert f.symbols == frozenset({"A", "B"})
    assert f.channels == frozenset({"book", "trades"})
    with pytest.raises(ValueError, match=r"unknown channel.*bogus"):
        Filter.parse(None, "book,bogus")
    with pytest.raises(ValueError, match="trade"):
        Filter.parse(None, "trade")  # the channel is "trades"


async def test_filters_select_symbol_and_channel() -> None:
    sim = MarketSim(3, symbols=("A", "B"))
    hub = make_hub(sim)
    flt = Filter.parse("A", "book,trades")
    sub = hub.subscribe(flt, last_id=hub.last_id)
    publish_steps(hub, sim, 200)
    got = await sub.next_batch(0)
    want = [ev for ev in hub.history() if ev.symbol == "A" and ev.channel in ("book", "trades")]
    assert got == want
    assert {ev.event for ev in got} == {"book", "trade"}


def test_reset_passes_every_filter() -> None:
    hub = MarketHub(EPOCH)
    ev = hub.reset_event("too_old")
    assert Filter.parse("A", "trades").matches(ev)


def test_unknown_event_publishes_nothing() -> None:
    hub = MarketHub(EPOCH)
    with pytest.raises(ValueError, match="unknown market-data event"):
        hub.publish([("status", "X", {}), ("bogus", "X", {})], 1)
    assert hub.last_offset == 0
    with pytest.raises(ValueError, match="without a symbol"):
        hub.publish([("trade", None, {})], 1)


def test_epoch_may_not_contain_dash() -> None:
    with pytest.raises(ValueError):
        MarketHub("a-b")


def test_snapshot_reflects_published_book_and_has_head_id() -> None:
    sim = MarketSim(4)
    hub = make_hub(sim)
    publish_steps(hub, sim, 300)
    for symbol in sim.books:
        ev = hub.snapshot_event(symbol)
        assert ev.event == "snapshot" and ev.channel == "book"
        assert ev.id == hub.last_id
        assert ev.payload() == sim.snapshot(symbol)


def test_snapshot_event_is_cached_until_head_moves() -> None:
    sim = MarketSim(5, symbols=("A", "B"))
    hub = make_hub(sim)
    publish_steps(hub, sim, 3)
    first = hub.snapshot_event("A")
    assert hub.snapshot_event("A") is first
    hub.publish([("status", "B", {"symbol": "B", "state": "open", "ts": 1})], sim.ts)
    second = hub.snapshot_event("A")
    assert second.id == hub.last_id != first.id
    assert second.data is first.data  # A's book did not change: bytes reused


def test_snapshots_respect_filter() -> None:
    sim = MarketSim(6, symbols=("A", "B"))
    hub = make_hub(sim)
    assert [ev.symbol for ev in hub.snapshots(Filter())] == ["A", "B"]
    assert [ev.symbol for ev in hub.snapshots(Filter.parse("B", None))] == ["B"]
    assert hub.snapshots(Filter.parse(None, "trades")) == []


def test_seed_sets_offset_and_books() -> None:
    sim = MarketSim(7)
    hub = MarketHub(EPOCH)
    hub.seed(sim.snapshots(), 42)
    assert hub.last_id == f"{EPOCH}-42"
    hub.publish(sim.step(), sim.ts)
    assert hub.history()[0].offset == 43
    with pytest.raises(ValueError):
        hub.seed(sim.snapshots(), 7)


async def test_subscriber_counters_by_kind() -> None:
    hub = MarketHub(EPOCH)
    a = hub.subscribe(Filter(), kind="sse")
    b = hub.subscribe(Filter(), kind="ws")
    hub.subscribe(Filter(), kind="ws")
    assert hub.stats.subscribers == {"sse": 1, "ws": 2}
    a.close()
    b.close()
    b.close()
    assert hub.stats.subscribers["sse"] == 0
    assert hub.stats.subscribers["ws"] == 1


@pytest.mark.parametrize(
    ("text", "ns"),
    [(None, None), ("", None), ("0", None), ("0ms", None), ("100ms", 100_000_000),
     ("1s", 1_000_000_000), ("250us", 250_000), ("10s", 10_000_000_000)],
)  # fmt: skip
def test_parse_conflate(text: str | None, ns: int | None) -> None:
    assert parse_conflate(text) == ns


@pytest.mark.parametrize(
    "text", ["100", "ms", "1.5s", "-1ms", "11s", "1h", "\u0661ms", "9" * 9 + "s"]
)
def test_parse_conflate_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_conflate(text)
