"""``tickwire gateway --redis URL --port P``: a gateway holding a replica of the engine.

Exports: ``gateway_node``, ``RedisReplica``, ``Unconfirmed``, ``run_gateway`` (and
``NOT_EXECUTED``, re-exported from ``shared.errors``).

``gateway_node(settings, redis_url)`` is an :class:`~exchange.node.ExchangeNode` over a
``RedisReplica`` backend instead of a journal and a sequencer of its own (the node serves the
transports as any node does; the backend is where its state comes from and its commands go).
At start the replica takes the epoch and token secret from ``tw:meta`` (so tokens and
event ids agree with every other gateway), loads engine and hub from ``tw:snap``, then:

* applies ``tw:seq`` in order to its replica engine (deterministic: same state, same
  ``exec_seq``s and private events as the sequencer's); private events go through the
  existing :class:`~exchange.node.delivery.PrivateDelivery`, with the original ``Origin``
  when the correlation id is one of this gateway's, so replies carry their ``req_id``;
* follows market data from ``tw:md`` with :meth:`RedisBackend.follow` (same ids everywhere);
* ``submit(cmd, origin)`` XADDs to ``tw:cmd`` and returns the replica's events for that
  correlation id. Without an answer after ``fence_after_s`` it XADDs a fence for the entry
  (again every ``refence_s``, in case Redis lost it): the sequencer reads ``tw:cmd`` in
  order, so when it reaches the fence it knows whether the command was executed, and
  answers "not executed" on ``tw:nx`` (deleting the entry, so it never runs). Then:

  - executed: the replica's events, as usual (also after a sequencer restart: the engine
    writes journaled commands ``tw:seq`` lacks);
  - not executed: an ``OrderRejected`` with code ``NOT_EXECUTED``, delivered like any reject
    (nothing changed; the key is not used up: a retry places the order);
  - no answer within ``submit_timeout_s`` (the sequencer is down, or Redis too): raises
    :class:`Unconfirmed` (a ``TimeoutError``): the command may still run once the sequencer
    is back; a retry with the same key is safe and says which. No ack is ever invented.

A gap in ``tw:seq`` (the sequencer restarted, or Redis lost the stream) makes the replica
reload ``tw:snap``; its ``seq`` is at least the entry before the gap. A hole in ``tw:md`` that
the engine does not fill (Redis restarted empty and this gateway was behind the engine's
retained history) makes the gateway rebuild its hub from ``tw:snap``: its streams end (SSE
ends, ``/ws/md`` closes with 1012, ``/ws`` sends ``SUBSCRIPTION_ENDED``), and clients
resuming with their last id (``Last-Event-ID``, ``after``) continue exactly or get ``reset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import time
from typing import Any

from redis.exceptions import RedisError

from exchange.cluster import gauges
from exchange.cluster.bus import (
    CMD_STREAM,
    META_KEY,
    NX_STREAM,
    SEQ_STREAM,
    STATS_KEY,
    CmdEntry,
    FenceEntry,
    SeqEntry,
    Snapshot,
    connect,
    stream_id_key,
)
from exchange.config import Settings
from exchange.engine import Engine, render
from exchange.engine import types as t
from exchange.hub import MarketHub
from exchange.hub.redis_backend import RedisBackend, read_forever
from exchange.journal.meta import Meta
from exchange.node import ExchangeNode
from exchange.node.auth import TokenIssuer
from exchange.sequencer import Origin, split_market
from shared.errors import NOT_EXECUTED

__all__ = ["NOT_EXECUTED", "RedisReplica", "Unconfirmed", "gateway_node", "run_gateway"]


class Unconfirmed(TimeoutError):
    """No confirmation in time: the command may still be executed; retrying it (the same
    client order id) is safe and tells which. Transports answer ``UNCONFIRMED``."""


class _NotExecuted(Exception):
    """The sequencer's answer to a fence: the entry was not executed and never will be."""


log = logging.getLogger("tickwire.cluster.gateway")


class RedisReplica:
    """A gateway process's node backend (a ``NodeBackend``); see the module docstring."""

    #: Every command is a Redis round trip with its own outcome (executed, not executed,
    #: unconfirmed): order connections await each one.
    pipelined = False
    #: Nothing is refused for a local reason: the engine process owns the journal.
    failure: BaseException | None = None
    #: Commands are queued in Redis, not here (``tickwire_cluster_pending_submits``).
    queue_depth = 0

    def __init__(
        self,
        node: ExchangeNode,
        redis_url: str,
        *,
        submit_timeout_s: float = 30.0,
        fence_after_s: float = 2.0,
        refence_s: float = 5.0,
    ) -> None:
        self.node = node
        settings = node.settings
        self.redis_url = redis_url
        self.gateway_id = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.submit_timeout_s = submit_timeout_s
        self.fence_after_s = fence_after_s
        self.refence_s = refence_s
        self.redis: Any = connect(redis_url)
        self.md_backend = RedisBackend(redis_url, history_size=settings.history_size)
        self.md_backend.on_gap = self._on_md_gap
        self.applied_seq = 0
        self._corr = itertools.count(1)
        self._waiting: dict[str, tuple[asyncio.Future[list[t.Event]], Origin | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.cmd_xadds = 0  # tw:cmd XADDs awaiting Redis
        self.seq_lag = 0
        self.md_lag = 0
        self.engine_stats: dict[str, int] = {}
        self.outcomes: dict[str, int] = {"executed": 0, "not_executed": 0, "unconfirmed": 0}
        gauges.register(self)

    def recover(self) -> None:
        """Nothing local to recover: the state comes from Redis in ``start``."""

    async def durable(self) -> None:
        """The replica holds only what the sequencer released: every answer is durable."""

    def unreleased(self) -> tuple[()]:
        return ()

    def submit_nowait(self, cmd: t.Command, origin: Origin | None) -> None:
        raise TypeError("a gateway's commands are not pipelined: await submit")

    async def start(self) -> None:
        meta = await self._wait_for(self._load_meta, "tw:meta (is the engine running?)")
        self.node.meta = meta
        self.node.issuer = TokenIssuer(meta.secret, self.node.settings.token_ttl_s)
        snap = await self._wait_for(lambda: Snapshot.load(self.redis), "tw:snap")
        self._load_snapshot(snap, with_hub=True)
        await self.md_backend.follow(self.node.hub)
        nx_top = await self.redis.xrevrange(NX_STREAM, count=1)
        nx_after = nx_top[0][0].decode() if nx_top else "0-0"
        for coro, name in [(self._apply_loop(), "replica"), (self._nx_loop(nx_after), "nx"),
                           (self._watch(), "watch")]:  # fmt: skip
            self._tasks.append(asyncio.create_task(coro, name=name))
        log.info("gateway %s: replica at seq %d, market data at offset %d",
                 self.gateway_id, self.applied_seq, self.node.hub.last_offset)  # fmt: skip

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
        self.node.engine = Engine.from_snapshot(snap.engine)
        if with_hub:
            self.node.hub = MarketHub.from_state(
                snap.hub,
                buffer_events=self.node.settings.subscriber_buffer,
                **self.node.hub_runtime(),
            )
        self.applied_seq = snap.seq

    # ------------------------------------------------------------------ the replica

    async def _apply_loop(self) -> None:
        what = f"{SEQ_STREAM} (orders wait or time out as UNCONFIRMED)"
        while True:
            try:
                async for entries in read_forever(
                    self.redis, SEQ_STREAM, lambda: f"{self.applied_seq}-0", what=what,
                    logger=log,
                ):  # fmt: skip
                    for eid, fields in entries:
                        entry = SeqEntry.parse(eid, fields)
                        if entry.seq > self.applied_seq + 1:
                            await self._reload(entry.seq)
                            break  # read again from the reloaded position
                        if entry.seq == self.applied_seq + 1:
                            self.apply(entry)
            except (RedisError, OSError) as exc:  # the reload's own reads failed
                log.error("reloading the replica failed (retrying): %s", exc)
                await asyncio.sleep(0.5)

    async def _nx_loop(self, after: str) -> None:
        """Follow ``tw:nx``: a command of this gateway the sequencer did not execute."""
        # the position is read late on purpose: each XREAD starts after the last entry seen;
        # an outage is logged by the replica's loop
        position = lambda: after  # noqa: E731
        async for entries in read_forever(
            self.redis, NX_STREAM, position, what=NX_STREAM, logger=None
        ):
            for eid, fields in entries:
                after = eid.decode()
                if fields.get(b"g", b"").decode() != self.gateway_id:
                    continue
                waiting = self._waiting.get(fields[b"c"].decode())
                if waiting is not None and not waiting[0].done():
                    waiting[0].set_exception(_NotExecuted(fields[b"x"].decode()))

    async def _watch(self) -> None:
        """Every second: lags behind the streams' heads and the engine's stats (metrics)."""
        while True:
            await asyncio.sleep(1.0)
            try:
                top = await self.redis.xrevrange(SEQ_STREAM, count=1)
                head = stream_id_key(top[0][0].decode())[0] if top else self.applied_seq
                self.seq_lag = max(0, head - self.applied_seq)
                self.md_lag = max(0, await self.md_backend.head() - self.node.hub.last_offset)
                raw = await self.redis.hgetall(STATS_KEY)
                self.engine_stats = {k.decode(): int(v) for k, v in raw.items()}
            except (RedisError, OSError, ValueError):
                pass

    def _on_md_gap(self) -> None:
        """``tw:md`` has a hole the engine did not fill: rebuild the hub from ``tw:snap``."""
        task = asyncio.get_running_loop().create_task(self._rebuild_hub(), name="rebuild-hub")
        self._tasks.append(task)

    async def _rebuild_hub(self) -> None:
        while True:
            try:
                snap = await Snapshot.load(self.redis)
                if snap is not None:
                    old = self.node.hub
                    self.node.hub = MarketHub.from_state(
                        snap.hub,
                        buffer_events=self.node.settings.subscriber_buffer,
                        **self.node.hub_runtime(),
                    )
                    old.close()  # streams end (1012 / SUBSCRIPTION_ENDED): clients resume here
                    await self.md_backend.follow(self.node.hub)
                    log.warning("market data rebuilt from tw:snap at offset %d",
                                self.node.hub.last_offset)  # fmt: skip
                    return
            except (RedisError, OSError) as exc:
                log.warning("rebuilding market data: %s", exc)
            await asyncio.sleep(0.5)

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
        events: list[t.Event] = self.node.engine.handle(cmd)
        self.applied_seq = entry.seq
        waiting = self._waiting.pop(entry.corr, None) if entry.gateway == self.gateway_id else None
        private, market = split_market(events)
        if private:
            try:
                self.node.delivery.deliver(private, waiting[1] if waiting is not None else None)
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
        name, data = render.render_market(ev, self.node.engine)
        self.node.recent.keep(name, ev.symbol, data)

    # ------------------------------------------------------------------ commands

    async def submit(self, cmd: t.Command, origin: Origin | None) -> list[t.Event]:
        """Run ``cmd`` on the sequencer; see the module docstring for the three outcomes."""
        corr = str(next(self._corr))
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[t.Event]] = loop.create_future()
        self._waiting[corr] = (fut, origin)
        deadline = loop.time() + self.submit_timeout_s
        try:
            try:
                self.cmd_xadds += 1
                raw_id = await self.redis.xadd(
                    CMD_STREAM, CmdEntry(self.gateway_id, corr, cmd).fields(),
                    maxlen=1_000_000, approximate=True,
                )  # fmt: skip
            except (RedisError, OSError) as exc:
                self.outcomes["unconfirmed"] += 1
                raise Unconfirmed(f"Redis unreachable: {exc}; retrying is safe") from exc
            finally:
                self.cmd_xadds -= 1
            cmd_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            wait = self.fence_after_s
            while True:
                left = deadline - loop.time()
                if left <= 0 and fut.done():  # answered just as time ran out: take it
                    events = fut.result()  # raises _NotExecuted when that was the answer
                    self.outcomes["executed"] += 1
                    return events
                if left <= 0:
                    self.outcomes["unconfirmed"] += 1
                    raise Unconfirmed(
                        f"not confirmed in {self.submit_timeout_s:g} s (is the sequencer "
                        "running?); it may still be executed; retrying with the same "
                        "client_order_id is safe and tells the outcome"
                    )
                try:
                    events = await asyncio.wait_for(asyncio.shield(fut), min(wait, left))
                    self.outcomes["executed"] += 1
                    return events
                except TimeoutError:
                    await self._fence(corr, cmd_id)
                    wait = self.refence_s
        except _NotExecuted:
            self.outcomes["not_executed"] += 1
            return self._not_executed(cmd, origin)
        finally:
            self._waiting.pop(corr, None)

    async def _fence(self, corr: str, cmd_id: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.xadd(CMD_STREAM, FenceEntry(self.gateway_id, corr, cmd_id).fields(),
                                  maxlen=1_000_000, approximate=True)  # fmt: skip

    def _not_executed(self, cmd: t.Command, origin: Origin | None) -> list[t.Event]:
        """The reject of a command the sequencer confirmed it never executed."""
        account = getattr(cmd, "account", "")
        coid = getattr(cmd, "client_order_id", None)
        ev = t.OrderRejected(account, coid, NOT_EXECUTED,
                             "not executed (the exchange lost it in a restart); nothing "
                             "changed: send it again")  # fmt: skip
        with contextlib.suppress(Exception):
            self.node.delivery.deliver([ev], origin)
        return [ev]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for fut, _origin in self._waiting.values():
            if not fut.done():
                fut.cancel()
        await self.md_backend.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()


def gateway_node(settings: Settings, redis_url: str, **options: Any) -> ExchangeNode:
    """A node over a ``RedisReplica`` of the engine at ``redis_url`` (``options``: its
    timeouts), serving what every node serves; ``node.backend`` is the replica."""
    return ExchangeNode(
        settings, simulate=False, backend=lambda node: RedisReplica(node, redis_url, **options)
    )


def run_gateway(settings: Settings, redis_url: str) -> int:
    """Serve HTTP on ``settings.port`` until SIGINT/SIGTERM; 1 when Redis is unreachable."""
    from exchange.cluster.bus import check_redis
    from exchange.gateway.app import create_app
    from exchange.gateway.server import build_server

    problem = asyncio.run(check_redis(redis_url))
    if problem is not None:
        print(f"tickwire gateway: {problem}", flush=True)
        return 1
    # how long a client waits for a command's outcome before UNCONFIRMED (tests raise it)
    timeout = float(os.environ.get("TICKWIRE_CLUSTER_SUBMIT_TIMEOUT_S", "30"))
    app = create_app(settings, gateway_node(settings, redis_url, submit_timeout_s=timeout))
    server = build_server(app, settings)
    print(f"tickwire gateway on http://{settings.host}:{settings.port} (Redis {redis_url})",
          flush=True)  # fmt: skip
    server.run()
    return 0
