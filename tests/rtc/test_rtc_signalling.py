"""``POST /rtc/offer``: malformed offers, the peer cap, tokens, bad frames on the channels, and
freeing peers on disconnect and at shutdown. Real server, real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.gateway.rtc import RtcConnectError, RtcMarketClient
from tests.rtc.helpers import wait_for


def open_peers(srv: Any) -> int:
    return len(srv.app.state.rtc_peers)


def gauge(srv: Any) -> float:
    text = httpx.get(f"{srv.url}/metrics").text
    m = re.search(r"^tickwire_rtc_peer_connections (\S+)$", text, re.M)
    assert m, "gauge missing"
    return float(m.group(1))


def _drop(sdp: str, prefix: str) -> str:
    return "".join(line for line in sdp.splitlines(True) if not line.startswith(prefix))


# ---------------------------------------------------------------- malformed offers

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _not_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return False


BODIES = st.one_of(
    st.binary(max_size=200).filter(_not_json),
    JSON.filter(lambda v: not isinstance(v, dict)).map(orjson.dumps),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["answer", "pranswer", "rollback", "", "OFFER"])
            | st.text(max_size=8).filter(lambda t: t != "offer"),
            "sdp": st.text(max_size=50),
        }
    ).map(orjson.dumps),
    st.fixed_dictionaries(
        {
            "type": st.just("offer"),
            "sdp": JSON.filter(lambda v: not isinstance(v, str)) | st.text(max_size=300),
        }
    ).map(orjson.dumps),
)


@pytest.fixture
def unlimited_server(live_server_factory: Any) -> Any:
    """A server without the per-address offer rate limit (the examples come in a burst)."""
    return live_server_factory(rtc_offer_rate=0.0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=BODIES)
async def test_malformed_bodies_are_refused_with_400(unlimited_server: Any, body: bytes) -> None:
    live_server = unlimited_server
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post(
            "/rtc/offer", content=body, headers={"content-type": "application/json"}
        )
    assert r.status_code == 400, (body, r.text)
    err = r.json()
    assert err["code"] == "BAD_REQUEST" and err["message"]
    assert open_peers(live_server) == 0


@pytest.mark.parametrize(
    "mutation",
    ["no-m-line", "no-fingerprint", "no-ice-pwd", "media", "rtp-profile", "truncated", "huge"],
)
async def test_broken_offers_are_refused_and_leave_nothing(
    live_server: Any, offer_sdp: str, mutation: str
) -> None:
    sdp = {
        "no-m-line": _drop(offer_sdp, "m="),
        "no-fingerprint": _drop(offer_sdp, "a=fingerprint"),
        "no-ice-pwd": _drop(offer_sdp, "a=ice-pwd"),  # aiortc itself refuses this one
        "media": offer_sdp + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n",
        "rtp-profile": offer_sdp.replace("UDP/DTLS/SCTP", "RTP/AVP"),
        "truncated": offer_sdp[: len(offer_sdp) // 3],
        "huge": offer_sdp + "a=x-pad:" + "x" * 40_000 + "\r\n",
    }[mutation]
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/rtc/offer", json={"sdp": sdp, "type": "offer"})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "BAD_REQUEST"
        if mutation == "no-ice-pwd":
            assert r.json()["message"].startswith("offer refused")
        # the good offer still works on the same server afterwards
        ok = await http.post("/rtc/offer", json={"sdp": offer_sdp, "type": "offer"})
        assert ok.status_code == 200 and ok.json()["type"] == "answer"
        assert "a=candidate:" in ok.json()["sdp"] and " 127.0.0.1 " in ok.json()["sdp"]
    assert open_peers(live_server) == 1  # only the good one (it never connects: timed out later)
    assert gauge(live_server) == 1


async def test_unknown_symbol_bad_token_and_foreign_origin(
    live_server: Any, offer_sdp: str
) -> None:
    body = {"sdp": offer_sdp, "type": "offer"}
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/rtc/offer", json=body, params={"symbols": "NOPE"})
        assert r.status_code == 400 and "NOPE" in r.json()["message"]
        r = await http.post("/rtc/offer", json=body, params={"token": "garbage"})
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
        token = (await http.post("/api/sessions", json={"account": "rtcuser"})).json()["token"]
        r = await http.post("/rtc/offer", json=body, params={"token": token})  # header only
        assert r.status_code == 401 and "Authorization" in r.json()["message"]
        evil = {"origin": "http://evil.example"}
        r = await http.post("/rtc/offer", json=body, headers=evil)
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
        same = {"origin": live_server.url}
        r = await http.post("/rtc/offer", json=body, headers=same, params={"symbols": "NOPE"})
        assert r.status_code == 400  # past the origin check
    assert open_peers(live_server) == 0
    async with RtcMarketClient(live_server.url, channels=["book"], token=token) as c:
        _, msg = await c.next(30)
        assert msg["type"] == "subscribed"


async def test_an_answered_offer_that_never_connects_is_freed(
    live_server: Any, offer_sdp: str
) -> None:
    live_server.app.state.rtc_peers.negotiation_timeout_s = 1.0
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/rtc/offer", json={"sdp": offer_sdp, "type": "offer"})
    assert r.status_code == 200
    assert open_peers(live_server) == 1  # the offerer never applies the answer
    await wait_for(lambda: open_peers(live_server) == 0)
    assert gauge(live_server) == 0


# ---------------------------------------------------------------- the cap


async def test_cap_answers_503_until_a_peer_leaves(live_server_factory: Any) -> None:
    srv = live_server_factory(rtc_max_peers=2)
    a = await RtcMarketClient(srv.url, channels=["book"]).__aenter__()
    b = await RtcMarketClient(srv.url, channels=["book"]).__aenter__()
    try:
        with pytest.raises(RtcConnectError) as info:
            async with RtcMarketClient(srv.url, channels=["book"]):
                pass
        assert info.value.status == 503 and info.value.body["code"] == "TOO_MANY_PEERS"
        await a.aclose()
        await wait_for(lambda: open_peers(srv) == 1)
        async with RtcMarketClient(srv.url, channels=["book"]) as c:
            _, msg = await c.next(30)
            assert msg["type"] == "subscribed"
    finally:
        await a.aclose()
        await b.aclose()
    await wait_for(lambda: open_peers(srv) == 0)
    assert gauge(srv) == 0


async def test_zero_peers_switches_webrtc_off(live_server_factory: Any, offer_sdp: str) -> None:
    srv = live_server_factory(rtc_max_peers=0)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/rtc/offer", json={"sdp": offer_sdp, "type": "offer"})
    assert r.status_code == 503 and r.json()["code"] == "TRANSPORT_DISABLED"


# ---------------------------------------------------------------- bad frames


async def test_bad_frames_get_an_error_on_their_channel(live_server: Any) -> None:
    async with RtcMarketClient(live_server.url, ordered_ticker=True) as c:

        async def reply(channel: str) -> dict[str, Any]:
            while True:
                ch, msg = await c.next(30)
                if ch == channel and msg["type"] in ("error", "pong", "subscribed"):
                    return dict(msg)

        assert (await reply("book"))["type"] == "subscribed"
        for channel in ("book", "ticker"):
            await c.send(channel, "not json")
            assert (await reply(channel))["code"] == "BAD_REQUEST"
            await c.send(channel, {"op": "order.new", "req_id": 5})
            err = await reply(channel)
            assert err["code"] in ("BAD_REQUEST", "UNKNOWN_OP") and err["req_id"] == 5
            await c.send(channel, {"op": "nosuch", "req_id": 6})
            assert (await reply(channel))["code"] == "UNKNOWN_OP"
            await c.send(channel, "x" * 20_000)
            assert (await reply(channel))["code"] == "BAD_REQUEST"
            await c.send(channel, {"op": "subscribe", "req_id": 7, "symbols": ["NOPE"]})
            assert (await reply(channel))["code"] == "BAD_REQUEST"
            await c.send(channel, {"op": "ping", "req_id": 8})  # still served
            pong = await reply(channel)
            assert pong["type"] == "pong" and pong["req_id"] == 8
        await c.send("ticker", {"op": "subscribe", "req_id": 9, "channels": ["book"]})
        assert (await reply("ticker"))["code"] == "BAD_REQUEST"
        await c.send("ticker", {"op": "subscribe", "req_id": 10, "symbols": ["ETH-USD"]})
        ok = await reply("ticker")
        assert ok == {
            "type": "subscribed",
            "req_id": 10,
            "channels": ["ticker"],
            "symbols": ["ETH-USD"],
        }
    assert c.stats.errors == 11


async def test_an_unknown_channel_label_is_refused_and_closed(live_server: Any) -> None:
    async with RtcMarketClient(live_server.url, channels=["book"]) as c:
        assert c.pc is not None
        other = c.pc.createDataChannel("quotes")
        got: asyncio.Queue[str] = asyncio.Queue()
        other.on("message", got.put_nowait)
        closed = asyncio.Event()
        other.on("close", closed.set)
        msg = orjson.loads(await asyncio.wait_for(got.get(), 30))
        assert msg["type"] == "error" and "quotes" in msg["message"]
        await asyncio.wait_for(closed.wait(), 30)
        await c.send("book", {"op": "ping", "req_id": 1})
        while True:
            _, reply = await c.next(30)
            if reply["type"] == "pong":
                break


async def test_a_peer_may_not_open_more_than_four_channels(live_server: Any) -> None:
    async with RtcMarketClient(live_server.url) as c:
        assert c.pc is not None
        extra = [c.pc.createDataChannel("book") for _ in range(3)]
        got: asyncio.Queue[str] = asyncio.Queue()
        for ch in extra:
            ch.on("message", got.put_nowait)
        refused = None
        async with asyncio.timeout(30):
            while refused is None:
                msg = orjson.loads(await got.get())
                if msg["type"] == "error":
                    refused = msg
        assert "at most 4" in refused["message"]
        await wait_for(lambda: sum(ch.readyState == "open" for ch in extra) == 2)


# ---------------------------------------------------------------- freeing peers


async def test_client_close_frees_the_peer(live_server: Any) -> None:
    async with RtcMarketClient(live_server.url) as c:
        await wait_for(lambda: open_peers(live_server) == 1)
        assert c.pc is not None and c.pc.connectionState == "connected"
    await wait_for(lambda: open_peers(live_server) == 0)
    assert gauge(live_server) == 0


async def test_closing_the_channels_frees_the_peer_after_the_grace(live_server: Any) -> None:
    async with RtcMarketClient(live_server.url) as c:
        await wait_for(lambda: open_peers(live_server) == 1)
        for ch in c.channels.values():
            ch.close()  # the connection stays up, but nothing is left to serve
        await wait_for(lambda: open_peers(live_server) == 0)


async def test_shutdown_closes_every_peer(live_server_factory: Any) -> None:
    srv = live_server_factory(sim_rate=20.0)
    clients = [await RtcMarketClient(srv.url).__aenter__() for _ in range(3)]
    try:
        await wait_for(lambda: open_peers(srv) == 3)
        await asyncio.to_thread(srv.stop)
        assert open_peers(srv) == 0
        for c in clients:
            await wait_for(lambda c=c: c.closed_reason is not None)
    finally:
        for c in clients:
            await c.aclose()
