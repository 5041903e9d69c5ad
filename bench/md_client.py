"""A lean many-connection market-data reader: one load-generator process of ``bench.fanout``
(and of ``bench.cluster``'s SSE sweep).

Run by the benchmarks (pinned to the client core): ``python -m bench.md_client --port P``,
then commands on stdin, one per line, each answered by one JSON line on stdout:

* ``open N PATH [sse|ws|poll]``: open N more subscribers of ``PATH`` over that transport
  (default ``sse``) -> ``{"open": total, "failed": k, "seconds": connect time}``;
* ``go SECONDS``: count for that long -> ``{"events", "bytes", "hist", "cpu", "wall",
  "alive"}``;
* ``quit``.

Each connection is an ``asyncio.Protocol`` (no task, no coroutine per read): a read costs a
few C-level byte scans.

* ``sse``: ``GET PATH`` as an event stream; ``events`` counts ``data:`` lines.
* ``ws``: a WebSocket handshake on ``PATH`` (``/ws/md?symbols=A,B&channels=...``) without
  compression, then one ``subscribe`` op built from the query; ``events`` counts text
  frames whose JSON starts with ``{"type":"md.``; pings are answered.
* ``poll``: ``GET PATH&cursor=<last>&timeout=25`` on one keep-alive connection, the next
  request sent as soon as an answer is read; ``events`` counts the answer's ``"event":``
  keys.

Latency is per read: receipt time (``time.time_ns``) minus the *first* ``"ts":`` in the read
(the oldest event in it), counted once per event of the read, so it is an upper bound for
the others in the same read. The histogram has log buckets of ~5 % (``bucket = round(20 *
ln(µs))``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import os
import sys
import time
from urllib.parse import parse_qs, urlsplit

import orjson
import uvloop

_DATA = b"data:"
_TS = b'"ts":'
_MD = b'{"type":"md.'
_EVENT = b'"event":'
_CURSOR = b'"cursor":"'


class Stats:
    def __init__(self) -> None:
        self.counting = False
        self.events = 0
        self.bytes = 0
        self.hist: dict[int, int] = {}

    def record(self, buf: bytes, n: int, now: int, start: int = 0, end: int | None = None) -> None:
        """Count ``n`` events, all at the latency of the first ``"ts":`` in ``buf[start:end]``."""
        self.events += n
        cut = len(buf) if end is None else end
        i = buf.find(_TS, start, cut)
        if i < 0:
            return
        j = i + 5
        if j < cut and buf[j] == 32:  # stdlib json writes '"ts": 1'
            j += 1
        k = j
        while k < cut and 48 <= buf[k] <= 57:
            k += 1
        if k == j:
            return
        lat_us = max(1.0, (now - int(buf[j:k])) / 1000)
        b = round(20 * math.log(lat_us))
        self.hist[b] = self.hist.get(b, 0) + n


class _Reader(asyncio.Protocol):
    def __init__(self, stats: Stats, alive: set[_Reader]) -> None:
        self.stats = stats
        self.alive = alive
        self.transport: asyncio.Transport | None = None
        #: Set at the first answer from the server (True), or False if the connection died.
        self.answered = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is not an asyncio.Transport subclass, but has the same methods
        self.transport = transport  # type: ignore[assignment]
        self.alive.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive.discard(self)
        if not self.answered.done():
            self.answered.set_result(False)

    def _answer(self) -> None:
        if not self.answered.done():
            self.answered.set_result(True)


class SseReader(_Reader):
    """Counts events and their delivery latency on one SSE stream."""

    def __init__(self, request: bytes, stats: Stats, alive: set[_Reader]) -> None:
        super().__init__(stats, alive)
        self.request = request
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        self._answer()
        stats = self.stats
        if not stats.counting:
            self.tail = data[data.rfind(b"\n") + 1 :]
            return
        buf = self.tail + data if self.tail else data
        cut = buf.rfind(b"\n") + 1
        self.tail = buf[cut:]
        n = buf.count(_DATA, 0, cut)
        if not n:
            return
        stats.bytes += len(data)
        stats.record(buf, n, now, 0, cut)


def ws_client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client-to-server frame (RFC 6455 section 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def subscribe_op(path: str) -> bytes:
    """The ``subscribe`` op for a ``/ws/md?symbols=..&channels=..`` style path."""
    query = parse_qs(urlsplit(path).query)
    op: dict[str, object] = {"op": "subscribe", "req_id": 1}
    for key in ("symbols", "channels"):
        if key in query:
            op[key] = [s for s in query[key][0].split(",") if s]
    if "conflate" in query:
        op["conflate"] = query["conflate"][0]
    return orjson.dumps(op)


class WsReader(_Reader):
    """Counts ``md.*`` messages and their latency on one WebSocket."""

    def __init__(self, path: str, stats: Stats, alive: set[_Reader]) -> None:
        super().__init__(stats, alive)
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {urlsplit(path).path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.subscribe = ws_client_frame(subscribe_op(path))
        self.buf = b""
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                assert self.transport is not None
                self.transport.abort()
                return
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(self.subscribe)
            buf = buf[end + 4 :]
        stats = self.stats
        pos, size, n, first = 0, len(buf), 0, -1
        while size - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            head = 2
            if b1 == 126:
                if size - pos < 4:
                    break
                b1, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif b1 == 127:
                if size - pos < 10:
                    break
                b1, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + b1
            if end > size:
                break
            opcode = buf[pos] & 0x0F
            start = pos + head
            if opcode == 1:
                self._answer()
                if buf.startswith(_MD, start):
                    n += 1
                    if first < 0:
                        first = start
            elif opcode == 9 and self.transport is not None:  # ping -> pong
                self.transport.write(ws_client_frame(buf[start:end], 0xA))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
            pos = end
        self.buf = buf[pos:]
        if n and stats.counting:
            stats.bytes += len(data)
            stats.record(buf, n, now, first, pos)


class PollReader(_Reader):
    """One long-poll client on a keep-alive connection; see the module docstring."""

    def __init__(self, path: str, stats: Stats, alive: set[_Reader]) -> None:
        super().__init__(stats, alive)
        self.path = path + ("&" if "?" in path else "?") + "timeout=25"
        self.cursor: str | None = None
        self.buf = b""
        self.need = -1  # bytes of the current answer (headers + body), -1 until headers read

    def _request(self) -> bytes:
        cursor = "" if self.cursor is None else f"&cursor={self.cursor}"
        return f"GET {self.path}{cursor} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.write(self._request())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.buf + data if self.buf else data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                i = buf.lower().find(b"content-length:", 0, end)
                if i < 0:
                    assert self.transport is not None
                    self.transport.abort()
                    return
                j = buf.find(b"\r\n", i)
                self.need = end + 4 + int(buf[i + 15 : j])
            if len(buf) < self.need:
                break
            body, buf, self.need = buf[: self.need], buf[self.need :], -1
            self._answer()
            c = body.rfind(_CURSOR)
            if c >= 0:
                self.cursor = body[c + 10 : body.find(b'"', c + 10)].decode()
            assert self.transport is not None
            self.transport.write(self._request())
            n = body.count(_EVENT)
            if n and self.stats.counting:
                self.stats.bytes += len(body)
                self.stats.record(body, n, now)
        self.buf = buf


class Worker:
    def __init__(self, port: int) -> None:
        self.port = port
        self.stats = Stats()
        self.alive: set[_Reader] = set()
        self.opened = 0
        self.failed = 0

    def _factory(self, path: str, transport: str) -> _Reader:
        if transport == "ws":
            return WsReader(path, self.stats, self.alive)
        if transport == "poll":
            return PollReader(path, self.stats, self.alive)
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        return SseReader(request.encode(), self.stats, self.alive)

    async def open(self, n: int, path: str, transport: str = "sse") -> float:
        """Open ``n`` subscribers, 200 at a time; returns the seconds it took."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()

        async def one() -> None:
            try:
                _, reader = await loop.create_connection(
                    lambda: self._factory(path, transport), "127.0.0.1", self.port
                )
                # wait for the answer, so a measurement never overlaps connection set-up
                if await asyncio.wait_for(reader.answered, 300.0):
                    self.opened += 1
                else:
                    self.failed += 1
            except (OSError, TimeoutError):
                self.failed += 1

        for start in range(0, n, 200):  # in waves: the server's accept backlog is finite
            await asyncio.gather(*(one() for _ in range(min(200, n - start))))
        return time.monotonic() - started

    async def go(self, seconds: float) -> dict[str, object]:
        st = self.stats
        st.events, st.bytes, st.hist = 0, 0, {}
        cpu0, t0 = time.process_time(), time.monotonic()
        st.counting = True
        await asyncio.sleep(seconds)
        st.counting = False
        wall = time.monotonic() - t0
        return {
            "events": st.events,
            "bytes": st.bytes,
            "hist": st.hist,
            "cpu": time.process_time() - cpu0,
            "wall": wall,
            "alive": len(self.alive),
        }


async def main(port: int) -> None:
    worker = Worker(port)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        cmd = line[0]
        if cmd == "open":
            kind = line[3] if len(line) > 3 else "sse"
            seconds = await worker.open(int(line[1]), line[2], kind)
            out: dict[str, object] = {
                "open": worker.opened,
                "failed": worker.failed,
                "seconds": seconds,
            }
        elif cmd == "go":
            out = await worker.go(float(line[1]))
        else:
            break
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        sys.stdout.flush()
    for r in list(worker.alive):
        if r.transport is not None:
            r.transport.abort()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="many-connection market-data reader for benchmarks")
    p.add_argument("--port", type=int, required=True)
    uvloop.run(main(p.parse_args().port))
