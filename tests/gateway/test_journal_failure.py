"""A journal that cannot be written: the server fails closed (issue 16, found in review).

After a failed write the engine may hold commands the journal lost, and a record written
after a lost one would leave a hole recovery refuses. So the sequencer refuses every command
from then on, reads answer 503, ``/healthz`` says ``failed``, and a restart recovers exactly
what was acknowledged: the refused order can be sent again under its own key.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import httpx
import pytest
import websockets

import exchange.journal.log as journal_log
from exchange.config import Settings
from exchange.engine import types as t
from exchange.node import ExchangeNode
from exchange.sequencer import JournalFailed
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"


@pytest.mark.parametrize("fsync", ["off", "batch"])
async def test_a_failed_journal_write_fails_closed_and_a_restart_keeps_what_was_acked(
    live_server_factory: Any, monkeypatch: pytest.MonkeyPatch, fsync: str
) -> None:
    srv = live_server_factory(fsync=fsync, batch_window_ms=1.0)
    token = await login(srv.url, "disk")
    c = await OrderClient.connect(srv.ws_url, token)
    ack = await c.request("order.new", **limit("kept", BTC, "buy", "0.1", "100"))
    assert ack["type"] == "order.ack"

    real_write_all = journal_log.write_all

    def disk_full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_log, "write_all", disk_full)
    await c.send({"op": "order.new", "req_id": 2, **limit("lost", BTC, "buy", "0.1", "101")})
    with pytest.raises(websockets.ConnectionClosed) as closed:  # no ack for an unwritten order
        while True:
            msg = await c.recv(10)
            assert msg.get("req_id") != 2, msg
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011

    again = await OrderClient.connect(srv.ws_url, token)
    refused = await again.request("order.new", **limit("later", BTC, "buy", "0.1", "102"))
    assert refused["type"] == "error" and refused["code"] == "UNCONFIRMED"
    assert "restarted" in refused["message"]
    async with httpx.AsyncClient(
        base_url=srv.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        orders = await http.get("/api/orders")  # the engine holds 'lost': not shown
        assert orders.status_code == 503 and orders.json()["code"] == "UNCONFIRMED"
        health = await http.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "failed"
    await again.close()

    monkeypatch.setattr(journal_log, "write_all", real_write_all)  # the disk has room again
    srv.stop()
    restarted = live_server_factory(fsync=fsync)
    token = await login(restarted.url, "disk")
    async with httpx.AsyncClient(
        base_url=restarted.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        listed = [o["client_order_id"] for o in (await http.get("/api/orders")).json()]
    assert listed == ["kept"]
    c = await OrderClient.connect(restarted.ws_url, token)
    resent = await c.request("order.new", **limit("lost", BTC, "buy", "0.1", "101"))
    assert resent["type"] == "order.ack" and not resent.get("duplicate")
    await c.close()


@pytest.mark.parametrize("fsync", ["off", "batch"])
async def test_a_write_failed_inside_append_releases_nothing_of_its_turn(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, fsync: str
) -> None:
    """``append`` hands a full buffer to the OS itself; when that write fails, the orders
    applied before it in the same turn (or batch) lost their records, so none may be acked,
    and the order whose append failed never reaches the engine (found in review: such a
    failure used to escape without failing closed, and the turn's acks were released)."""
    settings = Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync=fsync)
    node = ExchangeNode(settings)
    node.recover()
    seq = node.sequencer
    await seq.start()
    await seq.submit(t.OpenAccount("a", 10**15, ((BTC, 10**9),), False, 0))
    delivered: list[t.Event] = []
    seq.deliver = lambda events, origin: delivered.extend(events)

    def order(i: int) -> t.NewOrder:
        return t.NewOrder("a", f"s{i}", BTC, "sell", "limit", "0.1", f"{200 + i}")

    events, first = seq.submit_nowait(order(1), None)  # applied, its record buffered
    assert [type(ev) for ev in events][:1] == [t.OrderAccepted] and first is not None

    def disk_full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    real_write_all = journal_log.write_all
    monkeypatch.setattr(journal_log, "write_all", disk_full)
    node.journal.buffer_limit = 0  # the next append writes the buffer out itself
    with pytest.raises(JournalFailed):
        seq.submit_nowait(order(2), None)
    assert node.engine.find_order("a", "s1") is not None  # applied, record lost
    assert node.engine.find_order("a", "s2") is None  # never applied
    with pytest.raises(JournalFailed):
        await first  # the order before it in the turn is not released either
    assert not any(isinstance(ev, t.OrderAccepted) for ev in delivered)
    assert node.failure is not None and isinstance(node.failure, JournalFailed)
    with pytest.raises(JournalFailed):
        await seq.submit(order(3))
    monkeypatch.setattr(journal_log, "write_all", real_write_all)
    await node.stop()


@pytest.mark.parametrize("fsync", ["off", "always"])
async def test_a_lost_market_data_cut_fails_closed_and_recovery_reads_the_journal(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, fsync: str
) -> None:
    """An order submitted on its own is written and released at once, and its market data
    is cut a moment later (``publish_now``). When that cut's write fails, its record is lost:
    the next order must be refused, not journaled after the hole (found in review: it was
    acked, and the restart then refused the journal with a seq gap)."""
    settings = Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync=fsync)
    node = ExchangeNode(settings)
    await node.start()
    await node.submit(t.OpenAccount("a", 10**15, ((BTC, 10**9),), False, 0))
    await asyncio.sleep(0.01)  # the account's own cut is written
    real_write_all = journal_log.write_all
    writes = 0

    def cut_lost(fd: int, data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes == 2:  # the order's record went out; the cut after it does not
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(journal_log, "write_all", cut_lost)
    order = t.NewOrder("a", "s1", BTC, "sell", "limit", "0.1", "200")
    acked = await node.submit(order)
    assert isinstance(acked[0], t.OrderAccepted)
    await asyncio.sleep(0.01)  # the cut runs (and fails) here
    assert isinstance(node.failure, JournalFailed)
    with pytest.raises(JournalFailed):
        await node.submit(t.NewOrder("a", "s2", BTC, "sell", "limit", "0.1", "201"))
    monkeypatch.setattr(journal_log, "write_all", real_write_all)
    await node.stop()
    again = ExchangeNode(settings)
    again.recover()  # no seq gap: nothing was journaled after the lost record
    assert again.engine.find_order("a", "s1") is not None
    assert again.engine.find_order("a", "s2") is None
    again.journal.close()
