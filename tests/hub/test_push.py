"""Push subscriptions (``MarketHub.attach``): one flush per loop turn, the same bytes per
group, lagging on the write buffer, exact paced resume, the slow-consumer policy, windows."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.hub import Filter, MarketHub
from exchange.hub.events import SSE_CHUNKED, WS_TEXT, Framing, MdEvent
from exchange.sim.feed import MarketSim
from shared.book import L2Book

EPOCH = "e1"
_ID = re.compile(rb"id:e1-(\d+)\n")


class FakeWriter:
    """A connection: ``cap`` unsent bytes at most before it refuses (``drain()`` empties)."""

    def __init__(self, cap: int = 1 << 40) -> None:
        self.frames: list[bytes] = []
        self.cap = cap
        self.unsent = 0
        self.gone = False

    def ready(self) -> bool:
        return not self.gone and self.unsent < self.cap

    def offer(self, data: bytes) -> bool:
        if not self.ready():
            return False
        self.write(data)
        return True

    def write(self, data: bytes) -> None:
        if not self.gone:
            self.frames.append(data)
            self.unsent += len(data)

    def buffered(self) -> int:
        return self.unsent

    def closing(self) -> bool:
        return self.gone

    def drain(self) -> None:
        self.unsent = 0

    def ids(self) -> list[int]:
        return [int(m) for m in _ID.findall(b"".join(self.frames))]


def status(i: int, symbol: str = "A") -> tuple[str, str | None, dict[str, Any]]:
    return ("status", symbol, {"symbol": symbol, "state": "open", "i": i})


async def turn() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_one_flush_per_turn_and_the_same_bytes_for_a_group() -> None:
    hub = MarketHub(EPOCH)
    a, b, c = FakeWriter(), FakeWriter(), FakeWriter()
    sa = hub.attach(Filter(), a, SSE_CHUNKED)
    hub.attach(Filter(), b, SSE_CHUNKED)
    hub.attach(Filter.parse("B", None), c, SSE_CHUNKED)
    for i in range(10):  # ten commands in one turn
        hub.publish([status(i), status(i, "B")], i)
    assert a.frames == []  # nothing is written inside publish
    await turn()
    assert len(a.frames) == len(b.frames) == 1
    assert a.frames[0] is b.frames[0]  # encoded once, the same object
    assert a.ids() == list(range(1, 21)) and c.ids() == list(range(2, 21, 2))
    assert sa.last_id == hub.last_id
    assert hub.stats.delivered["sse"] == 20 + 20 + 10


async def test_sse_and_ws_subscribers_are_written_in_the_same_flush() -> None:
    hub = MarketHub(EPOCH)
    sse, ws = FakeWriter(), FakeWriter()
    hub.attach(Filter(), sse, SSE_CHUNKED, kind="sse")
    hub.attach(Filter(), ws, WS_TEXT, kind="ws")
    hub.publish([status(1)], 1)
    await asyncio.sleep(0)  # one turn of the loop
    assert len(sse.frames) == len(ws.frames) == 1
    assert ws.frames[0].startswith(b"\x81") and b'"type":"md.status"' in ws.frames[0]


async def test_a_full_connection_lags_then_catches_up_exactly() -> None:
    hub = MarketHub(EPOCH, buffer_events=1000)
    slow = FakeWriter(cap=1)
    sub = hub.attach(Filter(), slow, SSE_CHUNKED)
    hub.publish([status(1)], 1)
    await turn()
    assert slow.ids() == [1]  # written while under the mark; now over it
    for i in range(2, 50):
        hub.publish([status(i)], i)
        await turn()
    assert slow.ids() == [1] and sub.closed_reason is None  # lagging: nothing more written
    slow.drain()
    slow.cap = 1 << 40
    await asyncio.sleep(0.12)  # the lagging set is serviced on a timer
    assert slow.ids() == list(range(1, 50))  # every event, in order, none twice
    hub.publish([status(50)], 50)
    await turn()
    assert slow.ids()[-1] == 50  # back in its group


async def test_a_live_backlog_over_the_buffer_is_conflated() -> None:
    hub = MarketHub(EPOCH, buffer_events=60, max_pending=1000)
    sim = MarketSim(3, symbols=("A",))
    hub.seed(sim.snapshots(), 0)
    w = FakeWriter(cap=1)
    sub = hub.attach(Filter(), w, SSE_CHUNKED)
    w.drain()
    w.cap = 0  # stalled
    for _ in range(40):
        hub.publish(sim.step(), 1)
    await turn()
    w.cap = 1 << 40
    await asyncio.sleep(0.12)
    assert sub.conflated_batches == 1 and sub.closed_reason is None
    # the client's book is still exact after the merged delta
    book = L2Book("A")
    for frame in w.frames:
        for event, data in re.findall(rb"event:(\w+)\ndata:(.*)\n", frame):
            import orjson

            payload = orjson.loads(data)
            if event == b"snapshot":
                book.apply_snapshot(payload)
            elif event == b"book":
                assert book.apply_delta(payload)
    assert book.checksum() == hub.snapshot_event("A").payload()["checksum"]


async def test_disconnect_policy_and_max_pending_drop_the_subscriber() -> None:
    for policy, n in (("disconnect", 20), ("conflate", 200)):
        hub = MarketHub(EPOCH, buffer_events=10, max_pending=100, slow_policy=policy)  # type: ignore[arg-type]
        w = FakeWriter(cap=0)
        sub = hub.attach(Filter(), w, SSE_CHUNKED)
        closed: list[str | None] = []
        sub.add_close_callback(lambda s, out=closed: out.append(s.closed_reason))
        for i in range(n):  # trades are never conflated
            hub.publish([("trade", "A", {"symbol": "A", "trade_id": i})], i)
        await asyncio.sleep(0.12)
        assert closed == ["slow_consumer"], policy
        assert hub.stats.slow_consumer_disconnects == 1


async def test_a_stalled_reader_is_dropped_after_the_stall_time() -> None:
    hub = MarketHub(EPOCH, stall_s=0.1)
    w = FakeWriter(cap=0)
    sub = hub.attach(Filter(), w, SSE_CHUNKED)
    hub.publish([status(1)], 1)
    await asyncio.sleep(0.3)
    assert sub.closed_reason == "slow_consumer"
    assert len(hub._fanout) == 0


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(1, 3000), cap=st.sampled_from([1, 5_000, 1 << 40]))
def test_resume_at_any_depth_is_exact_and_paced(depth: int, cap: int) -> None:
    async def run() -> None:
        hub = MarketHub(EPOCH, history_size=5000, buffer_events=16, max_pending=32)
        for i in range(3000):
            hub.publish([status(i, "AB"[i % 2])], i)
        w = FakeWriter(cap=cap)
        after = hub.last_offset - depth
        sub = hub.attach(Filter.parse("A", None), w, SSE_CHUNKED, f"{EPOCH}-{after}")
        assert sub.resume_outcome == "exact"
        for _ in range(200):  # the reader drains as it goes: never more than cap + a slice
            await asyncio.sleep(0)
            assert w.unsent <= cap + 300_000
            w.drain()
            if sub._group is not None:
                break
        expected = [o for o in range(after + 1, hub.last_offset + 1) if (o - 1) % 2 == 0]
        assert w.ids() == expected  # every matching event, in order: never conflated
        assert sub.conflated_batches == 0

    asyncio.run(run())


async def test_a_resume_past_history_is_a_reset_with_snapshots() -> None:
    hub = MarketHub(EPOCH, history_size=100)
    sim = MarketSim(1, symbols=("A",))
    hub.seed(sim.snapshots(), 0)
    for _ in range(100):
        hub.publish(sim.step(), 1)
    w = FakeWriter()
    sub = hub.attach(Filter(), w, SSE_CHUNKED, f"{EPOCH}-1")
    assert sub.resume_outcome == "too_old"
    data = b"".join(w.frames)
    assert data.index(b"event:reset") < data.index(b"event:snapshot")


async def test_windows_merge_book_deltas_and_keep_trades() -> None:
    hub = MarketHub(EPOCH)
    sim = MarketSim(5, symbols=("A",))
    hub.seed(sim.snapshots(), 0)
    w = FakeWriter()
    hub.attach(Filter(), w, SSE_CHUNKED, conflate_ns=100_000_000)
    w.frames.clear()
    trades = 0
    for _ in range(30):
        items = sim.step()
        trades += sum(1 for name, _, _ in items if name == "trade")
        hub.publish(items, 1)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    data = b"".join(w.frames)
    assert 2 <= len(w.frames) <= 6  # about one write per 100 ms window, not 30
    assert data.count(b"event:trade") == trades
    assert data.count(b"event:book") < 30


async def test_keepalive_goes_to_live_members_and_closing_writers_are_closed() -> None:
    hub = MarketHub(EPOCH, keepalive_s=0.05)
    a, gone = FakeWriter(), FakeWriter(cap=0)
    hub.attach(Filter(), a, SSE_CHUNKED)
    sub = hub.attach(Filter(), gone, SSE_CHUNKED)
    hub.publish([status(1)], 1)
    gone.gone = True
    await asyncio.sleep(0.2)
    assert any(b": hb " in f for f in a.frames)
    assert sub.closed_reason == "disconnected"


async def test_hub_close_ends_push_subscriptions() -> None:
    hub = MarketHub(EPOCH)
    subs = [hub.attach(Filter(), FakeWriter(), SSE_CHUNKED) for _ in range(3)]
    hub.close()
    assert {s.closed_reason for s in subs} == {"hub_closed"}
    assert len(hub._fanout) == 0 and hub.stats.subscribers["sse"] == 0


class CountingFraming(Framing):
    """A per-connection framing (like a compressor): framed only when it will be written."""

    stateful = True

    def __init__(self) -> None:
        super().__init__("counting")
        self.framed = 0

    def frame(self, events: list[MdEvent]) -> bytes:
        self.framed += len(events)
        return b"".join(ev.sse for ev in events)


async def test_a_stateful_framing_is_never_framed_for_nothing() -> None:
    hub = MarketHub(EPOCH)
    w = FakeWriter(cap=0)
    framing = CountingFraming()
    hub.attach(Filter(), w, framing)
    for i in range(5):
        hub.publish([status(i)], i)
        await turn()
    assert framing.framed == 0  # the connection took nothing: nothing was compressed
    w.cap = 1 << 40
    await asyncio.sleep(0.12)
    assert framing.framed == 5 and len(w.ids()) == 5


class CountingKeepalive(CountingFraming):
    def __init__(self) -> None:
        super().__init__()
        self.keepalives = 0

    def keepalive(self) -> bytes | None:
        self.keepalives += 1
        return b": hb\n\n"


async def test_a_stateful_framings_keepalive_is_made_only_to_be_written() -> None:
    """A compressor's heartbeat made and then refused would put the client's decoder out of
    step: a connection that takes nothing is not given one."""
    hub = MarketHub(EPOCH, keepalive_s=0.03)
    full, free = FakeWriter(cap=0), FakeWriter()
    f_full, f_free = CountingKeepalive(), CountingKeepalive()
    hub.attach(Filter(), full, f_full)
    hub.attach(Filter(), free, f_free)
    hub.publish([status(1)], 1)  # arms the timer
    await asyncio.sleep(0.2)
    assert f_full.keepalives == 0 and full.frames == []
    assert f_free.keepalives >= 2 and free.frames.count(b": hb\n\n") == f_free.keepalives
