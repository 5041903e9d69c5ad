"""Orders a connection sends together share one group commit, or with fsync off one journal
write per event-loop turn (issue 16).

The reader used to await each order's durability before reading the next frame, so a
connection with 20 orders in flight paid 20 fsync windows in a row. Now the reader hands
each order to the sequencer and goes on; the acks are released, in order, with the batch.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from exchange.config import Settings
from exchange.engine import types as t
from exchange.node import ExchangeNode
from exchange.options import answers_health
from exchange.sequencer import JournalFailed
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"
WINDOW_MS = 300.0
ORDERS = 20


async def test_a_burst_from_one_connection_is_one_group_commit(live_server_factory: Any) -> None:
    srv = live_server_factory(
        fsync="batch", batch_window_ms=WINDOW_MS, conn_burst=1000.0, account_burst=1000.0
    )
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "burst"))
    loop = asyncio.get_running_loop()
    frames = [
        orjson.dumps({"op": "order.new", "req_id": i, **limit(f"b{i}", BTC, "buy", "0.1", "100")})
        for i in range(ORDERS)
    ]
    t0 = loop.time()
    for frame in frames:
        await c.ws.send(frame.decode())
    acks = [await c.reply_to(i, timeout=30) for i in range(ORDERS)]
    took = loop.time() - t0
    assert [a["type"] for a in acks] == ["order.ack"] * ORDERS
    seqs = [a["exec_seq"] for a in acks]
    assert seqs == sorted(seqs) and len(set(seqs)) == ORDERS  # released in order
    # one or two windows (the burst may straddle a commit), never one per order
    assert took < 3 * WINDOW_MS / 1000, f"{ORDERS} orders took {took:.2f} s"
    # and a read after them waits for nothing more: they are all durable
    st = await c.request("order.status", client_order_id=f"b{ORDERS - 1}")
    assert st["type"] == "order.status" and st["status"] == "open"
    await c.close()


async def test_replies_keep_request_order_on_a_connection(live_server_factory: Any) -> None:
    """What follows pipelined orders (a ping, a malformed frame, a status) is answered after
    their replies, never before."""
    srv = live_server_factory(fsync="batch", batch_window_ms=WINDOW_MS)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, "order"))
    new = {"op": "order.new", "req_id": 1, **limit("o1", BTC, "buy", "0.1", "100")}
    await c.ws.send(orjson.dumps(new).decode())
    await c.ws.send('{"op": "ping", "req_id": 2}')
    await c.ws.send("not json")
    await c.ws.send('{"op": "order.status", "req_id": 3, "client_order_id": "o1"}')
    got = [await c.recv(10) for _ in range(4)]
    assert [m["type"] for m in got] == ["order.ack", "pong", "error", "order.status"], got
    assert got[0]["req_id"] == 1 and got[1]["req_id"] == 2 and got[3]["status"] == "open"
    await c.close()


# ---------------------------------------------------------------- fsync off: one write per turn


async def _node(tmp_path: Path) -> tuple[ExchangeNode, list[list[t.Event]], list[int]]:
    """A node with fsync off and account ``a`` open, whose deliveries and journal writes
    from then on are recorded (the real journal still writes: the recorder only counts the
    calls)."""
    node = ExchangeNode(Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync="off"))
    node.recover()
    seq = node.sequencer
    delivered: list[list[t.Event]] = []
    seq.deliver = lambda events, origin: delivered.append(list(events))
    writes: list[int] = []
    real_flush = node.journal.flush

    def flush() -> None:
        writes.append(node.journal.last_seq)
        real_flush()

    node.journal.flush = flush  # type: ignore[method-assign]
    await seq.submit(t.OpenAccount("a", 10**15, ((BTC, 10**9),), False, 0))
    delivered.clear()
    writes.clear()
    return node, delivered, writes


def _order(i: int) -> t.NewOrder:
    return t.NewOrder("a", f"s{i}", BTC, "sell", "limit", "0.1", f"{200 + i}")


async def test_fsync_off_writes_a_turns_orders_once_and_then_releases_them(tmp_path: Path) -> None:
    node, delivered, writes = await _node(tmp_path)
    seq = node.sequencer
    futures = [seq.submit_nowait(_order(i))[1] for i in range(ORDERS)]  # one loop turn
    assert all(f is futures[0] for f in futures) and futures[0] is not None
    assert delivered == [] and writes == []  # nothing leaves before its record is written
    await futures[0]
    assert len(writes) == 1, writes  # the turn's records in one write
    assert writes[0] == node.journal.last_seq  # ... the cut's record among them
    acks = [evs[0] for evs in delivered]
    assert [a.order.client_order_id for a in acks] == [f"s{i}" for i in range(ORDERS)]
    seqs = [a.exec_seq for a in acks]
    assert seqs == sorted(seqs)
    assert not node.engine.has_unpublished()  # the turn's market data went out with it
    await seq.stop()
    node.journal.close()
    again = ExchangeNode(Settings(data_dir=tmp_path / "data", sim_rate=0.0, fsync="off"))
    again.recover()
    assert len(again.engine.open_orders("a")) == ORDERS
    again.journal.close()


async def test_a_turn_whose_write_fails_releases_nothing(tmp_path: Path) -> None:
    node, delivered, _ = await _node(tmp_path)
    seq = node.sequencer

    def broken() -> None:
        raise OSError(28, "No space left on device")

    node.journal.flush = broken  # type: ignore[method-assign]
    _, fut = seq.submit_nowait(_order(0))
    assert fut is not None
    with pytest.raises(JournalFailed, match="No space") as failed:
        await fut
    assert isinstance(failed.value.cause, OSError)
    assert delivered == []  # no ack for an order the journal does not have
    with pytest.raises(JournalFailed):  # and nothing after it (fail-closed)
        seq.submit_nowait(_order(1))
    with pytest.raises(JournalFailed):
        await seq.durable()
    node.journal.close()


async def test_a_turn_that_cannot_cut_fails_its_callers_instead_of_hanging(
    tmp_path: Path,
) -> None:
    node, delivered, _ = await _node(tmp_path)
    seq = node.sequencer

    def broken_cut() -> None:
        raise RuntimeError("the cut failed")

    seq._cut = broken_cut  # type: ignore[method-assign]
    _, fut = seq.submit_nowait(_order(0))
    assert fut is not None
    with pytest.raises(JournalFailed, match="the cut failed"):
        await asyncio.wait_for(fut, 5)
    with pytest.raises(JournalFailed):  # a reader does not wait forever either
        await asyncio.wait_for(seq.durable(), 5)
    assert delivered == [] and seq.unreleased() == []
    node.journal.close()


async def test_a_cancelled_caller_does_not_cancel_the_others_turn(tmp_path: Path) -> None:
    node, delivered, _ = await _node(tmp_path)
    seq = node.sequencer
    loop = asyncio.get_running_loop()
    opened: list[Any] = []
    # run order: open the turn, the waiter joins it, this test cancels the waiter, the turn
    # ends (the turn's end is scheduled when it opens, after the other two)
    loop.call_soon(lambda: opened.append(seq.submit_nowait(_order(0))[1]))
    waiter = asyncio.create_task(seq.submit(_order(1)))
    await asyncio.sleep(0)
    assert len(seq.unreleased()) == 2  # both in the open turn, nothing released
    waiter.cancel()
    reader = asyncio.create_task(seq.durable())
    turn = opened[0]
    await turn
    await reader  # a read barrier waits for the turn, then returns
    assert [evs[0].order.client_order_id for evs in delivered] == ["s0", "s1"]
    assert turn.done() and not turn.cancelled()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await seq.stop()
    node.journal.close()


@pytest.mark.parametrize("fsync", ["off", "batch"])
async def test_a_refusal_never_overtakes_the_ack_of_an_earlier_order(
    live_server_factory: Any, fsync: str
) -> None:
    """Two orders in one write, the second over the connection's rate limit: its
    ``order.reject`` follows the first's ``order.ack`` (found in review: the refusal went
    straight to the outbox while the ack waited for its batch)."""
    srv = live_server_factory(fsync=fsync, batch_window_ms=50.0, conn_burst=1.0, conn_rate=0.5)
    c = await OrderClient.connect(srv.ws_url, await login(srv.url, f"rl{fsync}"))
    frames = [
        orjson.dumps({"op": "order.new", "req_id": i, **limit(f"r{i}", BTC, "buy", "0.1", "100")})
        for i in (1, 2)
    ]
    await asyncio.gather(*(c.ws.send(f.decode()) for f in frames))
    got = [await c.recv(10) for _ in range(2)]
    assert [(m["type"], m.get("req_id")) for m in got] == [("order.ack", 1), ("order.reject", 2)]
    assert got[1]["code"] == "RATE_LIMITED"
    await c.close()


def test_acked_orders_survive_kill_9_with_fsync_off(tmp_path: Path) -> None:
    """Acks released with a turn's single write: a ``kill -9`` after them loses none."""
    data = tmp_path / "data"

    log = tmp_path / "serve.log"

    def serve() -> tuple[subprocess.Popen[bytes], str]:
        port = _free_port()
        with log.open("ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", "serve", "--port", str(port),
                 "--data-dir", str(data), "--sim-rate", "0", "--log-level", "warning",
                 "--fsync", "off"],
                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **_RATES},
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not answers_health(url):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        return proc, url

    async def burst(url: str) -> list[dict[str, Any]]:
        c = await OrderClient.connect(url.replace("http", "ws"), await login(url, "k9"))
        for i in range(ORDERS * 2):
            op = {"op": "order.new", "req_id": i, **limit(f"k{i}", BTC, "buy", "0.1", "100")}
            await c.ws.send(orjson.dumps(op).decode())
        acks = [await c.reply_to(i, timeout=30) for i in range(ORDERS * 2)]
        await c.ws.close()
        return acks

    async def listed(url: str) -> list[str]:
        token = await login(url, "k9")
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            return [o["client_order_id"] for o in (await http.get("/api/orders")).json()]

    proc, url = serve()
    try:
        acks = asyncio.run(burst(url))
        assert [a["type"] for a in acks] == ["order.ack"] * ORDERS * 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc, url = serve()
        assert sorted(asyncio.run(listed(url))) == sorted(a["client_order_id"] for a in acks)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_RATES = {
    "TICKWIRE_CONN_BURST": "10000",
    "TICKWIRE_ACCOUNT_BURST": "10000",
}
