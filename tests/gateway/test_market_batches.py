"""Market data per batch on a live server (issue 15): orders that arrive together are one
book delta per symbol, the client's book (checksums verified) ends where the orders put it,
and a crash with market data still unpublished recovers to a hub that agrees with the engine.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from httpx_sse import aconnect_sse

from exchange.config import Settings
from exchange.engine import types as t
from exchange.journal import Journal
from exchange.journal.codec import decode_command
from exchange.node import ExchangeNode
from shared.book import L2Book
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"
ORDERS = 20


async def _book_events(url: str, until_levels: int, book: L2Book) -> list[dict[str, Any]]:
    """Book events of BTC-USD from the snapshot on, applied to ``book``, until it holds
    ``until_levels`` bid levels."""
    deltas: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(timeout=20) as http,
        aconnect_sse(http, "GET", f"{url}/md/stream?symbols={BTC}&channels=book") as es,
    ):
        async for sse in es.aiter_sse():
            if not sse.data:
                continue
            data = orjson.loads(sse.data)
            if sse.event == "snapshot":
                book.apply_snapshot(data)
            elif sse.event == "book":
                assert book.apply_delta(data), data  # in sequence, checksum verified
                deltas.append(data)
            if len(book.levels("bids", 100)) >= until_levels:
                return deltas
    return deltas


@pytest.mark.parametrize(("fsync", "window_ms"), [("batch", 200.0), ("off", 0.0)])
async def test_orders_sent_together_are_few_deltas(
    live_server_factory: Any, fsync: str, window_ms: float
) -> None:
    srv = live_server_factory(
        fsync=fsync, batch_window_ms=window_ms, conn_burst=1000.0, account_burst=1000.0
    )
    book = L2Book(BTC)
    reader = asyncio.create_task(_book_events(srv.url, ORDERS, book))
    await asyncio.sleep(0.5)  # the stream is open (snapshot taken)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "batcher"))
    try:
        # corked, the 20 frames leave in one segment and so arrive together even on a
        # busy machine (uncorked, a descheduled client sent them in six reads on CI)
        sock = c.ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        for i in range(ORDERS):
            order = limit(f"b{i}", BTC, "buy", "0.1", f"{100 + i}")
            await c.ws.send(orjson.dumps({"op": "order.new", "req_id": i, **order}).decode())
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        acks = [await c.reply_to(i, timeout=30) for i in range(ORDERS)]
        assert [a["type"] for a in acks] == ["order.ack"] * ORDERS
        deltas = await asyncio.wait_for(reader, 30)
    finally:
        await c.close()
    prices = [p for p, _ in book.levels("bids", 100)]
    assert [float(p) for p in prices[:ORDERS]] == [100.0 + i for i in range(ORDERS)][::-1]
    # one delta per batch, each with first_seq == seq: far fewer than one per order
    assert all(d["first_seq"] == d["seq"] for d in deltas)
    assert len(deltas) <= ORDERS // 4, [len(d["bids"]) for d in deltas]


@pytest.mark.parametrize("batched_tail", [True, False])
def test_a_crash_before_the_publish_recovers_a_consistent_hub(
    tmp_path: Path, batched_tail: bool
) -> None:
    """``batched_tail``: the journal tail has Publish records (replayed per batch); without
    any (written per command, or never cut) it is replayed per command."""
    settings = Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync="off")
    node = ExchangeNode(settings)
    node.recover()
    seq = node.sequencer
    seq.submit_nowait(t.OpenAccount("a", 10**15, ((BTC, 10**9),), False, 0))
    for i in range(5):  # applied as within one loop turn; only the first batch is published
        seq._apply(seq.stamp(t.NewOrder("a", f"s{i}", BTC, "sell", "limit", "0.1", f"2{i}0")))
        if i == 0 and batched_tail:
            seq.publish_now()
    assert node.engine.has_unpublished()
    node.journal.flush()
    node.journal.close()  # the process dies here: journaled, never published
    again = ExchangeNode(settings)
    again.recover()
    assert not again.engine.has_unpublished()
    assert again.engine.market_batches is True
    hub_book = again.hub.books.snapshot(BTC)
    engine_book = again.engine.book_snapshot(BTC)
    assert len(hub_book["asks"]) == len(engine_book.asks) == 5
    assert hub_book["seq"] == again.engine.markets[BTC].seq
    again.journal.close()
    with Journal.open(tmp_path / "data" / "journal") as journal:
        rec = journal.recover()
        kinds = [type(decode_command(p)).__name__ for _, p in rec.records]
    if batched_tail:  # recovery journaled the cut it published
        assert kinds[-1] == "Publish"
    else:  # replayed per command, then a snapshot: this run's batched tail starts clean
        assert kinds == [] and rec.snapshot_seq == rec.last_seq


def test_cuts_do_not_count_toward_snapshot_every(tmp_path: Path) -> None:
    """``snapshot_every`` bounds the commands a recovery replays; the Publish records the
    cuts add are not commands of anyone's and must not make snapshots more frequent."""
    settings = Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync="off", snapshot_every=6)
    node = ExchangeNode(settings)
    node.recover()
    seq = node.sequencer
    taken: list[int] = []
    seq._snapshot = lambda: taken.append(node.journal.last_seq)
    seq.submit_nowait(t.OpenAccount("a", 10**15, ((BTC, 10**9),), False, 0))
    for i in range(4):  # no loop: every order is cut (and journals a Publish) at once
        seq.submit_nowait(t.NewOrder("a", f"s{i}", BTC, "sell", "limit", "0.1", f"2{i}0"))
    assert node.journal.last_seq == 9 and taken == []  # 5 commands, 4 cuts
    seq.submit_nowait(t.NewOrder("a", "s9", BTC, "sell", "limit", "0.1", "290"))
    assert taken == [11]  # the sixth command (and its cut)
    node.journal.close()


@pytest.mark.parametrize("first", [False, True])
def test_a_restart_in_the_other_mode_keeps_the_served_history(tmp_path: Path, first: bool) -> None:
    """Run 1 in one mode, run 2 in the other, then restart: the hub's history and the book
    seq are what run 2 served (found in review: a tail of two modes used to be replayed in
    one, rewriting offsets that clients had already seen)."""
    base = Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync="off", snapshot_fork=False)
    served = []
    for run, batches in enumerate((first, not first, not first)):
        node = ExchangeNode(base.replace(market_batches=batches))
        node.recover()
        if run < 2:
            seq = node.sequencer
            seq.submit_nowait(t.OpenAccount("a", 10**15, ((BTC, 10**9),), False, 0))
            for i in range(3):
                order = t.NewOrder("a", f"r{run}o{i}", BTC, "sell", "limit", "0.1", f"3{i}0")
                seq.submit_nowait(order)
        served.append((node.hub.last_offset, node.engine.markets[BTC].seq))
        node.journal.close()
    assert served[2] == served[1]
