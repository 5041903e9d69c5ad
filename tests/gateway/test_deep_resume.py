"""Resume at any depth within the documented history is exact on SSE, /ws/md and long
polling, and says so; past it, it is a reset. The resume metric tells the truth.

One server (history of 120,000 events) with 130,000 ``status`` events published straight
into its hub; every client resumes from 1,000, 10,000 and 100,000 events back, and from
just past the oldest retained event.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from exchange.config import Settings
from tests.conftest import LiveServer, start_server

HISTORY = 120_000
PUBLISHED = 130_000
DEPTHS = (1_000, 10_000, 100_000)
_ID = re.compile(rb"\nid:([^\n]+)\n")


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data: Path = tmp_path_factory.mktemp("deep")
    srv = start_server(
        Settings().replace(data_dir=data, sim_rate=0.0, log_level="warning", history_size=HISTORY)
    )

    async def publish() -> None:
        hub = srv.node.hub
        for start in range(0, PUBLISHED, 1000):
            hub.publish(
                [("status", "BTC-USD", {"symbol": "BTC-USD", "state": "open", "i": i})
                 for i in range(start, start + 1000)],
                1,
            )  # fmt: skip
            await asyncio.sleep(0)

    assert srv.node.loop is not None
    asyncio.run_coroutine_threadsafe(publish(), srv.node.loop).result(60)
    yield srv
    srv.stop()


def offsets(ids: list[str]) -> list[int]:
    return [int(i.rsplit("-", 1)[1]) for i in ids]


def sse_ids(port: int, last_id: str, n: int) -> tuple[list[str], bytes]:
    """The ids of the first ``n`` events after ``last_id`` (a raw reader: 100k events fast)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            f"GET /md/stream?channels=status HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: {last_id}"
            "\r\n\r\n".encode()
        )
        buf = b""
        while buf.count(b"\n\n") - 1 < n:  # whole events (the first "\n\n" ends retry:)
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            if b"event:reset" in buf:
                break
    ids = [m.decode() for m in _ID.findall(b"\n" + buf)]
    return ids[:n], buf


async def ws_ids(srv: LiveServer, last_id: str, n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    async with websockets.connect(f"{srv.ws_url}/ws/md", max_size=2**22) as ws:
        await ws.send(orjson.dumps({"op": "subscribe", "req_id": 1, "channels": ["status"],
                                    "after": last_id}).decode())  # fmt: skip
        while len(out) < n:
            msg = orjson.loads(await ws.recv())
            if msg["type"].startswith("md."):
                out.append((msg["id"], msg["type"]))
                if msg["type"] == "md.reset":
                    break
    return out


async def poll_ids(srv: LiveServer, cursor: str, n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        while len(out) < n:
            r = await http.get("/md/poll", params={"channels": "status", "cursor": cursor,
                                                   "timeout": "1"})  # fmt: skip
            r.raise_for_status()
            body = r.json()
            out += [(e["id"], e["event"]) for e in body["events"]]
            if not body["events"] or any(e["event"] == "reset" for e in body["events"]):
                break
            cursor = body["cursor"]
    return out


def resumes(srv: LiveServer, transport: str, outcome: str) -> float:
    value: float = srv.node.metrics.resumes.labels(transport, outcome).value
    return value


@pytest.mark.parametrize("depth", DEPTHS)
async def test_sse_resume_is_exact_at_depth(deep: LiveServer, depth: int) -> None:
    hub = deep.node.hub
    after = hub.last_offset - depth
    before = resumes(deep, "sse", "exact")
    ids, _ = await asyncio.to_thread(sse_ids, deep.port, f"{hub.epoch}-{after}", depth)
    assert offsets(ids) == list(range(after + 1, hub.last_offset + 1))
    assert resumes(deep, "sse", "exact") == before + 1


@pytest.mark.parametrize("depth", DEPTHS)
async def test_ws_resume_is_exact_at_depth(deep: LiveServer, depth: int) -> None:
    hub = deep.node.hub
    after = hub.last_offset - depth
    before = resumes(deep, "ws", "exact")
    got = await ws_ids(deep, f"{hub.epoch}-{after}", depth)
    assert {t for _, t in got} == {"md.status"}
    assert offsets([i for i, _ in got]) == list(range(after + 1, hub.last_offset + 1))
    assert resumes(deep, "ws", "exact") == before + 1


@pytest.mark.parametrize("depth", DEPTHS)
async def test_poll_resume_is_exact_at_depth_in_pages(deep: LiveServer, depth: int) -> None:
    hub = deep.node.hub
    after = hub.last_offset - depth
    got = await poll_ids(deep, f"{hub.epoch}-{after}", depth)
    assert {t for _, t in got} == {"status"}
    assert offsets([i for i, _ in got]) == list(range(after + 1, hub.last_offset + 1))


async def test_past_the_history_every_transport_says_reset(deep: LiveServer) -> None:
    hub = deep.node.hub
    too_old = f"{hub.epoch}-{hub.first_offset - 2}"
    resets = {t: resumes(deep, t, "reset") for t in ("sse", "ws")}
    _, raw = await asyncio.to_thread(sse_ids, deep.port, too_old, 1)
    assert b"event:reset" in raw and b'"reason":"too_old"' in raw
    got = await ws_ids(deep, too_old, 1)
    assert got[0][1] == "md.reset"
    polled = await poll_ids(deep, too_old, 1)
    assert polled[0][1] == "reset"
    assert {t: resumes(deep, t, "reset") for t in ("sse", "ws")} == {
        t: v + 1 for t, v in resets.items()
    }
    # the oldest event still held is an exact resume point
    ids, _ = await asyncio.to_thread(sse_ids, deep.port, f"{hub.epoch}-{hub.first_offset - 1}", 5)
    assert offsets(ids) == list(range(hub.first_offset, hub.first_offset + 5))
