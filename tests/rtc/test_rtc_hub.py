"""The data channels and the server's market-data hub: both channels follow a replaced hub (a
cluster gateway rebuilding it), and closed channels give their hub subscriptions back. Real
server with the simulator, real aiortc client on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from exchange.gateway.rtc import RtcMarketClient
from exchange.hub import MarketHub
from shared.book import L2Book
from tests.rtc.helpers import wait_for


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


async def test_closed_book_channels_give_their_subscriptions_back(live_server_factory: Any) -> None:
    srv = live_server_factory(sim_rate=20.0)
    hub = srv.node.hub
    async with RtcMarketClient(srv.url, channels=["ticker"]) as c:
        assert c.pc is not None
        await wait_for(lambda: rtc_subscribers(hub) == 1)  # the ticker channel's
        for i in range(8):  # more than MAX_CHANNELS opened in turn, each closed again
            book = c.pc.createDataChannel("book")
            got: asyncio.Queue[str] = asyncio.Queue()
            book.on("message", got.put_nowait)
            opened = asyncio.Event()
            book.on("open", opened.set)
            await asyncio.wait_for(opened.wait(), 30)
            book.send(orjson.dumps({"op": "subscribe", "req_id": i, "symbols": ["BTC-USD"]}))
            reply = orjson.loads(await asyncio.wait_for(got.get(), 30))
            assert reply["type"] == "subscribed", reply  # not refused: the closed ones left
            assert rtc_subscribers(hub) == 2
            book.close()
            await wait_for(lambda: rtc_subscribers(hub) == 1)  # the book one is gone
        peer = next(iter(srv.app.state.rtc_peers.peers))
        assert [ch.label for ch in peer.channels] == ["ticker"]
        assert c.closed_reason is None  # the ticker channel kept the peer
