"""Snapshots never stall the server (issue 18 item 3).

Serializing the engine inline took ~1 s at 50,000 resting orders, and every connection froze
for as long. The node now forks: the child serializes its copy-on-write image. Measured here
against the inline cost of the same state in the same run (a ratio, not a clock), then the
server is restarted from that snapshot.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from exchange.engine import types as t
from exchange.journal.snapshot import list_snapshots
from exchange.node.local import _pack_snapshot
from tests.gateway.helpers import login
from tests.gateway.test_orders_ws import open_orders

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

BTC = "BTC-USD"
RESTING = 15_000


async def populate(node: Any) -> None:
    await node.ensure_account("maker")
    for start in range(0, RESTING, 500):  # 500 in flight: one group commit each
        await asyncio.gather(
            *(
                node.submit(t.NewOrder("maker", f"m{i}", BTC, "sell", "limit", "0.0001", price))
                for i in range(start, start + 500)
                # far above the market: they all rest
                if (price := f"{900_000 + i % 2_000}.00")
            )
        )


def on_server(srv: Any, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, srv.node.loop).result(120)


async def measure(node: Any) -> dict[str, float]:
    t0 = time.perf_counter()
    _pack_snapshot(node.engine.to_snapshot(), node.hub.to_state())
    inline = time.perf_counter() - t0
    t0 = time.perf_counter()
    node.backend.write_snapshot()
    call = time.perf_counter() - t0
    assert node.backend._snapshot_job is not None, "the snapshot was not forked"
    # the loop's worst turn, in wall time and in the loop thread's own CPU time: a loop that
    # serialized the state would burn CPU for the whole turn, while one that was only
    # descheduled (4 test workers on 2 cores, the child busy) burns almost none
    worst = worst_cpu = 0.0
    last, last_cpu = time.perf_counter(), time.thread_time()
    deadline = last + 60
    while node.backend._snapshot_job is not None and last < deadline:
        await asyncio.sleep(0.001)
        now, now_cpu = time.perf_counter(), time.thread_time()
        worst, last = max(worst, now - last), now
        worst_cpu, last_cpu = max(worst_cpu, now_cpu - last_cpu), now_cpu
    assert node.backend._snapshot_job is None, "the snapshot child did not finish"
    print(f"inline {inline * 1e3:.1f} ms, fork call {call * 1e3:.2f} ms, worst gap "
          f"{worst * 1e3:.1f} ms ({worst_cpu * 1e3:.1f} ms of the loop's CPU)")  # fmt: skip
    return {"inline": inline, "call": call, "worst_gap": worst, "worst_cpu": worst_cpu}


async def test_a_forked_snapshot_keeps_the_loop_free_and_recovers(
    live_server_factory: Any, tmp_path: Any
) -> None:
    data = tmp_path / "snap"
    srv = live_server_factory(data_dir=data, fsync="batch", snapshot_every=10**9)
    on_server(srv, populate(srv.node))
    seq = srv.node.journal.last_seq
    m = on_server(srv, measure(srv.node))
    assert m["inline"] > 0.02, m  # enough state that an inline snapshot is a visible stall
    assert m["call"] < m["inline"] / 4, m
    assert m["worst_cpu"] < m["inline"] / 2, m  # the loop never did the snapshot's work
    snaps = list_snapshots(data / "journal")
    assert [s for s, _ in snaps] == [seq]
    srv.stop()

    again = live_server_factory(data_dir=data, fsync="batch")
    token = await login(again.url, "maker")
    orders = await open_orders(again, token)
    assert len(orders) == RESTING
