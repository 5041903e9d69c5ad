"""Market data over SSE, long polling and WebSocket on a live simulated market:
framing, snapshots, resume exactness at random disconnect points, checksums, resets."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import orjson
import pytest
import websockets
from httpx_sse import aconnect_sse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.book import L2Book

Event = tuple[str, str, dict[str, Any]]  # (id, event, data)


def offset(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


# ---------------------------------------------------------------- transport readers


async def read_sse(url: str, last_id: str | None, n: int, query: str = "") -> list[Event]:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    out: list[Event] = []
    async with (
        httpx.AsyncClient(timeout=10) as http,
        aconnect_sse(http, "GET", f"{url}/md/stream{query}", headers=headers) as es,
    ):
        async for sse in es.aiter_sse():
            if not sse.data:  # the opening retry: field
                continue
            out.append((sse.id, sse.event, orjson.loads(sse.data)))
            if len([e for e in out if e[1] != "snapshot"]) >= n:
                break
    return out


async def read_poll(url: str, cursor: str | None, n: int, query: str = "") -> list[Event]:
    out: list[Event] = []
    async with httpx.AsyncClient(timeout=10) as http:
        while len([e for e in out if e[1] != "snapshot"]) < n:
            params = {"timeout": "5"}
            if cursor:
                params["cursor"] = cursor
            r = await http.get(f"{url}/md/poll{query}", params=params)
            r.raise_for_status()
            body = r.json()
            for ev in body["events"]:
                out.append((ev["id"], ev["event"], ev["data"]))
                if len([e for e in out if e[1] != "snapshot"]) >= n:
                    return out
            cursor = body["cursor"]
    return out


async def read_ws(ws_url: str, last_id: str | None, n: int) -> list[Event]:
    out: list[Event] = []
    async with websockets.connect(f"{ws_url}/ws/md") as ws:
        sub: dict[str, Any] = {"op": "subscribe", "req_id": 1}
        if last_id:
            sub["after"] = last_id
        await ws.send(orjson.dumps(sub).decode())
        while len([e for e in out if e[1] != "snapshot"]) < n:
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg["type"] == "subscribed":
                continue
            assert msg["type"].startswith("md."), msg
            out.append((msg["id"], msg["type"][3:], msg["data"]))
    return out


READERS = {
    "sse": lambda srv, last, n: read_sse(srv.url, last, n),
    "poll": lambda srv, last, n: read_poll(srv.url, last, n),
    "ws": lambda srv, last, n: read_ws(srv.ws_url, last, n),
}


@pytest.fixture
def market(live_server_factory: Any) -> Any:
    return live_server_factory(sim_rate=50.0)


# ---------------------------------------------------------------- SSE framing


async def test_sse_headers_retry_snapshots_then_live(market: Any) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", f"{market.url}/md/stream") as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        buf = b""
        async for chunk in r.aiter_bytes():
            buf += chunk
            if buf.count(b"\n\n") >= 8:
                break
    frames = buf.split(b"\n\n")
    assert frames[0].startswith(b"retry: ")
    snapshot_frames = [f for f in frames[1:4]]
    for f in snapshot_frames:
        lines = {k: v.lstrip() for k, v in (line.split(b":", 1) for line in f.split(b"\n"))}
        assert lines[b"event"] == b"snapshot"
        assert lines[b"id"].count(b"-") == 1


async def test_snapshot_id_is_exact_resume_point(market: Any) -> None:
    first = await read_sse(market.url, None, 5)
    snaps = [e for e in first if e[1] == "snapshot"]
    assert {s[2]["symbol"] for s in snaps} == {"BTC-USD", "ETH-USD", "SOL-USD"}
    live = [e for e in first if e[1] != "snapshot"]
    assert offset(live[0][0]) == offset(snaps[-1][0]) + 1


@pytest.mark.parametrize("transport", ["sse", "poll", "ws"])
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cuts=st.lists(st.integers(min_value=1, max_value=25), min_size=1, max_size=4))
async def test_resume_is_exact_at_random_disconnects(
    market: Any, transport: str, cuts: list[int]
) -> None:
    read = READERS[transport]
    got: list[Event] = []
    last: str | None = None
    for n in cuts:
        part = await read(market, last, n)
        if last is not None:
            assert all(e[1] not in ("snapshot", "reset") for e in part), "resume must not reset"
        got += [e for e in part if e[1] != "snapshot"]
        last = part[-1][0]
    offsets = [offset(e[0]) for e in got]
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), "gap or duplicate"
    # a never-disconnected reader from the same point receives exactly the same events
    start = f"{got[0][0].rsplit('-', 1)[0]}-{offsets[0] - 1}"
    reference = await read_sse(market.url, start, len(got))
    assert reference == got


async def test_unknown_epoch_and_garbage_ids_reset(market: Any) -> None:
    for bad in ("nosuchepoch-5", "garbage", "-1", ""):
        events = await read_sse(market.url, bad or None, 2)
        if bad:
            assert events[0][1] == "reset" and "reason" in events[0][2]
            assert [e[1] for e in events[1:4]] == ["snapshot"] * 3


async def test_book_checksum_holds_after_every_delta(market: Any) -> None:
    books: dict[str, L2Book] = {}
    deltas = 0
    async with (
        httpx.AsyncClient(timeout=10) as http,
        aconnect_sse(http, "GET", f"{market.url}/md/stream?channels=book") as es,
    ):
        async for sse in es.aiter_sse():
            if not sse.data:
                continue
            data = orjson.loads(sse.data)
            if sse.event == "snapshot":
                books[data["symbol"]] = L2Book(data["symbol"])
                books[data["symbol"]].apply_snapshot(data)
                assert books[data["symbol"]].checksum() == data["checksum"]
            else:
                assert sse.event == "book"
                books[data["symbol"]].apply_delta(data)  # raises on a gap or a bad checksum
                assert books[data["symbol"]].checksum() == data["checksum"]
                deltas += 1
                if deltas >= 150:
                    break
    assert deltas == 150


async def test_rest_book_matches_stream(market: Any) -> None:
    async with httpx.AsyncClient(base_url=market.url) as http:
        deadline = asyncio.get_running_loop().time() + 10
        while True:  # the simulator needs a moment to quote both sides
            r = await http.get("/api/book/BTC-USD")
            assert r.status_code == 200
            book = r.json()
            if (book["bids"] and book["asks"]) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert book["bids"] and book["asks"]
        assert book["bids"][0][0] < book["asks"][0][0] or float(book["bids"][0][0]) < float(
            book["asks"][0][0]
        )
        r = await http.get("/api/book/BTC-USD", params={"depth": 2})
        assert len(r.json()["bids"]) <= 2
        assert (await http.get("/api/book/NOPE")).status_code == 404


async def test_filters_and_bad_queries(market: Any) -> None:
    events = await read_sse(market.url + "", None, 10, "?symbols=ETH-USD&channels=trades,ticker")
    assert events and all(e[2]["symbol"] == "ETH-USD" for e in events)
    assert {e[1] for e in events} <= {"trade", "ticker"}
    async with httpx.AsyncClient(base_url=market.url) as http:
        for q in ("symbols=NOPE", "channels=gossip", "conflate=fast"):
            r = await http.get(f"/md/stream?{q}")
            assert r.status_code == 400 and r.json()["code"] == "BAD_REQUEST"
        r = await http.get("/md/poll", params={"timeout": "31"})
        assert r.status_code == 400


async def test_poll_holds_then_returns_same_cursor(live_server: Any) -> None:
    # a quiet market: nothing after the cursor, so the poll waits out its timeout
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        first = (await http.get("/md/poll", params={"timeout": "0"})).json()
        assert [e["event"] for e in first["events"]] == ["snapshot"] * 3
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        again = (
            await http.get("/md/poll", params={"cursor": first["cursor"], "timeout": "0.5"})
        ).json()
        assert again == {"events": [], "cursor": first["cursor"]}
        assert loop.time() - t0 >= 0.45


async def test_conflated_stream_keeps_the_book_exact(market: Any) -> None:
    books: dict[str, L2Book] = {}
    merged = 0
    async with (
        httpx.AsyncClient(timeout=10) as http,
        aconnect_sse(http, "GET", f"{market.url}/md/stream?channels=book&conflate=200ms") as es,
    ):
        async for sse in es.aiter_sse():
            if not sse.data:
                continue
            data = orjson.loads(sse.data)
            if sse.event == "snapshot":
                books[data["symbol"]] = L2Book(data["symbol"])
                books[data["symbol"]].apply_snapshot(data)
                continue
            books[data["symbol"]].apply_delta(data)
            merged += data["seq"] > data["first_seq"]
            if merged >= 3:
                break
    assert merged >= 3


async def test_heartbeat_comments_on_a_quiet_stream(live_server_factory: Any) -> None:
    srv = live_server_factory(sse_heartbeat_s=0.2)
    buf = b""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", f"{srv.url}/md/stream?channels=trades") as r,
    ):
        async for chunk in r.aiter_bytes():
            buf += chunk
            if buf.count(b": hb ") >= 2:
                break
    assert buf.startswith(b"retry: ")
    assert buf.count(b": hb ") >= 2


# ---------------------------------------------------------------- WebSocket framing


async def test_ws_md_with_and_without_compression_carry_the_same_messages(market: Any) -> None:
    from shared.codec import decode_message

    async def first(compression: str | None, n: int) -> tuple[bool, dict[str, Any], list[str]]:
        async with websockets.connect(f"{market.ws_url}/ws/md", compression=compression) as ws:
            sub = {"op": "subscribe", "req_id": 7, "symbols": ["BTC-USD", "ETH-USD"],
                   "channels": ["book", "trades"], "conflate": "100ms"}  # fmt: skip
            await ws.send(orjson.dumps(sub).decode())
            reply = await ws.recv()
            ids: list[str] = []
            while len(ids) < n:
                msg = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                assert msg["type"] in ("md.snapshot", "md.book", "md.trade"), msg
                assert msg["data"]["symbol"] in ("BTC-USD", "ETH-USD")
                ids.append(msg["id"])
            negotiated = bool(ws.protocol.extensions)
            return negotiated, orjson.loads(reply), ids

    (plain, reply, ids), (deflated, reply2, ids2) = await asyncio.gather(
        first(None, 12), first("deflate", 12)
    )
    assert (plain, deflated) == (False, True)
    # the reply is the contract's ``subscribed``: lists, the window echoed
    assert reply == reply2 == {"type": "subscribed", "req_id": 7, "symbols": ["BTC-USD", "ETH-USD"],
                               "channels": ["book", "trades"], "conflate": "100ms"}  # fmt: skip
    assert decode_message(orjson.dumps(reply)).type == "subscribed"
    # snapshots carry the head id, then ids rise
    assert all(offset(a) <= offset(b) for a, b in itertools.pairwise(ids))
    assert all(offset(a) <= offset(b) for a, b in itertools.pairwise(ids2))


async def test_ws_compress_0_declines_the_offered_deflate(market: Any) -> None:
    """Browsers always offer permessage-deflate; ``?compress=0`` lets a page decline it."""
    for path, want in (("/ws/md?compress=0", False), ("/ws/md?compress=1", True), ("/ws/md", True)):
        async with websockets.connect(f"{market.ws_url}{path}", compression="deflate") as ws:
            assert bool(ws.protocol.extensions) is want, path
            await ws.send(orjson.dumps({"op": "subscribe", "req_id": 1}).decode())
            assert orjson.loads(await ws.recv())["type"] == "subscribed"
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert msg["type"] == "md.snapshot", msg
