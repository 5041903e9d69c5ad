"""One exchange instance: engine, journal, hub, sequencer, router and simulator, wired.

Exports: ``ExchangeNode``.

``ExchangeNode(settings)`` builds everything; ``await node.start()`` recovers the data
directory (newest snapshot + journal tail, so the ``state_hash``, the market-data history and
its epoch are those of before the stop), then starts the group commit and the simulator.
``await node.stop()`` stops the simulator, releases what is pending, syncs the journal and
writes a final snapshot. The gateway reads the node; only the sequencer writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import anyio
import orjson

from exchange.config import Settings
from exchange.engine import Engine, render
from exchange.engine import types as t
from exchange.hub import MarketHub
from exchange.journal import Journal, decode_command, encode_command, load_or_create
from exchange.journal.log import ForkedSnapshot
from exchange.node.auth import TokenIssuer
from exchange.node.delivery import Outbox, PrivateDelivery
from exchange.node.metrics import Metrics
from exchange.node.ratelimit import BucketMap, TokenBucket
from exchange.node.recent import RecentMarket
from exchange.sequencer import Origin, Sequencer
from exchange.sim.feed import run_synthetic_feed
from shared.values import format_units, to_units

__all__ = ["ExchangeNode"]

log = logging.getLogger("tickwire.node")


def _pack_snapshot(engine_state: bytes, hub_state: bytes) -> bytes:
    return struct.pack(">I", len(engine_state)) + engine_state + hub_state


def _unpack_snapshot(data: bytes) -> tuple[bytes, bytes]:
    (n,) = struct.unpack_from(">I", data)
    return data[4 : 4 + n], data[4 + n :]


class _PublishTap:
    """Sits in front of the hub: keeps recent trades and candles for REST, then publishes."""

    def __init__(self, node: ExchangeNode) -> None:
        self.node = node

    def publish(self, items: Sequence[tuple[str, str | None, dict[str, Any]]], ts: int) -> None:
        node = self.node
        keep = node.recent.keep
        for name, symbol, data in items:
            keep(name, symbol, data)
        node.hub.publish(items, ts)


class ExchangeNode:
    """Everything one single-process exchange needs; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        symbols: Sequence[t.SymbolSpec] | None = None,
        clock: Callable[[], int] = time.time_ns,
        simulate: bool | None = None,
    ) -> None:
        from exchange.sim.symbols import DEFAULT_SYMBOLS

        self.settings = settings
        self.clock = clock
        all_specs = list(symbols) if symbols is not None else list(DEFAULT_SYMBOLS)
        if settings.symbols:
            by_name = {s.symbol: s for s in all_specs}
            unknown = [s for s in settings.symbols if s not in by_name]
            if unknown:
                raise ValueError(f"unknown symbols: {', '.join(unknown)}")
            all_specs = [by_name[s] for s in settings.symbols]
        self.symbol_specs = all_specs
        self.simulate = settings.sim_rate > 0 if simulate is None else simulate
        self.metrics = Metrics()
        self.metrics.watch_hub(lambda: self.hub)
        self.data_dir = Path(settings.data_dir)
        self.meta = load_or_create(self.data_dir)
        self.issuer = TokenIssuer(self.meta.secret, settings.token_ttl_s)
        self.engine: Any = None
        self.hub: Any = None
        self.journal: Any = None
        self._snapshot_job: ForkedSnapshot | None = None
        self._snapshot_loop: asyncio.AbstractEventLoop | None = None
        self.sequencer: Any = None
        self.delivery = PrivateDelivery(self.render_private)
        self.recent = RecentMarket()  # trades and candles for REST
        self._account_buckets: dict[str, TokenBucket] = {}
        #: Order ops per client address, over all its accounts (REST and WebSocket).
        self.ip_order_buckets = BucketMap(settings.ip_order_rate, settings.ip_order_burst)
        #: New accounts opened per client address (``POST /api/sessions``).
        self.account_create_buckets = BucketMap(
            settings.account_create_rate, settings.account_create_burst
        )
        self._sim_task: asyncio.Task[None] | None = None
        #: Order sources besides traders and the simulator (replay): each is called as
        #: ``await source(node, stop)`` once the node has started, and must return when
        #: ``stop`` is set; it submits through ``node.submit`` like any trader.
        self.sources: list[Callable[[ExchangeNode, asyncio.Event], Coroutine[Any, Any, None]]] = []
        self._source_tasks: list[asyncio.Task[None]] = []
        #: The ``exchange.replay.driver.ReplayDriver`` when this node replays a recording.
        self.replay: Any = None
        self._md_task: asyncio.Task[None] | None = None
        self._sim_stop = asyncio.Event()
        self.shutdown_event: anyio.Event | None = None
        self.shutting_down = False
        self.websockets: set[Any] = set()
        #: Transports of open SSE streams (aborted at shutdown if their reader stalled).
        self.stream_transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self._stop_signals: weakref.WeakSet[anyio.Event] = weakref.WeakSet()
        self.recovery_notes: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    def _new_engine(self) -> Any:
        s = self.settings
        return Engine(
            self.symbol_specs,
            maker_fee_bps=s.maker_fee_bps,
            taker_fee_bps=s.taker_fee_bps,
            exec_history=s.exec_history,
        )

    def hub_runtime(self) -> dict[str, Any]:
        """The hub's delivery settings (not saved in its state: they apply to this run)."""
        s = self.settings
        return {
            "stall_s": s.subscriber_stall_s,
            "keepalive_s": s.sse_heartbeat_s,
        }

    def _new_hub(self) -> Any:
        s = self.settings
        return MarketHub(
            self.meta.epoch,
            history_size=s.history_size,
            history_age_ns=int(s.history_age_s * 1e9),
            buffer_events=s.subscriber_buffer,
            **self.hub_runtime(),
        )

    def recover(self) -> None:
        """Open the journal and rebuild engine and hub from snapshot + tail (synchronous)."""
        s = self.settings
        self.journal = Journal.open(self.data_dir / "journal", s.fsync)  # type: ignore[arg-type]
        rec = self.journal.recover()
        self.recovery_notes = list(rec.notes)
        for note in rec.notes:
            log.warning("journal recovery: %s", note)
        if rec.snapshot is not None:
            engine_state, hub_state = _unpack_snapshot(rec.snapshot)
            self.engine = Engine.from_snapshot(engine_state)
            self.hub = MarketHub.from_state(hub_state, **self.hub_runtime())
        else:
            self.engine = self._new_engine()
            self.hub = self._new_hub()
            self.hub.seed(
                [
                    render.render_snapshot(self.engine.book_snapshot(sp.symbol), self.engine)
                    for sp in self.symbol_specs
                ],
                0,
            )
        self.sequencer = Sequencer(
            self.engine,
            _PublishTap(self),
            self.journal,
            deliver=self.delivery.deliver,
            render_market=render.render_market,
            encode_command=encode_command,
            clock=self.clock,
            fsync=s.fsync,
            batch_window_s=s.batch_window_ms / 1000,
            snapshot_every=s.snapshot_every,
            snapshot=self.write_snapshot,
            metrics=self.metrics,
            release_bracket=(Outbox.begin_batch, Outbox.end_batch),
        )
        # replay the tail: the engine and the hub's history come back exactly as they were;
        # a tail written with market batches has its Publish records, and is replayed so
        commands = [decode_command(payload) for _seq, payload in rec.records]
        tail_batches = any(type(cmd) is t.Publish for cmd in commands)
        self.engine.set_market_batches(tail_batches)
        self.sequencer.replay(commands)
        # what a crash left unpublished goes out now (journaled), then this run's setting
        self.sequencer.publish_now()
        self.engine.set_market_batches(s.market_batches)
        if commands and tail_batches != s.market_batches:
            # The journal tells a tail's mode only by its Publish records, so a tail of two
            # modes would be replayed in one. A snapshot now (inline: it must be on disk
            # before this run appends a record) starts this run's tail clean.
            self._snapshot_after_recovery()
        log.info(
            "recovered: snapshot at %d, %d journal records replayed, state %s",
            rec.snapshot_seq, len(rec.records), self.engine.state_hash()[:12],
        )  # fmt: skip

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.shutdown_event = anyio.Event()
        if self.engine is None:
            self.recover()
        await self.sequencer.start()
        if self.simulate:
            self._sim_task = asyncio.create_task(self._run_sim(), name="simulator")
        for source in self.sources:
            self._source_tasks.append(
                asyncio.create_task(
                    source(self, self._sim_stop), name=getattr(source, "__name__", "source")
                )
            )
        if self.settings.md_synthetic_rate > 0:
            self._md_task = asyncio.create_task(
                run_synthetic_feed(
                    lambda items, ts: self.hub.publish(items, ts),  # the hub may be rebuilt
                    self.clock,
                    self.settings.md_synthetic_rate,
                    self.settings.seed,
                    tuple(sp.symbol for sp in self.symbol_specs),
                    self._sim_stop,
                ),
                name="synthetic-md",
            )

    async def _run_sim(self) -> None:
        from exchange.sim import EngineMarketView, Simulator, run_simulator

        # a fresh run id per start keeps the agents' client_order_ids unique across restarts
        run_id = f"r{self.journal.last_seq if self.journal is not None else 0}"
        sim = Simulator(
            self.symbol_specs, seed=self.settings.seed, rate=self.settings.sim_rate, run_id=run_id
        )
        try:
            await run_simulator(
                sim, self.submit, EngineMarketView(self.engine), self.clock, self._sim_stop
            )
        except Exception:
            log.exception("simulator stopped")

    async def stop(self) -> None:
        self.begin_shutdown()
        self._sim_stop.set()
        if self._md_task is not None:
            self._md_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._md_task
        for task in [self._sim_task, *self._source_tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 2.0)
        if self.sequencer is not None:
            await self.sequencer.stop()
        if self.journal is not None:
            self._snapshot_written()  # a snapshot child still writing: wait for it
            self.journal.close()
            self.journal = None

    def stop_signal(self) -> anyio.Event:
        """An event set when the node shuts down (already set if it has): ends a stream."""
        ev = anyio.Event()
        if self.shutting_down:
            ev.set()
        else:
            self._stop_signals.add(ev)
        return ev

    def begin_shutdown(self) -> None:
        """Stop accepting work and end every stream (the first step of a clean stop)."""
        self.shutting_down = True
        if self.shutdown_event is not None:
            self.shutdown_event.set()
        for ev in list(self._stop_signals):
            ev.set()
        self._stop_signals.clear()
        if self.hub is not None:
            self.hub.close()  # every subscription ends: streams finish, polls answer

    def _snapshot_after_recovery(self) -> None:
        """The snapshot ``recover`` asks for after a tail in the other mode (inline)."""
        self.write_snapshot(inline=True)

    def write_snapshot(self, inline: bool = False) -> None:
        """Snapshot engine and hub state after the last journal record (``inline``: here
        and now, not in a forked child).

        Forked (``snapshot_fork``, the default on POSIX inside the event loop): a child
        serializes its copy-on-write image while this process goes on, so no connection
        waits (serializing inline took 1 s at 50,000 resting orders). One at a time: while a
        child still writes, the next request is skipped (the one after it will run).
        """
        journal = self.journal
        if journal is None or self._snapshot_job is not None:
            return
        engine, hub = self.engine, self.hub

        def make() -> bytes:
            return _pack_snapshot(engine.to_snapshot(), hub.to_state())

        loop = _running_loop()
        if not inline and self.settings.snapshot_fork and hasattr(os, "fork") and loop is not None:
            job = self._snapshot_job = journal.fork_snapshot(make)
            self._snapshot_loop = loop
            loop.add_reader(job.fd, self._snapshot_written)
            return
        journal.write_snapshot(journal.last_seq, make())

    def _snapshot_written(self) -> None:
        """Reap the snapshot child (when it ended, or blocking at shutdown)."""
        job, loop = self._snapshot_job, self._snapshot_loop
        if job is None:
            return
        self._snapshot_job = self._snapshot_loop = None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(job.fd)
        if self.journal is None:
            return
        if self.journal.finish_snapshot(job):
            log.info(
                "snapshot at record %d written by child %d in %.2f s",
                job.seq,
                job.pid,
                time.perf_counter() - job.started,
            )
        else:
            log.error("snapshot at record %d failed in child %d (see stderr)", job.seq, job.pid)

    # ------------------------------------------------------------------ commands

    #: ``submit_nowait`` is available: order connections pipeline (see ``ws_orders``).
    pipelined = True

    async def submit(self, cmd: t.Command, origin: Origin | None = None) -> list[t.Event]:
        events: list[t.Event] = await self.sequencer.submit(cmd, origin)
        return events

    def submit_nowait(
        self, cmd: t.Command, origin: Origin | None = None
    ) -> asyncio.Future[Any] | None:
        """Sequence ``cmd`` without waiting for its group commit or loop turn
        (``Sequencer.submit_nowait``): the replies reach ``origin`` on release; the future
        fails if the journal did."""
        _, fut = self.sequencer.submit_nowait(cmd, origin)
        return fut

    async def ensure_account(self, account: str) -> None:
        if self.engine.account_view(account) is not None:
            return
        cd = self.engine.cash_decimals
        positions = tuple(
            (sp.symbol, to_units(self.settings.demo_position, sp.qty_decimals))
            for sp in self.symbol_specs
        )
        costs = tuple(
            (symbol, price * qty * self.engine.scale[symbol])
            for symbol, qty in positions
            if (price := self.reference_price(symbol)) is not None
        )
        await self.submit(
            t.OpenAccount(
                account,
                cash=to_units(self.settings.demo_cash, cd),
                positions=positions,
                costs=costs,
            )
        )

    def reference_price(self, symbol: str) -> int | None:
        """The price (units) a demo account's starting inventory is booked at: the last trade,
        else the mid of the book (rounded down to a tick), else None (booked at cost 0)."""
        market = self.engine.markets.get(symbol)
        if market is not None and market.last is not None:
            return market.last
        book = self.engine.books.get(symbol)
        if book is None:
            return None
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return bid if ask is None else ask
        tick = self.engine.specs[symbol].tick_size
        return (bid + ask) // 2 // tick * tick

    def check_account_secret(self, account: str, secret: str | None) -> bool:
        import hmac

        expected = self.settings.extra.get(f"account.{account}")
        return expected is not None and secret is not None and hmac.compare_digest(expected, secret)

    def account_bucket(self, account: str) -> TokenBucket:
        bucket = self._account_buckets.get(account)
        if bucket is None:
            s = self.settings
            bucket = self._account_buckets[account] = TokenBucket(s.account_rate, s.account_burst)
        return bucket

    def released_exec_seq(self, account: str) -> int:
        """The last ``exec_seq`` of ``account`` that clients may have seen (released)."""
        latest: int = self.engine.latest_exec_seq(account)
        unreleased = getattr(self.sequencer, "unreleased", None)
        for pending in unreleased() if unreleased is not None else ():
            for ev in pending.events:
                seq = getattr(ev, "exec_seq", None)
                if seq is not None and getattr(ev, "account", None) == account:
                    return min(latest, seq - 1)
        return latest

    # ------------------------------------------------------------------ reads and rendering

    def render_private(self, ev: t.Event) -> dict[str, Any]:
        msg: dict[str, Any] = render.render_private(ev, self.engine)
        return msg

    def render_order(self, view: t.OrderView) -> dict[str, Any]:
        msg: dict[str, Any] = render.render_order(view, self.engine)
        return msg

    def symbol_infos(self) -> list[dict[str, Any]]:
        out = []
        for sp in self.symbol_specs:
            out.append(
                {
                    "symbol": sp.symbol,
                    "tick_size": format_units(sp.tick_size, sp.price_decimals),
                    "lot_size": format_units(sp.lot_size, sp.qty_decimals),
                    "min_qty": format_units(sp.min_qty, sp.qty_decimals),
                    "price_decimals": sp.price_decimals,
                    "qty_decimals": sp.qty_decimals,
                }
            )
        return out

    def book_payload(self, symbol: str, depth: int | None) -> bytes:
        """The hub's book (what subscribers have been sent), best ``depth`` levels."""
        ev = self.hub.snapshot_event(symbol)
        if depth is None:
            return bytes(ev.data)
        data = orjson.loads(ev.data)
        data["bids"], data["asks"] = data["bids"][:depth], data["asks"][:depth]
        return orjson.dumps(data)

    def recent_trades(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        return self.recent.trades(symbol, limit)

    def recent_candles(self, symbol: str, interval: str, limit: int) -> list[dict[str, Any]]:
        return self.recent.candles(symbol, interval, limit)

    def account_payload(self, account: str) -> dict[str, Any]:
        view = self.engine.account_view(account)
        if view is None:
            return {"account": account, "balances": {}, "positions": [], "latest_exec_seq": 0}
        msg: dict[str, Any] = render.render_account(view, self.engine)
        msg["latest_exec_seq"] = self.released_exec_seq(account)
        return msg

    # ------------------------------------------------------------------ bookkeeping

    def track_ws(self, ws: Any, delta: int, kind: str = "ws") -> None:
        self.metrics.connections.labels(kind).inc(delta)
        if delta > 0:
            self.websockets.add(ws)
        else:
            self.websockets.discard(ws)

    def note_resume(self, transport: str, sub: Any, resume_from: str | None) -> None:
        if resume_from:
            outcome = "exact" if sub.resume_outcome == "exact" else "reset"
            self.metrics.resume_counter(transport, outcome).inc()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
