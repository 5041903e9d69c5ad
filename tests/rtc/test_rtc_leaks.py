"""No leak over 100 WebRTC connects and disconnects: the open-peers gauge returns to 0 and
the process (server and client share it) keeps its file descriptors, threads and memory."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import threading
from typing import Any

import httpx
import pytest

from exchange.gateway.rtc import RtcMarketClient

CYCLES = 100


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def gauge(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    m = re.search(r"^tickwire_rtc_peer_connections (\S+)$", text, re.M)
    assert m
    return float(m.group(1))


async def settle(srv: Any) -> None:
    peers = srv.app.state.rtc_peers
    deadline = asyncio.get_running_loop().time() + 30
    while len(peers):
        assert asyncio.get_running_loop().time() < deadline, f"{len(peers)} peers left open"
        await asyncio.sleep(0.05)
    gc.collect()


@pytest.mark.slow  # a long end-to-end run (make test-fast skips it)
async def test_no_leak_over_100_connects_and_disconnects(live_server_factory: Any) -> None:
    # back-to-back sessions from one address: the offer rate limit is not what is measured
    srv = live_server_factory(sim_rate=20.0, rtc_offer_rate=0.0)

    async def session() -> None:
        async with RtcMarketClient(srv.url) as c:
            async with asyncio.timeout(30):
                async for channel, _msg in c:
                    if channel == "book" and c.stats.messages.get("book", 0) >= 3:
                        break

    for _ in range(5):  # warm-up: imports, caches, first allocations
        await session()
    await settle(srv)
    fds, threads, rss = fd_count(), threading.active_count(), rss_mib()
    for _ in range(CYCLES):
        await session()
    await settle(srv)
    assert gauge(srv.url) == 0
    # each peer holds sockets (UDP for ICE) and a few tasks: 100 leaked ones would show
    assert fd_count() <= fds + 5, (fds, fd_count())
    assert threading.active_count() <= threads + 1
    assert rss_mib() <= rss + 48, (rss, rss_mib())
    offers = re.search(r'^tickwire_rtc_offers_total\{outcome="answered"\} (\S+)$',
                       httpx.get(f"{srv.url}/metrics").text, re.M)  # fmt: skip
    assert offers and float(offers.group(1)) == CYCLES + 5
