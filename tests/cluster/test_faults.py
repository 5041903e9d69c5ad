"""Faults on the package's real cluster: Redis unreachable at start, the sequencer killed and
restarted (commands in flight, a replayed ``orders.cancel_all``), a lost command answered as
not executed, Redis restarted with and without persistence. Each test leaves the cluster
running; the one that empties Redis runs last."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from httpx_sse import aconnect_sse

from exchange.cluster.cluster import REPO, Cluster, free_port
from exchange.journal import meta as meta_store
from shared.book import L2Book
from tests.cluster.helpers import account, eventually, offset, read_sse, ws
from tests.gateway.helpers import OrderClient, limit, login


@pytest.mark.parametrize("command", ["engine", "gateway"])
def test_unreachable_redis_is_a_clear_error_and_status_1(command: str, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    args = [sys.executable, "-m", "exchange.cli", command, "--redis", url,
            "--data-dir", str(tmp_path / "d"), "--port", str(free_port())]  # fmt: skip
    done = subprocess.run(args, cwd=REPO, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot reach Redis at {url}" in done.stdout.decode(), done


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "kill9"])
async def test_sequencer_restart_keeps_what_was_acknowledged(cluster: Cluster, kill: bool) -> None:
    name = "kill" if kill else "term"
    token = await login(cluster.gateway_url(0), f"seq-{name}")
    a = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    acks = [
        await a.request("order.new", timeout=30, **limit(f"{name}-{i}", "ETH-USD", "buy", "1", f"{i}.00"))
        for i in range(1, 4)
    ]  # fmt: skip
    assert all(m["type"] == "order.ack" and not m["duplicate"] for m in acks), acks
    await a.close()

    await asyncio.to_thread(cluster.restart_engine, kill=kill)

    b = await OrderClient.connect(ws(cluster.gateway_url(1)), token)
    try:
        # acknowledged before the restart: still there (a retry is a duplicate of the same order)
        for ack in acks:
            again = await b.request(
                "order.new", timeout=60,
                **limit(ack["client_order_id"], "ETH-USD", "buy", "1", ack["price"]),
            )  # fmt: skip
            assert again["duplicate"] and again["order_id"] == ack["order_id"], again
        fresh = await b.request("order.new", timeout=60, **limit(f"{name}-4", "ETH-USD", "buy", "1", "4.00"))  # fmt: skip
        assert fresh["type"] == "order.ack" and not fresh["duplicate"], fresh
        assert fresh["exec_seq"] == acks[-1]["exec_seq"] + 1  # nothing lost, nothing doubled
    finally:
        await b.close()
    await replicas_agree(cluster, token, fresh["exec_seq"])


async def replicas_agree(cluster: Cluster, token: str, exec_seq: int) -> None:
    """Both gateways' replicas show the account at ``exec_seq``, identically."""

    async def same() -> bool:
        views = [await account(cluster.gateway_url(i), token) for i in (0, 1)]
        return views[0] == views[1] and views[0]["latest_exec_seq"] == exec_seq

    await eventually(same, "both replicas to agree")


async def test_a_cancel_all_read_again_after_kill_9_is_not_run_twice(cluster: Cluster) -> None:
    token = await login(cluster.gateway_url(0), "replay")
    c = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    order = lambda key, px: limit(key, "SOL-USD", "buy", "1", px)  # noqa: E731
    for key, px in [("rp-1", "1.00"), ("rp-2", "2.00")]:
        assert (await c.request("order.new", timeout=30, **order(key, px)))["type"] == "order.ack"
    done = await c.request("orders.cancel_all", timeout=30)
    assert done == {"type": "orders.canceled_all", "req_id": done["req_id"], "count": 2}, done
    after = [await c.request("order.new", timeout=30, **order(k, p)) for k, p in [("rp-3", "3.00"), ("rp-4", "4.00")]]  # fmt: skip
    await c.close()

    # kill -9, then rewind the tw:cmd id kept in meta.json to the very start: every entry
    # of tw:cmd is read again, the cancel_all included; only the journal can tell what ran
    await asyncio.to_thread(cluster.stop_engine, kill=True)
    meta = meta_store.load_or_create(cluster.data_dir)
    meta_store.save(cluster.data_dir, meta.with_values(redis_cmd_id="0-0"))
    await asyncio.to_thread(cluster.start_engine_and_wait)

    d = await OrderClient.connect(ws(cluster.gateway_url(1)), token)
    try:
        for ack in after:  # placed after the cancel_all: still open
            status = await d.request("order.status", timeout=30, client_order_id=ack["client_order_id"])  # fmt: skip
            assert status["status"] == "open", status
        fresh = await d.request("order.new", timeout=60, **order("rp-5", "5.00"))
        assert fresh["type"] == "order.ack" and fresh["exec_seq"] == after[-1]["exec_seq"] + 1
    finally:
        await d.close()
    await replicas_agree(cluster, token, fresh["exec_seq"])


async def cmd_entries(cluster: Cluster, needle: bytes) -> list[str]:
    """Ids of ``tw:cmd`` entries whose command contains ``needle``."""
    r: Any = aioredis.from_url(cluster.redis_url)
    try:
        entries = await r.xrevrange("tw:cmd", count=200)
        return [eid.decode() for eid, f in entries if needle in f.get(b"p", b"")]
    finally:
        await r.aclose()


async def test_a_command_sent_while_the_sequencer_is_down_runs_once_it_is_back(
    cluster: Cluster,
) -> None:
    token = await login(cluster.gateway_url(0), "down")
    c = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    await asyncio.to_thread(cluster.stop_engine)
    try:
        await c.send({"op": "order.new", "req_id": "w1", **limit("dn-1", "BTC-USD", "buy", "1", "3.00")})  # fmt: skip
        await eventually(lambda: _has(cluster, b"dn-1"), "the command in tw:cmd")
    finally:
        await asyncio.to_thread(cluster.start_engine_and_wait)
    reply = await c.reply_to("w1", timeout=120)  # the answer arrives after the recovery
    assert reply["type"] == "order.ack" and not reply["duplicate"], reply
    again = await c.request("order.new", timeout=30, **limit("dn-1", "BTC-USD", "buy", "1", "3.00"))
    assert again["duplicate"] and again["order_id"] == reply["order_id"], again
    await c.close()


async def _has(cluster: Cluster, needle: bytes) -> bool:
    return bool(await cmd_entries(cluster, needle))


async def test_a_command_lost_while_the_sequencer_was_down_is_answered_not_executed(
    cluster: Cluster,
) -> None:
    token = await login(cluster.gateway_url(0), "lost")
    c = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    order = limit("lost-1", "BTC-USD", "buy", "1", "4.00")
    await asyncio.to_thread(cluster.stop_engine)
    try:
        await c.send({"op": "order.new", "req_id": "l1", **order})
        await eventually(lambda: _has(cluster, b"lost-1"), "the command in tw:cmd")
        r = aioredis.from_url(cluster.redis_url)  # the entry is lost (as in a Redis restart)
        assert await r.xdel("tw:cmd", *await cmd_entries(cluster, b"lost-1")) == 1
        await r.aclose()
    finally:
        await asyncio.to_thread(cluster.start_engine_and_wait)
    # the gateway's fence reaches the engine after the lost entry's place: not executed
    reply = await c.reply_to("l1", timeout=120)
    assert reply["type"] == "order.reject" and reply["code"] == "NOT_EXECUTED", reply
    # nothing was placed and the key is not used up: the retry places exactly one order
    retry = await c.request("order.new", timeout=30, **order)
    assert retry["type"] == "order.ack" and not retry["duplicate"], retry
    again = await c.request("order.new", timeout=30, **order)
    assert again["duplicate"] and again["order_id"] == retry["order_id"]
    await c.close()
    async with httpx.AsyncClient(timeout=20) as http:
        body = (await http.get(f"{cluster.gateway_url(0)}/metrics")).text
    assert 'tickwire_cluster_submit_outcomes{outcome="not_executed"} 1.0' in body
    for gauge in ("tickwire_cluster_cmd_xadds", "tickwire_cluster_pending_submits",
                  "tickwire_cluster_replica_seq", 'tickwire_cluster_follower_lag{stream="tw:md"}',
                  'tickwire_cluster_engine{stat="seq_queue"}'):  # fmt: skip
        assert gauge in body, gauge


async def test_redis_restart_with_persistence_everyone_reconnects(cluster: Cluster) -> None:
    token = await login(cluster.gateway_url(0), "redis-restart")
    a = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    first = await a.request("order.new", timeout=30, **limit("rr-1", "BTC-USD", "buy", "1", "5.00"))
    await a.close()
    assert first["type"] == "order.ack"

    await asyncio.to_thread(cluster.restart_redis)  # AOF on: the streams come back

    # gateways and the engine reconnect by themselves; both replicas keep following
    b = await OrderClient.connect(ws(cluster.gateway_url(1)), token)
    try:
        again = await b.request("order.new", timeout=60, **limit("rr-1", "BTC-USD", "buy", "1", "5.00"))  # fmt: skip
        assert again["duplicate"] and again["order_id"] == first["order_id"], again
        fresh = await b.request("order.new", timeout=60, **limit("rr-2", "BTC-USD", "buy", "1", "6.00"))  # fmt: skip
        assert fresh["type"] == "order.ack" and fresh["exec_seq"] == first["exec_seq"] + 1
    finally:
        await b.close()
    await replicas_agree(cluster, token, fresh["exec_seq"])


async def test_redis_restarted_empty_clients_continue_exactly(cluster: Cluster) -> None:
    """Last: Redis comes back without its data (no persistence). The engine rewrites
    ``tw:meta``, ``tw:snap`` and its retained market data with the same epoch and ids, so an
    SSE client through HAProxy continues exactly (no gap, no reset) and books stay exact."""
    token = await login(cluster.gateway_url(0), "empty")
    a = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    first = await a.request("order.new", timeout=30, **limit("em-1", "BTC-USD", "buy", "1", "7.00"))  # fmt: skip
    assert first["type"] == "order.ack", first
    await a.close()
    events: list[tuple[str, str, dict[str, Any]]] = []
    books: dict[str, L2Book] = {}
    restarted = asyncio.Event()
    mark = [0]  # len(events) when Redis came back

    async def stream() -> None:
        async with (
            httpx.AsyncClient(timeout=60) as http,
            aconnect_sse(http, "GET", f"{cluster.url}/md/stream") as es,
        ):
            async for sse in es.aiter_sse():
                if not sse.data:
                    continue
                data = orjson.loads(sse.data)
                events.append((sse.id, sse.event, data))
                if sse.event == "snapshot":
                    books.setdefault(data["symbol"], L2Book()).apply_snapshot(data)
                elif sse.event == "book":
                    books[data["symbol"]].apply_delta(data)  # raises on a gap or bad checksum
                if restarted.is_set() and sum(e[1] == "book" for e in events[mark[0] :]) > 20:
                    return

    reader = asyncio.create_task(stream())
    await eventually(lambda: _async(len(events) > 10), "events before the restart")
    before = events[-1][0]
    await asyncio.to_thread(cluster.stop_redis)
    gw_log = cluster.logs / "gateway0.log"
    await eventually(lambda: _async(b"Redis unreachable" in gw_log.read_bytes()), "a log line")
    await asyncio.to_thread(cluster.restart_redis, persistence=False)  # back, and empty
    mark[0] = len(events)
    restarted.set()
    await asyncio.wait_for(reader, 180)
    assert not [e for e in events if e[1] == "reset"]
    ids = [e[0] for e in events if e[1] != "snapshot"]
    assert [offset(i) for i in ids] == list(range(offset(ids[0]), offset(ids[0]) + len(ids)))
    assert len({i.split("-")[0] for i in ids}) == 1, "one epoch"
    assert offset(events[-1][0]) > offset(before) + 10  # it went on well past the restart
    # a reader resuming on the other gateway from before the restart gets the same events
    tail = [e for e in events if offset(e[0]) > offset(before)][:20]
    again = await read_sse(cluster.gateway_url(1), before, len(tail))
    assert again[: len(tail)] == tail
    engine_log = (cluster.logs / "engine.log").read_bytes()
    assert b"Redis lost its data" in engine_log and b"writing the" in engine_log
    assert b"Redis is back" in gw_log.read_bytes()
    # orders: a retry is a duplicate (the key lives in the engine's journal), a new one works
    b = await OrderClient.connect(ws(cluster.url), token)
    try:
        again_ack = await b.request("order.new", timeout=60, **limit("em-1", "BTC-USD", "buy", "1", "7.00"))  # fmt: skip
        assert again_ack["duplicate"] and again_ack["order_id"] == first["order_id"], again_ack
        fresh = await b.request("order.new", timeout=60, **limit("em-2", "BTC-USD", "buy", "1", "8.00"))  # fmt: skip
        assert fresh["type"] == "order.ack" and fresh["exec_seq"] == first["exec_seq"] + 1, fresh
    finally:
        await b.close()
    await replicas_agree(cluster, token, fresh["exec_seq"])


async def _async(value: bool) -> bool:
    return value
