"""Book deltas (seq, checksum), trade ids, ticker, candles, event order."""

from __future__ import annotations

import binascii
from decimal import Decimal
from typing import Any

from exchange.engine.types import BookDelta, Candle, Tick, Ticker, Trade

Harness = Any
SEC = 1_000_000_000


def independent_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """Kraken-style CRC32 from decimal strings, computed without the engine's helpers."""
    text = ""
    for price, qty in asks[:10] + bids[:10]:
        text += price.replace(".", "").lstrip("0") + qty.replace(".", "").lstrip("0")
    return binascii.crc32(text.encode("ascii")) & 0xFFFFFFFF


def test_checksum_matches_independent_crc(h: Harness) -> None:
    prices = ["100.00", "100.05", "99.95", "101.10", "0.05", "100.50", "98.00"]
    for i, p in enumerate(prices * 3):
        h.new("alice", f"s{i}", "sell", "0.0125", str(Decimal(p) + 200))
        h.new("bob", f"b{i}", "buy", "1.5", p)
    snap = h.engine.book_snapshot("BTC-USD")
    assert len(snap.asks) == 7 and len(snap.bids) == 7

    def fmt(levels: tuple[tuple[int, int], ...]) -> list[tuple[str, str]]:
        return [(f"{Decimal(p) / 100:.2f}", f"{Decimal(q) / 10000:.4f}") for p, q in levels]

    assert snap.checksum == independent_checksum(fmt(snap.asks), fmt(snap.bids))
    assert snap.asks[0][0] < snap.asks[1][0] and snap.bids[0][0] > snap.bids[1][0]
    depth = h.engine.book_snapshot("BTC-USD", depth=2)
    assert len(depth.bids) == 2 and depth.checksum == snap.checksum


def test_checksum_uses_ten_levels(h: Harness) -> None:
    for i in range(15):
        h.new("alice", f"s{i}", "sell", "1", f"{200 + i}.00")
    snap = h.engine.book_snapshot("BTC-USD")
    text = "".join(f"{200 + i}00" + "10000" for i in range(10))
    assert snap.checksum == binascii.crc32(text.encode())


def test_seq_consecutive_one_delta_per_command(h: Harness) -> None:
    seqs = []
    for i in range(5):
        ev = h.new("alice", f"s{i}", "sell", "1", f"{100 + i}.00")
        deltas = h.only(ev, BookDelta)
        assert len(deltas) == 1
        seqs.append((deltas[0].first_seq, deltas[0].seq))
    ev = h.new("bob", "b1", "buy", "5", "110.00")  # sweeps 5 levels in one command
    (delta,) = h.only(ev, BookDelta)
    assert sorted(delta.asks) == [(10000 + 100 * i, 0) for i in range(5)]
    seqs.append((delta.first_seq, delta.seq))
    assert seqs == [(i, i) for i in range(1, 7)]
    assert h.engine.book_snapshot("BTC-USD").seq == 6
    assert delta.checksum == h.engine.book_snapshot("BTC-USD").checksum
    ev = h.new("bob", "b2", "buy", "1", "1.00", symbol="ETH-USD")
    assert h.only(ev, BookDelta)[0].seq == 1  # per symbol


def test_trade_ids_consecutive_and_event_order(h: Harness) -> None:
    h.new("alice", "s1", "sell", "1", "100.00")
    h.new("alice", "s2", "sell", "1", "101.00")
    ev = h.new("bob", "b1", "buy", "2", "101.00", step=2 * SEC)
    names = [type(e).__name__ for e in ev]
    assert names == [
        "OrderAccepted",
        "OrderFilled",
        "OrderFilled",
        "OrderFilled",
        "OrderFilled",
        "Trade",
        "Trade",
        "BookDelta",
        "Ticker",
        "Candle",
        "Candle",
    ]
    assert [t.trade_id for t in h.only(ev, Trade)] == [1, 2]
    ev = h.new("alice", "s3", "sell", "1", "90.00")
    assert [t.trade_id for t in h.only(ev, Trade)] == []
    h.new("bob", "b2", "buy", "1", "90.00")
    assert h.engine.book_snapshot("BTC-USD").last_trade_id == 3


def test_ticker_fields(h: Harness) -> None:
    h.new("alice", "s1", "sell", "1", "100.00")
    h.new("bob", "b1", "buy", "0.5", "100.00")
    h.new("alice", "s2", "sell", "1", "102.00")
    h.new("bob", "b2", "buy", "1", "99.00")
    ev = h.new("bob", "b3", "buy", "1", "102.00")
    (ticker,) = h.only(ev, Ticker)
    assert (ticker.bid, ticker.ask, ticker.last) == (9900, 10200, 10200)
    assert (ticker.open, ticker.high, ticker.low, ticker.volume) == (10000, 10200, 10000, 15000)


def test_candles_update_then_close(h: Harness) -> None:
    h.ts = 10 * SEC
    h.new("alice", "s1", "sell", "5", "100.00")
    ev = h.new("bob", "b1", "buy", "1", "100.00")
    c1s, c1m = h.only(ev, Candle)
    assert (c1s.interval, c1s.t, c1s.o, c1s.v, c1s.closed) == ("1s", 10 * SEC, 10000, 10000, False)
    assert (c1m.interval, c1m.t) == ("1m", 0)
    h.new("alice", "s2", "sell", "1", "99.00", step=10)
    ev = h.new("bob", "b2", "buy", "2", "100.00", step=10)
    c1s = h.only(ev, Candle)[0]
    assert (c1s.o, c1s.h, c1s.l, c1s.c, c1s.v) == (10000, 10000, 9900, 10000, 30000)
    ev = h.do(Tick(12 * SEC))
    assert ev == [Candle("BTC-USD", "1s", 10 * SEC, 10000, 10000, 9900, 10000, 30000, True)]
    assert h.do(Tick(13 * SEC)) == []
    ev = h.do(Tick(60 * SEC))
    assert [(c.interval, c.closed, c.v) for c in ev] == [("1m", True, 30000)]
    h.ts = 61 * SEC
    ev = h.new("bob", "b3", "buy", "1", "100.00")
    assert [(c.interval, c.t, c.v) for c in h.only(ev, Candle)] == [
        ("1s", 61 * SEC, 10000),
        ("1m", 60 * SEC, 10000),
    ]


def test_delta_checksum_cache_follows_deep_and_top_changes(h: Harness) -> None:
    import random

    rng = random.Random(7)
    live: list[str] = []
    for i in range(400):
        if live and rng.random() < 0.35:
            coid = live.pop(rng.randrange(len(live)))
            ev = h.cancel("alice" if coid[0] == "a" else "bob", coid)
        else:
            side = rng.choice(["buy", "sell"])
            tick = rng.randint(1, 30)
            price = f"{100 - tick if side == 'buy' else 100 + tick}.00"
            coid = f"{'a' if side == 'sell' else 'b'}{i}"
            ev = h.new("alice" if side == "sell" else "bob", coid, side, "1", price)
            live.append(coid)
        for delta in h.only(ev, BookDelta):
            assert delta.checksum == h.engine.books["BTC-USD"].checksum()
    assert len(h.engine.book_snapshot("BTC-USD").bids) > 10
