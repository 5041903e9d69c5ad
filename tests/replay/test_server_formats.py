"""Live: Kraken checksums and Tardis candles as published by a replaying server, and the
same market-data payloads whatever the speed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.codec import decode_market

from .conftest import sample
from .live import (
    after_each_step,
    empty_book,
    read_sse,
    start_replay,
    wait_finished,
    wait_published,
)

KRAKEN = ("cryptofeed-kraken-book-2021-04-17", "KRAKEN.ws.50.0")
TARDIS = (
    "tardis-binance-futures-btcusdt-trades-2020-02-22",
    "binance-futures_trades_BTCUSDT_2020-02-22.csv",
)
AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)
MARKET = ("book", "trade", "ticker", "candle")


@pytest.mark.data
def test_kraken_published_books_have_krakens_checksums(tmp_path: Path) -> None:
    path = sample(*KRAKEN)
    with start_replay([path], tmp_path, "--speed", "max") as (srv, driver):
        wait_finished(srv.url)
        offsets: list[int] = driver.step_offsets
        steps = driver.source.steps
        events = read_sse(srv.url, "", offsets[-1])
    books = {s.symbol: empty_book(s.symbol) for s in driver.source.symbols}
    updates = matched = 0
    for i, book in after_each_step(events, offsets, books):
        step = steps[i]
        if step.checksum is not None:
            updates += 1
            matched += book[step.symbol].checksum() == step.checksum
    assert (matched, updates) == (4269, 4269)


@pytest.mark.data
def test_kraken_batches_end_on_krakens_checksums(tmp_path: Path) -> None:
    """As the server runs by default (market data per batch; a replay cuts one batch per
    recorded message, whatever the speed): after every published batch the client's book
    has Kraken's checksum of that message."""
    path = sample(*KRAKEN)
    with start_replay([path], tmp_path, "--speed", "max", batches=True) as (srv, driver):
        wait_finished(srv.url)
        last = wait_published(srv.node)
        ends: list[tuple[int, int]] = driver.batch_ends
        steps = driver.source.steps
        events = read_sse(srv.url, "", last)
    assert len({i for i, _ in ends}) == len(ends)  # one batch per message, never two
    books = {s.symbol: empty_book(s.symbol) for s in driver.source.symbols}
    checked = matched = 0
    for j, book in after_each_step(events, [off for _, off in ends], books):
        step = steps[ends[j][0]]
        if step.checksum is not None:
            checked += 1
            matched += book[step.symbol].checksum() == step.checksum
    assert (matched, checked) == (4269, 4269)  # every Kraken checksum, each its own batch


def ohlcv(path: Path) -> dict[int, tuple[Decimal, ...]]:
    """1-minute OHLCV of the Tardis file, computed here."""
    bars: dict[int, list[Decimal]] = {}
    for line in path.read_text().splitlines()[1:]:
        f = line.split(",")
        price, qty = Decimal(f[6]), Decimal(f[7])
        minute = int(f[2]) * 1000 // 60_000_000_000 * 60_000_000_000
        bar = bars.setdefault(minute, [price, price, price, price, Decimal(0)])
        bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price
        bar[4] += qty
    return {t: tuple(b) for t, b in bars.items()}


@pytest.mark.data
def test_tardis_published_1m_candles_equal_independent_ohlcv(tmp_path: Path) -> None:
    path = sample(*TARDIS)
    with start_replay([path], tmp_path, "--speed", "max", batches=True) as (srv, _):
        wait_finished(srv.url)  # candles per batch, as the server runs by default
        events = read_sse(srv.url, "channels=candles,status", wait_published(srv.node))
    candles: dict[int, dict[str, Any]] = {}
    for ev in events:
        if ev["event"] == "candle" and ev["data"]["interval"] == "1m":
            candles[ev["data"]["t"]] = ev["data"]  # the latest state of each minute
    expected = ohlcv(path)
    assert sorted(candles) == sorted(expected)
    for t, (o, h, lo, c, v) in expected.items():
        got = candles[t]
        assert tuple(Decimal(got[k]) for k in "ohlcv") == (o, h, lo, c, v), t


def market_payloads(srv: Any) -> list[tuple[str, bytes]]:
    return [(ev.event, ev.data) for ev in srv.node.hub.history() if ev.event in MARKET]


@pytest.mark.data
@pytest.mark.parametrize("batches", [False, True], ids=["per-command", "per-batch"])
def test_two_speeds_publish_identical_payloads(tmp_path: Path, batches: bool) -> None:
    """Per batch too (found in review: the sequencer's loop-turn cuts made the batches
    depend on the speed; a replay now cuts once per recorded message)."""
    path = sample(*AAPL)
    with start_replay([path], tmp_path, "--speed", "max", data="a", batches=batches) as (
        srv,
        _,
    ):
        wait_finished(srv.url)
        if batches:
            wait_published(srv.node)
        fast = market_payloads(srv)
    with start_replay([path], tmp_path, "--speed", "25", data="b", batches=batches) as (
        srv,
        _,
    ):
        st = wait_finished(srv.url)
        assert st["speed"] == "25"
        if batches:
            wait_published(srv.node)
        paced = market_payloads(srv)
        statuses = [ev for ev in srv.node.hub.history() if ev.event == "status"]
    assert len(fast) > 1000
    assert paced == fast
    # the paced run published its clock now and then: state replay, clock inside the day
    assert statuses
    data = [s.payload() for s in statuses]
    assert all(d["state"] == "replay" and d["replay"]["speed"] == "25" for d in data)
    for d in data:  # the contract's fields, and a strict client's model accepts the event
        assert d["replay_clock"] == d["replay"]["clock"] and d["replay_speed"] == 25.0
        decode_market("status", orjson.dumps(d))
    clocks = [d["replay"]["clock"] for d in data]
    assert clocks == sorted(clocks)
