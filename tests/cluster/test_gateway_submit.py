"""``RedisReplica.submit`` (a gateway node's backend) against a real redis-server (no engine): an answer that arrives
just as the deadline passes is taken, not turned into ``Unconfirmed`` (which would also leave
the future's exception never retrieved)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from exchange.cluster.gateway_proc import NOT_EXECUTED, RedisReplica, _NotExecuted, gateway_node
from exchange.config import Settings
from exchange.engine import types as t


async def test_a_not_executed_answer_set_as_time_runs_out_is_taken(
    redis_server: Any, tmp_path: Path
) -> None:
    settings = Settings().replace(data_dir=tmp_path / "data", sim_rate=0.0)
    node = gateway_node(settings, redis_server.url, submit_timeout_s=0.0)
    replica = node.backend
    assert isinstance(replica, RedisReplica)

    async def answer() -> None:
        # while submit awaits its XADD (a real round trip), the sequencer's answer arrives
        while not replica._waiting:
            await asyncio.sleep(0)
        fut, _origin = next(iter(replica._waiting.values()))
        fut.set_exception(_NotExecuted("1-0"))

    helper = asyncio.create_task(answer())
    try:
        events = await node.submit(t.CancelAll("late", reason="deadman"))
    finally:
        await helper
        await replica.md_backend.close()
        await replica.redis.aclose()
    assert [type(ev) for ev in events] == [t.OrderRejected]
    assert isinstance(events[0], t.OrderRejected) and events[0].code == NOT_EXECUTED
    assert replica.outcomes == {"executed": 0, "not_executed": 1, "unconfirmed": 0}
