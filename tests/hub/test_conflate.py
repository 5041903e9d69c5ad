"""Conflation: merged deltas rebuild the same book and checksum; nothing else is lost."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.hub.conflate import conflate, merge_book_deltas
from exchange.hub.events import MdEvent, make_event
from exchange.sim.feed import MarketSim
from shared.book import L2Book


def run(seed: int, steps: int, symbols: tuple[str, ...]) -> tuple[MarketSim, list[MdEvent], dict]:
    sim = MarketSim(seed, symbols=symbols)
    start = {s: sim.snapshot(s) for s in symbols}
    events: list[MdEvent] = []
    for _ in range(steps):
        for name, symbol, payload in sim.step():
            events.append(make_event("e", len(events) + 1, name, symbol, sim.ts, payload))
    return sim, events, start


def replay(start: dict, events: list[MdEvent]) -> dict[str, L2Book]:
    books = {}
    for symbol, snap in start.items():
        books[symbol] = L2Book(symbol)
        books[symbol].apply_snapshot(snap)
    for ev in events:
        if ev.event == "book":
            assert books[ev.symbol or ""].apply_delta(ev.payload())  # verifies the checksum
    return books


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 120), books_only=st.booleans())
def test_conflated_stream_builds_the_same_books(seed: int, steps: int, books_only: bool) -> None:
    sim, events, start = run(seed, steps, ("A", "B"))
    merged = conflate(events, books_only=books_only)
    books = replay(start, merged)
    for symbol, book in books.items():
        want = sim.snapshot(symbol)
        assert [list(lv) for lv in book.levels("bids")] == want["bids"]
        assert [list(lv) for lv in book.levels("asks")] == want["asks"]
        assert book.checksum() == sim.checksum(symbol)
        assert book.seq == sim.books[symbol].seq
    # one merged delta per symbol (no snapshot or reset in between)
    assert sum(1 for ev in merged if ev.event == "book") <= 2
    # ids still rise, and the last id is kept
    offsets = [ev.offset for ev in merged]
    assert offsets == sorted(set(offsets))
    assert merged[-1].id == events[-1].id
    # trades and statuses are all kept, in order, as the very same objects
    for kind in ("trade", "status"):
        assert [ev for ev in merged if ev.event == kind] == [
            ev for ev in events if ev.event == kind
        ]
    tickers = [ev for ev in merged if ev.event == "ticker"]
    if books_only:
        assert tickers == [ev for ev in events if ev.event == "ticker"]
    else:
        last_ticker = {ev.symbol: ev for ev in events if ev.event == "ticker"}
        assert sorted(tickers, key=lambda e: e.offset) == sorted(
            last_ticker.values(), key=lambda e: e.offset
        )
        candle_keys = [
            (ev.symbol, ev.payload()["interval"], ev.payload()["t"])
            for ev in merged
            if ev.event == "candle"
        ]
        assert len(candle_keys) == len(set(candle_keys))


def test_merge_last_change_wins_and_zero_removes() -> None:
    merged = merge_book_deltas(
        [
            {"symbol": "A", "first_seq": 5, "seq": 5, "bids": [["1.00", "2"]], "asks": [],
             "checksum": 1, "ts": 10},
            {"symbol": "A", "first_seq": 6, "seq": 6, "bids": [["1.00", "0"], ["1.10", "3"]],
             "asks": [["2.00", "1"]], "checksum": 2, "ts": 11},
            {"symbol": "A", "first_seq": 7, "seq": 7, "bids": [["0.90", "4"]],
             "asks": [["10.00", "1"]], "checksum": 3, "ts": 12},
        ]
    )  # fmt: skip
    assert merged == {
        "symbol": "A",
        "first_seq": 5,
        "seq": 7,
        "bids": [["1.10", "3"], ["1.00", "0"], ["0.90", "4"]],
        "asks": [["2.00", "1"], ["10.00", "1"]],
        "checksum": 3,
        "ts": 12,
    }


def test_snapshot_and_reset_end_a_run() -> None:
    def delta(off: int, seq: int) -> MdEvent:
        payload = {"symbol": "A", "first_seq": seq, "seq": seq, "bids": [], "asks": [],
                   "checksum": 0, "ts": off}  # fmt: skip
        return make_event("e", off, "book", "A", off, payload)

    snap = make_event("e", 3, "snapshot", "A", 3, {"symbol": "A", "seq": 2})
    reset = make_event("e", 6, "reset", None, 6, {"reason": "too_old"})
    events = [delta(1, 1), delta(2, 2), snap, delta(4, 3), delta(5, 4), reset, delta(7, 5)]
    out = conflate(events)
    assert [(ev.event, ev.offset) for ev in out] == [
        ("book", 2),
        ("snapshot", 3),
        ("book", 5),
        ("reset", 6),
        ("book", 7),
    ]
    assert [orjson.loads(ev.data).get("first_seq") for ev in out] == [1, None, 3, None, 5]


def test_nothing_to_merge_keeps_every_object() -> None:
    _, events, _ = run(1, 1, ("A",))
    assert conflate(events) == events
