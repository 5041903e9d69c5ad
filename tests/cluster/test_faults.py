"""Faults on a real cluster: Redis unreachable at start, the sequencer killed and restarted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exchange.cluster.cluster import REPO, Cluster, free_port
from tests.gateway.helpers import OrderClient, limit, login


@pytest.mark.parametrize("command", ["engine", "gateway"])
def test_unreachable_redis_is_a_clear_error_and_status_1(command: str, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    args = [sys.executable, "-m", "exchange.cli", command, "--redis", url,
            "--data-dir", str(tmp_path / "d"), "--port", str(free_port())]  # fmt: skip
    done = subprocess.run(args, cwd=REPO, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot reach Redis at {url}" in done.stdout.decode(), done


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("faults"), 2, sim_rate=5.0)
    c.start()
    yield c
    c.stop()


def ws(url: str) -> str:
    return url.replace("http://", "ws://")


async def account(url: str, token: str) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{url}/api/account", headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        body: dict[str, object] = r.json()
        return body


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "kill9"])
async def test_sequencer_restart_keeps_what_was_acknowledged(cluster: Cluster, kill: bool) -> None:
    name = "kill" if kill else "term"
    token = await login(cluster.gateway_url(0), f"seq-{name}")
    a = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    acks = [
        await a.request("order.new", timeout=15, **limit(f"{name}-{i}", "ETH-USD", "buy", "1", f"{i}.00"))
        for i in range(1, 4)
    ]  # fmt: skip
    assert all(m["type"] == "order.ack" and not m["duplicate"] for m in acks), acks
    await a.close()

    cluster.restart_engine(kill=kill)

    b = await OrderClient.connect(ws(cluster.gateway_url(1)), token)
    try:
        # acknowledged before the restart: still there (a retry is a duplicate of the same order)
        for ack in acks:
            again = await b.request(
                "order.new", timeout=20,
                **limit(ack["client_order_id"], "ETH-USD", "buy", "1", ack["price"]),
            )  # fmt: skip
            assert again["duplicate"] and again["order_id"] == ack["order_id"], again
        fresh = await b.request("order.new", timeout=20, **limit(f"{name}-4", "ETH-USD", "buy", "1", "4.00"))  # fmt: skip
        assert fresh["type"] == "order.ack" and not fresh["duplicate"], fresh
        assert fresh["exec_seq"] == acks[-1]["exec_seq"] + 1  # nothing lost, nothing doubled
    finally:
        await b.close()
    # both replicas agree with each other after the restart
    views = [await account(cluster.gateway_url(i), token) for i in (0, 1)]
    assert views[0] == views[1]
    assert views[0]["latest_exec_seq"] == fresh["exec_seq"]


async def test_redis_restart_with_persistence_everyone_reconnects(cluster: Cluster) -> None:
    token = await login(cluster.gateway_url(0), "redis-restart")
    a = await OrderClient.connect(ws(cluster.gateway_url(0)), token)
    first = await a.request("order.new", timeout=15, **limit("rr-1", "BTC-USD", "buy", "1", "5.00"))
    await a.close()
    assert first["type"] == "order.ack"

    cluster.restart_redis()  # AOF on: the streams come back

    # gateways and the engine reconnect by themselves; both replicas keep following
    b = await OrderClient.connect(ws(cluster.gateway_url(1)), token)
    try:
        again = await b.request("order.new", timeout=20, **limit("rr-1", "BTC-USD", "buy", "1", "5.00"))  # fmt: skip
        assert again["duplicate"] and again["order_id"] == first["order_id"], again
        fresh = await b.request("order.new", timeout=20, **limit("rr-2", "BTC-USD", "buy", "1", "6.00"))  # fmt: skip
        assert fresh["type"] == "order.ack" and fresh["exec_seq"] == first["exec_seq"] + 1
    finally:
        await b.close()
    views = [await account(cluster.gateway_url(i), token) for i in (0, 1)]
    assert views[0] == views[1]
    assert views[0]["latest_exec_seq"] == fresh["exec_seq"]
