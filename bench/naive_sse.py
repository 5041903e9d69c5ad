"""The fan-out baseline: a naive sse-starlette server, the way the design card warns against.

Run: ``python -m bench.naive_sse --port P --rate R [--seed S]`` (uvicorn, uvloop, httptools,
as tickwire). It publishes the same events as tickwire's synthetic feed
(``exchange.sim.feed.MarketSim`` items at ``R`` events/s, scheduled by time, ``ts``
stamped at publish) and fans them out the naive way: every subscriber of ``GET /md/stream``
has its own ``asyncio.Queue`` (bounded at 1,000 events so a stalled run cannot exhaust the
shared machine's memory; overflow is dropped and counted), and every event is JSON-encoded
(stdlib ``json``) and SSE-framed by sse-starlette once *per subscriber*.
``GET /stats`` answers ``{"subscribers", "dropped", "published"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from exchange.sim.feed import MarketSim

QUEUE_MAX = 1000
Item = tuple[str, str | None, dict[str, Any]]


class NaiveHub:
    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.seed = seed
        self.queues: set[asyncio.Queue[tuple[int, str, dict[str, Any]]]] = set()
        self.dropped = 0
        self.published = 0

    def publish(self, name: str, payload: dict[str, Any]) -> None:
        self.published += 1
        item = (self.published, name, payload)
        for q in self.queues:
            try:
                q.put_nowait(item)
            except asyncio.QueueFull:
                self.dropped += 1

    async def run(self) -> None:
        """The same schedule as ``exchange.sim.feed.run_synthetic_feed``."""
        import time

        sim = MarketSim(self.seed, symbols=("BTC-USD", "ETH-USD", "SOL-USD"))
        pending: deque[Item] = deque(("snapshot", p["symbol"], p) for p in sim.snapshots())
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        while True:
            due = int((loop.time() - start) * self.rate) - sent
            if due > 0:
                ts = time.time_ns()
                for _ in range(due):
                    if not pending:
                        pending.extend(sim.step())
                    name, _symbol, payload = pending.popleft()
                    if "ts" in payload:
                        payload["ts"] = ts
                    self.publish(name, payload)
                sent += due
            await asyncio.sleep(max(0.0005, start + (sent + 1) / self.rate - loop.time()))


def build_app(hub: NaiveHub) -> Starlette:
    async def stream(request: Request) -> EventSourceResponse:
        q: asyncio.Queue[tuple[int, str, dict[str, Any]]] = asyncio.Queue(QUEUE_MAX)
        hub.queues.add(q)

        async def events() -> AsyncIterator[ServerSentEvent]:
            try:
                while True:
                    offset, name, payload = await q.get()
                    yield ServerSentEvent(data=json.dumps(payload), event=name, id=str(offset))
            finally:
                hub.queues.discard(q)

        return EventSourceResponse(events(), ping=15)

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(
            {"subscribers": len(hub.queues), "dropped": hub.dropped, "published": hub.published}
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(hub.run()) if hub.rate > 0 else None
        yield
        if task is not None:
            task.cancel()

    return Starlette(
        routes=[Route("/md/stream", stream), Route("/stats", stats)], lifespan=lifespan
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    app = build_app(NaiveHub(a.rate, a.seed))
    uvicorn.run(
        app, host="127.0.0.1", port=a.port, loop="uvloop", http="httptools",
        log_level="warning", backlog=4096, timeout_graceful_shutdown=2,
    )  # fmt: skip


if __name__ == "__main__":
    main()
