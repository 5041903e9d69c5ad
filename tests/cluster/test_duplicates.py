"""Commands that reach the sequencer twice or not at all: a ``tw:cmd`` entry resent under a
new id (redis-py retries an XADD whose reply timed out after Redis applied it) runs once,
before and after a sequencer restart, and a fence naming the resent id is not answered "not
executed"; a dead-man's cancel-all lost in an outage is sent again until it runs."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import redis.asyncio as aioredis

from exchange.cluster.bus import CmdEntry, FenceEntry
from exchange.cluster.cluster import Cluster
from exchange.engine.types import CancelAll
from tests.cluster.helpers import eventually, ws
from tests.gateway.helpers import OrderClient, limit, login


async def _seq_entries(r: Any, gateway: str) -> list[str]:
    """The corr ids of ``tw:seq`` entries answering ``gateway``, in order."""
    entries = await r.xrevrange("tw:seq", count=2000)
    return [f[b"c"].decode() for _eid, f in reversed(entries) if f.get(b"g") == gateway.encode()]


async def test_an_entry_resent_with_the_same_gateway_and_corr_runs_once(cluster: Cluster) -> None:
    r: Any = aioredis.from_url(cluster.redis_url)
    gateway = f"test-{secrets.token_hex(4)}"
    cmd = CancelAll("dup-acct", reason="deadman")
    add = lambda fields: r.xadd("tw:cmd", fields)  # noqa: E731
    try:
        await add(CmdEntry(gateway, "1", cmd).fields())
        resent = (await add(CmdEntry(gateway, "1", cmd).fields())).decode()
        await add(FenceEntry(gateway, "1", resent).fields())  # the gateway knows the new id
        await add(CmdEntry(gateway, "2", cmd).fields())  # a later command: a marker
        await eventually(lambda: _has(r, gateway, "2"), "the marker in tw:seq")
        assert await _seq_entries(r, gateway) == ["1", "2"]
        nx = await r.xrevrange("tw:nx", count=2000)
        assert not [f for _eid, f in nx if f.get(b"g") == gateway.encode()], nx

        # resent again while the sequencer is down: the restarted one rebuilds the pairs
        # from its journal and still runs it once
        await asyncio.to_thread(cluster.stop_engine)
        try:
            await add(CmdEntry(gateway, "1", cmd).fields())
            await add(CmdEntry(gateway, "3", cmd).fields())
        finally:
            await asyncio.to_thread(cluster.start_engine_and_wait)
        await eventually(lambda: _has(r, gateway, "3"), "the second marker in tw:seq")
        assert await _seq_entries(r, gateway) == ["1", "2", "3"]
    finally:
        await r.aclose()


async def _has(r: Any, gateway: str, corr: str) -> bool:
    return corr in await _seq_entries(r, gateway)


async def _open_orders(url: str, token: str) -> list[Any]:
    async with httpx.AsyncClient(timeout=20) as http:
        r = await http.get(f"{url}/api/orders", headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        body: list[Any] = r.json()
        return body


async def _deadman_entries(r: Any, account: bytes) -> list[bytes]:
    entries = await r.xrevrange("tw:cmd", count=500)
    return [eid for eid, f in entries if b"deadman" in f.get(b"p", b"") and account in f[b"p"]]


async def test_a_deadman_cancel_all_lost_in_a_sequencer_outage_is_sent_again(
    cluster: Cluster,
) -> None:
    """The dead-man's switch fires while the engine is down and its cancel-all is lost (the
    gateway gets NOT_EXECUTED once the engine is back): the gateway sends it again until it
    runs, so the account's orders are canceled. (Gateway 1: test_faults counts gateway 0's
    NOT_EXECUTED outcomes.)"""
    url = cluster.gateway_url(1)
    account = f"dms-{secrets.token_hex(3)}"
    token = await login(url, account)
    c = await OrderClient.connect(ws(url), token)
    ack = await c.request("order.new", timeout=60, **limit("dms-1", "ETH-USD", "buy", "1", "1.00"))
    assert ack["type"] == "order.ack", ack
    r: Any = aioredis.from_url(cluster.redis_url)
    await asyncio.to_thread(cluster.stop_engine)
    try:
        assert (await c.request("deadman", timeout=30, timeout_ms=200))["type"] == "deadman.set"
        # quiet from here on: the switch fires once, its cancel-all waits in tw:cmd
        await eventually(lambda: _async_bool(_deadman_entries(r, account.encode())), "cancel-all")
        lost = await _deadman_entries(r, account.encode())
        assert await r.xdel("tw:cmd", *lost) == len(lost) == 1  # lost, as in a Redis restart
    finally:
        await asyncio.to_thread(cluster.start_engine_and_wait)
    await eventually(lambda: _async_bool(_deadman_entries(r, account.encode())), "a resend")
    await eventually(
        lambda: _async_not(_open_orders(url, token)), "the order canceled by the dead-man"
    )
    status = await c.request("order.status", timeout=60, client_order_id="dms-1")
    assert status["status"] == "canceled", status
    await c.close()
    await r.aclose()


async def _async_bool(value: Any) -> bool:
    return bool(await value)


async def _async_not(value: Any) -> bool:
    return not await value


async def test_a_login_lost_in_a_sequencer_outage_is_503_without_a_token(
    cluster: Cluster,
) -> None:
    """``/api/sessions`` for a new account while the engine is down, its OpenAccount lost:
    503 NOT_EXECUTED and no token (a token for an account that does not exist is useless)."""
    url = cluster.gateway_url(1)
    account = f"nx-{secrets.token_hex(3)}"
    r: Any = aioredis.from_url(cluster.redis_url)
    async with httpx.AsyncClient(timeout=180) as http:
        await asyncio.to_thread(cluster.stop_engine)
        try:
            login_task = asyncio.create_task(
                http.post(f"{url}/api/sessions", json={"account": account})
            )

            async def opened() -> list[bytes]:
                entries = await r.xrevrange("tw:cmd", count=500)
                return [eid for eid, f in entries if account.encode() in f.get(b"p", b"")]

            await eventually(lambda: _async_bool(opened()), "the OpenAccount in tw:cmd")
            assert await r.xdel("tw:cmd", *await opened()) == 1
        finally:
            await asyncio.to_thread(cluster.start_engine_and_wait)
        resp = await login_task
        assert resp.status_code == 503, resp.text
        assert resp.json()["code"] == "NOT_EXECUTED" and "token" not in resp.json()
        again = await http.post(f"{url}/api/sessions", json={"account": account})
        assert again.status_code == 200 and again.json()["token"]
    await r.aclose()
