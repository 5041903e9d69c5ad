"""The lab's byte counter and latency measurement against known traffic: a tiny server sends a
fixed number of events of known size and known age; the meter must agree to the byte."""

from __future__ import annotations

import asyncio
import time

import orjson

from exchange.lab.clients import open_client
from exchange.lab.stats import latency_summary, percentile
from exchange.lab.wire import ChunkedDecoder, Meter, event_offset

AGE_NS = 50_000_000  # every event's ts is 50 ms before it is written


class KnownServer:
    """Answers one HTTP request with a scripted response; records what came and went."""

    def __init__(self, respond: object) -> None:
        self.respond = respond
        self.received = bytearray()
        self.sent = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.received += head
                self.requests += 1
                for chunk in self.respond(self.requests):  # type: ignore[operator]
                    writer.write(chunk)
                    self.sent += len(chunk)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


def _payload(i: int) -> bytes:
    return orjson.dumps(
        {"symbol": "BTC-USD", "seq": i, "pad": "x" * 40, "ts": time.time_ns() - AGE_NS}
    )


def _chunk(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n"


async def _wait(cond: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)


async def test_sse_bytes_and_latency_match_known_traffic() -> None:
    n = 25

    def respond(_req: int) -> list[bytes]:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        # events split across chunk boundaries on purpose: two and a half per chunk
        stream = b"".join(
            b"id:e-%d\nevent:book\ndata:%s\n\n" % (i, _payload(i)) for i in range(1, n + 1)
        )
        step = len(stream) // 10
        return [head] + [_chunk(stream[i : i + step]) for i in range(0, len(stream), step)]

    srv = KnownServer(respond)
    url = await srv.start()
    meter = Meter()
    client = await open_client(url, "sse", meter, resume="e-0")
    client.record_ids = True
    await _wait(lambda: meter.events == n)
    await asyncio.sleep(0.05)
    client.abort()
    await srv.stop()
    assert meter.events == n
    assert meter.down == srv.sent  # every byte: head, chunk sizes, CRLFs, events
    assert meter.up == len(srv.received)
    assert b"Last-Event-ID: e-0" in srv.received
    assert client.received_ids == [f"e-{i}" for i in range(1, n + 1)]
    assert client.last_id == f"e-{n}"
    assert len(meter.latencies_ns) == n
    assert all(AGE_NS <= v < AGE_NS + 2_000_000_000 for v in meter.latencies_ns)


async def test_poll_counts_every_request_and_answer() -> None:
    n_answers, per_answer = 4, 3

    def respond(req: int) -> list[bytes]:
        if req > n_answers:
            return []  # hold the last request open: no more events
        events = [
            {
                "id": f"0-{(req - 1) * per_answer + k}",
                "event": "trade",
                "data": orjson.loads(_payload(k)),
            }
            for k in range(per_answer)
        ]
        body = orjson.dumps({"events": events, "cursor": f"0-{req * per_answer - 1}"})
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        return [head.encode(), body]

    srv = KnownServer(respond)
    url = await srv.start()
    meter = Meter()
    client = await open_client(url, "poll", meter)
    await _wait(lambda: srv.requests == n_answers + 1)
    await asyncio.sleep(0.05)
    client.abort()
    await srv.stop()
    assert meter.events == n_answers * per_answer
    assert meter.down == srv.sent
    assert meter.up == len(srv.received)  # the follow-up request is counted too
    assert b"cursor=0-" in srv.received
    assert all(v >= AGE_NS for v in meter.latencies_ns)


def test_chunked_decoder_any_split() -> None:
    body = [b"hello ", b"chunked ", b"world" * 20]
    raw = b"".join(_chunk(b) for b in body) + b"0\r\n\r\n"
    for step in (1, 2, 3, 7, len(raw)):
        dec = ChunkedDecoder()
        out = b"".join(dec.feed(raw[i : i + step]) for i in range(0, len(raw), step))
        assert out == b"".join(body)
        assert dec.done


def test_percentiles_and_summary() -> None:
    values = list(range(1, 1001))
    assert percentile(values, 50) == 500
    assert percentile(values, 99) == 990
    assert percentile(values, 99.9) == 999
    assert percentile(values, 100) == 1000
    s = latency_summary([v * 1_000_000 for v in values])
    assert s["p50_ms"] == 500 and s["p99_ms"] == 990 and s["n"] == 1000
    assert latency_summary([])["n"] == 0
    assert event_offset("3-17") == 17 and event_offset("junk") == -1
