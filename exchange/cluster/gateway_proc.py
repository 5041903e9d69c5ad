"""``tickwire gateway --redis URL --port P``: a gateway holding a replica of the engine.

Exports: ``GatewayNode``, ``run_gateway``.

``GatewayNode`` is an :class:`~exchange.node.ExchangeNode` without a journal or a sequencer
of its own. At start it takes the epoch and token secret from ``tw:meta`` (so tokens and
event ids agree with every other gateway), loads engine and hub from ``tw:snap``, then:

* applies ``tw:seq`` in order to its replica engine (deterministic: same state, same
  ``exec_seq``s and private events as the sequencer's); private events go through the
  existing :class:`~exchange.gateway.router.AccountRouter`, with the original ``Origin``
  when the correlation id is one of this gateway's, so replies carry their ``req_id``;
* follows market data from ``tw:md`` with :meth:`RedisBackend.follow` (same ids everywhere);
* ``submit(cmd, origin)`` XADDs to ``tw:cmd`` and returns the replica's events for that
  correlation id; after ``submit_timeout_s`` it raises ``TimeoutError`` (not known to be
  executed: a retry with the same client order id is safe).

A gap in ``tw:seq`` (the sequencer restarted, or Redis lost the stream) makes the replica
reload ``tw:snap``; its ``seq`` is at least the entry before the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import time
from collections import deque
from typing import Any

from redis.exceptions import RedisError

from exchange.cluster.bus import (
    CMD_STREAM,
    META_KEY,
    SEQ_STREAM,
    CmdEntry,
    SeqEntry,
    Snapshot,
    connect,
)
from exchange.config import Settings
from exchange.engine import Engine, render
from exchange.engine import types as t
from exchange.gateway.auth import TokenIssuer
from exchange.hub import MarketHub
from exchange.hub.redis_backend import RedisBackend
from exchange.journal.meta import Meta
from exchange.node import ExchangeNode
from exchange.sequencer import Origin, split_market

__all__ = ["GatewayNode", "run_gateway"]

log = logging.getLogger("tickwire.cluster.gateway")

_TRADES_KEPT = 1000
_CANDLES_KEPT = 1000


class _NoSequencer:
    """Stands where the single-process node keeps its sequencer (metrics read its depth)."""

    queue_depth = 0
    _pending: tuple[()] = ()

    async def stop(self) -> None:
        return None


class GatewayNode(ExchangeNode):
    """A gateway process's node; see the module docstring."""

    def __init__(
        self, settings: Settings, redis_url: str, *, submit_timeout_s: float = 10.0, **kw: Any
    ) -> None:
        super().__init__(settings, simulate=False, **kw)
        self.redis_url = redis_url
        self.gateway_id = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.submit_timeout_s = submit_timeout_s
        self.redis: Any = connect(redis_url)
        self.md_backend = RedisBackend(redis_url, history_size=settings.history_size)
        self.applied_seq = 0
        self._corr = itertools.count(1)
        self._waiting: dict[str, tuple[asyncio.Future[list[t.Event]], Origin | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.sequencer = _NoSequencer()

    def recover(self) -> None:
        """Nothing local to recover: the state comes from Redis in ``start``."""

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        import anyio

        self.shutdown_event = anyio.Event()
        meta = await self._wait_for(self._load_meta, "tw:meta (is the engine running?)")
        self.meta = meta
        self.issuer = TokenIssuer(meta.secret, self.settings.token_ttl_s)
        snap = await self._wait_for(lambda: Snapshot.load(self.redis), "tw:snap")
        self._load_snapshot(snap, with_hub=True)
        await self.md_backend.follow(self.hub)
        self._task = asyncio.create_task(self._apply_loop(), name="replica")
        log.info("gateway %s: replica at seq %d, market data at offset %d",
                 self.gateway_id, self.applied_seq, self.hub.last_offset)  # fmt: skip

    async def _wait_for(self, fetch: Any, what: str, timeout: float = 240.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await fetch()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} in Redis at {self.redis_url}")
            await asyncio.sleep(0.1)

    async def _load_meta(self) -> Meta | None:
        raw = await self.redis.hgetall(META_KEY)
        if b"epoch" not in raw or b"secret" not in raw:
            return None
        return Meta(raw[b"epoch"].decode(), bytes.fromhex(raw[b"secret"].decode()))

    def _load_snapshot(self, snap: Snapshot, *, with_hub: bool) -> None:
        self.engine = Engine.from_snapshot(snap.engine)
        if with_hub:
            self.hub = MarketHub.from_state(snap.hub, buffer_events=self.settings.subscriber_buffer)
        self.applied_seq = snap.seq

    # ------------------------------------------------------------------ the replica

    async def _apply_loop(self) -> None:
        delay = 0.05
        while True:
            try:
                reply = await self.redis.xread(
                    {SEQ_STREAM: f"{self.applied_seq}-0"}, count=1000, block=1000
                )
                for _stream, entries in reply or ():
                    for eid, fields in entries:
                        entry = SeqEntry.parse(eid, fields)
                        if entry.seq > self.applied_seq + 1:
                            await self._reload(entry.seq)
                            break  # read again from the reloaded position
                        if entry.seq == self.applied_seq + 1:
                            self.apply(entry)
                delay = 0.05
            except (RedisError, OSError) as exc:
                log.error("Redis unreachable while following %s: %s", SEQ_STREAM, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _reload(self, next_seq: int) -> None:
        snap = await Snapshot.load(self.redis)
        if snap is None or snap.seq < next_seq - 1:
            log.warning("gap in %s before %d and no snapshot covers it yet; waiting",
                        SEQ_STREAM, next_seq)  # fmt: skip
            await asyncio.sleep(0.2)
            return
        log.warning("gap in %s (at %d, next %d): replica reloaded from the snapshot at %d",
                    SEQ_STREAM, self.applied_seq, next_seq, snap.seq)  # fmt: skip
        self._load_snapshot(snap, with_hub=False)

    def apply(self, entry: SeqEntry) -> None:
        """Apply one sequenced command: route its private events, resolve a waiting submit."""
        cmd = entry.command()
        events: list[t.Event] = self.engine.handle(cmd)
        self.applied_seq = entry.seq
        waiting = self._waiting.pop(entry.corr, None) if entry.gateway == self.gateway_id else None
        private, market = split_market(events)
        if private:
            try:
                self.router.deliver(private, waiting[1] if waiting is not None else None)
            except Exception:  # a delivery bug must not stop the replica
                log.exception("delivery failed")
        for ev in market:
            self._keep_market(ev)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_result(events)

    def _keep_market(self, ev: t.Event) -> None:
        """Recent trades and candles for REST (the hub follows ``tw:md`` on its own)."""
        if not isinstance(ev, (t.Trade, t.Candle)):
            return
        name, data = render.render_market(ev, self.engine)
        if name == "trade":
            self.trades.setdefault(ev.symbol, deque(maxlen=_TRADES_KEPT)).append(data)
        elif name == "candle":
            key = (ev.symbol, data["interval"])
            q = self.candles.setdefault(key, deque(maxlen=_CANDLES_KEPT))
            if q and q[-1]["t"] == data["t"]:
                q[-1] = data
            else:
                q.append(data)

    # ------------------------------------------------------------------ commands

    async def submit(self, cmd: t.Command, origin: Origin | None = None) -> list[t.Event]:
        corr = str(next(self._corr))
        fut: asyncio.Future[list[t.Event]] = asyncio.get_running_loop().create_future()
        self._waiting[corr] = (fut, origin)
        try:
            await self.redis.xadd(CMD_STREAM, CmdEntry(self.gateway_id, corr, cmd).fields(),
                                  maxlen=1_000_000, approximate=True)  # fmt: skip
            return await asyncio.wait_for(fut, self.submit_timeout_s)
        finally:
            self._waiting.pop(corr, None)

    async def stop(self) -> None:
        self.begin_shutdown()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.md_backend.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()


def run_gateway(settings: Settings, redis_url: str) -> int:
    """Serve HTTP on ``settings.port`` until SIGINT/SIGTERM; 1 when Redis is unreachable."""
    from exchange.cluster.bus import check_redis
    from exchange.gateway.app import create_app
    from exchange.gateway.server import build_server

    problem = asyncio.run(check_redis(redis_url))
    if problem is not None:
        print(f"tickwire gateway: {problem}", flush=True)
        return 1
    app = create_app(settings, GatewayNode(settings, redis_url))
    server = build_server(app, settings)
    print(f"tickwire gateway on http://{settings.host}:{settings.port} (Redis {redis_url})",
          flush=True)  # fmt: skip
    server.run()
    return 0
