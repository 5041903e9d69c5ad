"""The fan-out limit: a bare asyncio server that writes each pre-framed event to every socket.

Run: ``python -m bench.bare_md --port P --rate R [--seed S]`` (uvloop). It is what a
market-data server costs when it does nothing but the unavoidable: per event one JSON
encoding and one frame per transport, then one ``transport.write`` of the same bytes per
subscriber. No routing, no history, no resume, no flow control, no heartbeat. ``bench.fanout``
measures tickwire against it in the same run.

Events are ``exchange.sim.feed.MarketSim`` items (book deltas, trades, tickers, candles;
no snapshots) at ``R`` events/s, scheduled by time, ``ts`` stamped at publish, as tickwire's
synthetic feed (``TICKWIRE_MD_SYNTHETIC_RATE``). Paths:

* ``GET /md/stream``: ``200`` chunked ``text/event-stream``; each event one chunk
  ``id:..\\nevent:..\\ndata:..\\n\\n``.
* ``GET /ws/md``: the WebSocket handshake, one ``subscribed`` text frame, then each event
  one unmasked text frame ``{"type":"md.<event>","id":..,"data":..}``; client frames are
  ignored (pings are not answered: the client does not send any).
* ``GET /md/poll?cursor=..``: without a cursor answered at once (no events, cursor ``0``);
  with one, held until the next event, then answered with it (``Content-Length``,
  keep-alive), all held requests with the same bytes.
* ``GET /healthz``, ``GET /stats``: ``{"sse", "ws", "poll", "published"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import time
from collections import deque
from typing import Any

import orjson
import uvloop

from exchange.sim.feed import MarketSim

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")


def ws_frame(payload: bytes) -> bytes:
    """An unmasked server-to-client text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def _response(status: str, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + ctype
        + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


class BareHub:
    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.seed = seed
        self.sse: set[asyncio.Transport] = set()
        self.ws: set[asyncio.Transport] = set()
        self.poll: set[asyncio.Transport] = set()
        self.published = 0

    def publish(self, name: str, payload: dict[str, Any]) -> None:
        self.published += 1
        ev_id = f"bare-{self.published}".encode()
        data = orjson.dumps(payload)
        sse = b"id:" + ev_id + b"\nevent:" + name.encode() + b"\ndata:" + data + b"\n\n"
        chunk = b"%x\r\n" % len(sse) + sse + b"\r\n"
        for tr in self.sse:
            tr.write(chunk)
        frame = ws_frame(b'{"type":"md.' + name.encode() + b'","id":"' + ev_id + b'","data":'
                         + data + b"}")  # fmt: skip
        for tr in self.ws:
            tr.write(frame)
        if self.poll:
            body = (b'{"events":[{"id":"' + ev_id + b'","event":"' + name.encode()
                    + b'","data":' + data + b'}],"cursor":"' + ev_id + b'"}')  # fmt: skip
            answer = _response("200 OK", body)
            held, self.poll = self.poll, set()
            for tr in held:
                tr.write(answer)

    def stats(self) -> bytes:
        return orjson.dumps(
            {"sse": len(self.sse), "ws": len(self.ws), "poll": len(self.poll),
             "published": self.published}
        )  # fmt: skip

    async def run(self) -> None:
        sim = MarketSim(self.seed, symbols=SYMBOLS)
        pending: deque[tuple[str, str | None, dict[str, Any]]] = deque()
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        while True:
            due = int((loop.time() - start) * self.rate) - sent
            if due > 0:
                ts = time.time_ns()
                for _ in range(due):
                    while not pending:
                        pending.extend(i for i in sim.step() if i[0] != "snapshot")
                    name, _symbol, payload = pending.popleft()
                    if "ts" in payload:
                        payload["ts"] = ts
                    self.publish(name, payload)
                sent += due
            await asyncio.sleep(max(0.0005, start + (sent + 1) / self.rate - loop.time()))


class Conn(asyncio.Protocol):
    def __init__(self, hub: BareHub) -> None:
        self.hub = hub
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        tr = self.transport
        for group in (self.hub.sse, self.hub.ws, self.hub.poll):
            group.discard(tr)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            return  # WebSocket client frames are not read
        buf = self.buf + data
        while (end := buf.find(b"\r\n\r\n")) >= 0:
            head, buf = buf[:end], buf[end + 4 :]
            self.request(head)
            if self.upgraded:
                break
        self.buf = b"" if self.upgraded else buf

    def request(self, head: bytes) -> None:
        tr = self.transport
        assert tr is not None
        line = head.split(b"\r\n", 1)[0].split()
        target = line[1] if len(line) > 1 else b"/"
        path, _, query = target.partition(b"?")
        hub = self.hub
        if path == b"/md/stream":
            tr.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"d\r\nretry: 1000\n\n\r\n")  # fmt: skip
            hub.sse.add(tr)
        elif path == b"/ws/md":
            key = b""
            for h in head.split(b"\r\n")[1:]:
                name, _, value = h.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
            tr.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                     + ws_frame(b'{"type":"subscribed","req_id":1}'))  # fmt: skip
            self.upgraded = True
            hub.ws.add(tr)
        elif path == b"/md/poll":
            if b"cursor=" in query:
                hub.poll.add(tr)
            else:
                tr.write(_response("200 OK", b'{"events":[],"cursor":"bare-0"}'))
        elif path in (b"/healthz", b"/stats"):
            tr.write(_response("200 OK", hub.stats()))
        else:
            tr.write(_response("404 Not Found", b"{}"))


async def main(port: int, rate: float, seed: int) -> None:
    hub = BareHub(rate, seed)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(hub), "127.0.0.1", port, backlog=4096)
    task = asyncio.create_task(hub.run()) if rate > 0 else None
    try:
        await server.serve_forever()
    finally:
        if task is not None:
            task.cancel()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="the fan-out limit server for bench.fanout")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(a.port, a.rate, a.seed))
