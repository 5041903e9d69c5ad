"""Commands that reach the sequencer twice: a ``tw:cmd`` entry resent under a new id (redis-py
retries an XADD whose reply timed out after Redis applied it) runs once, before and after a
sequencer restart, and a fence naming the resent id is not answered "not executed"."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import redis.asyncio as aioredis

from exchange.cluster.bus import CmdEntry, FenceEntry
from exchange.cluster.cluster import Cluster
from exchange.engine.types import CancelAll
from tests.cluster.helpers import eventually


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
