"""The data channels and the server's market-data hub: both channels follow a replaced hub (a
cluster gateway rebuilding it), and closed channels give their hub subscriptions back. Real
server with the simulator, real aiortc client on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

from exchange.hub import MarketHub
from exchange.rtc import RtcMarketClient
from shared.book import L2Book


def on_server(srv: Any, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, srv.node.loop).result(30)


async def replace_hub(node: Any) -> tuple[Any, Any]:
    """What a cluster gateway does after a gap in tw:md: a new hub from the old one's state,
    then the old one closed (every subscription ends with ``hub_closed``)."""
    old = node.hub
    node.hub = MarketHub.from_state(old.to_state())
    old.close()
    return old, node.hub


def rtc_subscribers(hub: Any) -> int:
    return int(hub.stats.subscribers["rtc"])


async def test_both_channels_follow_a_replaced_hub(live_server_factory: Any) -> None:
    srv = live_server_factory(sim_rate=50.0)
    async with RtcMarketClient(srv.url, symbols=["BTC-USD"]) as c:
        book = L2Book("BTC-USD")
        counts = {"ticker": 0, "book": 0}

        async def read(ticker: int, events: int) -> None:
            """Until ``ticker`` tickers and ``events`` book messages more have arrived."""
            want = {"ticker": counts["ticker"] + ticker, "book": counts["book"] + events}
            async with asyncio.timeout(60):
                async for channel, msg in c:
                    if channel == "book" and msg["type"] == "md.snapshot":
                        book.apply_snapshot(msg["data"])
                    elif channel == "book" and msg["type"] == "md.book":
                        book.apply_delta(msg["data"])  # raises on a gap or a wrong checksum
                    if msg["type"].startswith("md."):
                        counts[channel] += 1
                    if all(counts[k] >= want[k] for k in want):
                        return

        await read(2, 5)
        old, new = on_server(srv, replace_hub(srv.node))
        assert rtc_subscribers(old) == 0
        await read(3, 10)  # without following, both channels went silent here
        assert rtc_subscribers(new) == 2  # one per channel, nothing left behind
        assert c.closed_reason is None
