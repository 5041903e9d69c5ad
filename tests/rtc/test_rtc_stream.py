"""Market data over WebRTC data channels, end to end: a real uvicorn server with the simulator,
a real aiortc client (``RtcMarketClient``) on loopback."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import orjson
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from exchange.gateway.rtc import RtcMarketClient
from exchange.gateway.rtc.ice import gather_addresses, ice_configuration
from shared.book import L2Book

SYMBOLS = {"BTC-USD", "ETH-USD", "SOL-USD"}
ALL = ["book", "trades", "ticker", "candles", "status"]


def offset(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


@pytest.fixture
def market(live_server_factory: Any) -> Any:
    return live_server_factory(sim_rate=50.0)


async def test_ticker_and_book_arrive_on_their_channels(market: Any) -> None:
    async with RtcMarketClient(market.url, symbols=["BTC-USD", "ETH-USD"]) as c:
        assert c.channels["ticker"].ordered is False
        assert c.channels["ticker"].maxRetransmits == 0
        assert c.channels["book"].ordered is True
        tickers: list[dict[str, Any]] = []
        book: list[dict[str, Any]] = []
        async with asyncio.timeout(30):
            async for channel, msg in c:
                (tickers if channel == "ticker" else book).append(msg)
                if len(tickers) >= 5 and len(book) >= 10:
                    break
        wire = c.wire_stats()
        # DTLS records carry the messages plus SCTP and DTLS framing
        assert wire["bytes_received"] > sum(c.stats.bytes.values())
        assert wire["packets_received"] > 0 and wire["bytes_sent"] > 0
    assert book[0] == {
        "type": "subscribed",
        "req_id": 1,
        "channels": ["book"],
        "symbols": ["BTC-USD", "ETH-USD"],
    }
    snaps = [m for m in book if m["type"] == "md.snapshot"]
    assert {s["data"]["symbol"] for s in snaps} == {"BTC-USD", "ETH-USD"}
    assert {m["type"] for m in book[1:]} <= {"md.snapshot", "md.book"}
    for msg in tickers:
        assert msg["type"] == "md.ticker" and set(msg) == {"type", "id", "data"}
        assert msg["data"]["symbol"] in {"BTC-USD", "ETH-USD"}
        assert {"bid", "ask", "last", "ts"} <= set(msg["data"])
    assert c.stats.messages["ticker"] >= len(tickers)
    assert c.stats.connect_s is not None and c.stats.errors == 0


async def test_book_checksum_matches_every_delta_and_the_server(market: Any) -> None:
    books: dict[str, L2Book] = {}
    deltas = 0
    async with RtcMarketClient(market.url, channels=["book"]) as c, httpx.AsyncClient() as http:
        async with asyncio.timeout(60):
            async for _, msg in c:
                kind, data = msg["type"], msg.get("data")
                if kind == "md.snapshot":
                    books[data["symbol"]] = L2Book(data["symbol"])
                    books[data["symbol"]].apply_snapshot(data)
                    assert books[data["symbol"]].checksum() == data["checksum"]
                elif kind == "md.book":
                    books[data["symbol"]].apply_delta(data)  # raises on a gap or bad checksum
                    assert books[data["symbol"]].checksum() == data["checksum"]
                    deltas += 1
                    if deltas == 100:
                        break
            # the server's book (what REST serves) is at or ahead of ours: catch up, compare
            rest = (await http.get(f"{market.url}/api/book/BTC-USD")).json()
            while books["BTC-USD"].seq < rest["seq"]:
                _, msg = await c.next()
                if msg["type"] == "md.book":
                    books[msg["data"]["symbol"]].apply_delta(msg["data"])
    assert set(books) == SYMBOLS
    assert books["BTC-USD"].seq == rest["seq"]
    assert books["BTC-USD"].checksum() == rest["checksum"]


async def test_resume_on_the_book_channel_gives_exactly_the_missed_events(market: Any) -> None:
    # a reader that never disconnected: the reference
    async def read(after: str | None, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with (
            RtcMarketClient(market.url, channels=["book"], book_channels=ALL, after=after) as c,
            asyncio.timeout(60),
        ):
            async for _, msg in c:
                if msg["type"].startswith("md.") and msg["type"] != "md.snapshot":
                    out.append(msg)
                    if len(out) == n:
                        break
                elif msg["type"] == "md.snapshot":
                    assert after is None, "resume must not resend snapshots"
        return out

    first = await read(None, 20)
    await asyncio.sleep(0.5)  # events go by while we are away
    second = await read(first[-1]["id"], 40)
    assert all(m["type"] != "md.reset" for m in second)
    offsets = [offset(m["id"]) for m in first + second]
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), "gap or duplicate"
    start = f"{first[0]['id'].rsplit('-', 1)[0]}-{offsets[0] - 1}"
    reference = await read(start, len(offsets))
    assert reference == first + second


async def test_unknown_resume_id_resets_then_snapshots(market: Any) -> None:
    async with RtcMarketClient(market.url, channels=["book"], after="nosuchepoch-5") as c:
        kinds = []
        async with asyncio.timeout(30):
            async for _, msg in c:
                kinds.append(msg["type"])
                if len(kinds) == 5:
                    break
    assert kinds == ["subscribed", "md.reset", "md.snapshot", "md.snapshot", "md.snapshot"]
    assert c.stats.resets == 1


async def test_a_stalled_reader_gets_the_latest_tickers_not_a_stale_queue(
    live_server_factory: Any,
) -> None:
    srv = live_server_factory(md_synthetic_rate=3000.0)
    async with RtcMarketClient(srv.url, channels=["ticker"]) as c:
        _, first = await c.next(30)
        assert first["type"] == "md.ticker"
        (peer,) = srv.app.state.rtc_peers.peers
        (ticker,) = peer.channels
        time.sleep(3.0)  # a reader whose loop stalls: no SACKs, the server's buffer fills
        # it drains, then goes on with fresh tickers
        latest: dict[str, int] = {}
        async with asyncio.timeout(60):
            while len(latest) < 3 or c.stats.messages["ticker"] < 200:
                _, msg = await c.next()
                assert msg["type"] == "md.ticker"
                sym = msg["data"]["symbol"]
                latest[sym] = max(latest.get(sym, 0), offset(msg["id"]))
        assert ticker.stats.backed_up > 0, "the server never saw its send buffer fill"
    text = httpx.get(f"{srv.url}/metrics").text
    superseded = re.search(r"^tickwire_rtc_tickers_superseded_total (\S+)$", text, re.M)
    assert superseded and float(superseded.group(1)) > 0, "no ticker was ever superseded"


async def test_a_message_over_the_peers_size_limit_becomes_an_error(market: Any) -> None:
    """A peer that takes only 100-byte messages gets an error, with the id, in place of a
    snapshot it could not take; the channel goes on."""
    pc = RTCPeerConnection(ice_configuration([]))
    try:
        book = pc.createDataChannel("book")
        got: asyncio.Queue[str] = asyncio.Queue()
        book.on("message", got.put_nowait)
        opened = asyncio.Event()
        book.on("open", opened.set)
        with gather_addresses(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        sdp = re.sub(r"a=max-message-size:\d+", "a=max-message-size:100", pc.localDescription.sdp)
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{market.url}/rtc/offer", json={"sdp": sdp, "type": "offer"})
        await pc.setRemoteDescription(RTCSessionDescription(**r.json()))
        await asyncio.wait_for(opened.wait(), 30)
        book.send(orjson.dumps({"op": "subscribe", "req_id": 1, "symbols": ["BTC-USD"]}).decode())
        msgs = [orjson.loads(await asyncio.wait_for(got.get(), 30)) for _ in range(2)]
        assert msgs[0]["type"] == "subscribed"
        assert msgs[1]["type"] == "error" and msgs[1]["code"] == "MESSAGE_TOO_LARGE"
        assert msgs[1]["id"].count("-") == 1
    finally:
        await pc.close()
