"""A lean many-connection SSE reader: one load-generator process of ``bench.fanout``.

Run by ``bench.fanout`` (pinned to the client core): ``python -m bench.sse_client --port P``,
then commands on stdin, one per line, each answered by one JSON line on stdout:

* ``open N PATH``: open N more ``GET PATH`` streams -> ``{"open": total, "failed": k}``;
* ``go SECONDS``: count for that long -> ``{"events", "bytes", "hist", "cpu", "wall",
  "alive"}``;
* ``quit``.

Each connection is an ``asyncio.Protocol`` (no task, no coroutine per read): a read costs a
few C-level byte scans. ``events`` counts ``data:`` lines. Latency is per read: receipt time
(``time.time_ns``) minus the *first* ``"ts":`` in the read (the oldest event in it), counted
once per event of the read, so it is an upper bound for the others in the same read. The
histogram has log buckets of ~5 % (``bucket = round(20 * ln(µs))``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time

import orjson
import uvloop

_DATA = b"data:"
_TS = b'"ts":'


class Stats:
    def __init__(self) -> None:
        self.counting = False
        self.events = 0
        self.bytes = 0
        self.hist: dict[int, int] = {}


class SseReader(asyncio.Protocol):
    """Counts events and their delivery latency on one stream; see the module docstring."""

    def __init__(self, request: bytes, stats: Stats, alive: set[SseReader]) -> None:
        self.request = request
        self.stats = stats
        self.alive = alive
        self.tail = b""
        self.transport: asyncio.Transport | None = None
        #: Set at the first bytes received (the server has answered this request).
        self.answered = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is not an asyncio.Transport subclass, but has the same methods
        self.transport = transport  # type: ignore[assignment]
        self.alive.add(self)
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive.discard(self)
        if not self.answered.done():
            self.answered.set_result(False)

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        if not self.answered.done():
            self.answered.set_result(True)
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
        stats.events += n
        stats.bytes += len(data)
        i = buf.find(_TS, 0, cut)
        if i >= 0:
            j = i + 5
            if buf[j] == 32:  # stdlib json writes '"ts": 1'
                j += 1
            k = j
            while k < cut and 48 <= buf[k] <= 57:
                k += 1
            if k == j:
                return
            lat_us = max(1.0, (now - int(buf[j:k])) / 1000)
            b = round(20 * math.log(lat_us))
            stats.hist[b] = stats.hist.get(b, 0) + n


class Worker:
    def __init__(self, port: int) -> None:
        self.port = port
        self.stats = Stats()
        self.alive: set[SseReader] = set()
        self.opened = 0
        self.failed = 0

    async def open(self, n: int, path: str) -> None:
        loop = asyncio.get_running_loop()
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"

        async def one() -> None:
            try:
                _, reader = await loop.create_connection(
                    lambda: SseReader(request.encode(), self.stats, self.alive),
                    "127.0.0.1",
                    self.port,
                )
                # wait for the answer, so a measurement never overlaps connection set-up
                if await asyncio.wait_for(reader.answered, 120.0):
                    self.opened += 1
                else:
                    self.failed += 1
            except (OSError, TimeoutError):
                self.failed += 1

        for start in range(0, n, 200):  # in waves: the server's accept backlog is finite
            await asyncio.gather(*(one() for _ in range(min(200, n - start))))

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
            await worker.open(int(line[1]), line[2])
            out: dict[str, object] = {"open": worker.opened, "failed": worker.failed}
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
    p = argparse.ArgumentParser(description="many-connection SSE reader for bench.fanout")
    p.add_argument("--port", type=int, required=True)
    uvloop.run(main(p.parse_args().port))
