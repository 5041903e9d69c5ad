"""The single-process node's backend: its own journal, sequencer and snapshots.

Exports: ``LocalBackend``, ``NodeBackend``.

A node (``ExchangeNode``) serves transports; its *backend* says where its state comes from
and where its commands go. ``NodeBackend`` is that contract; ``LocalBackend`` is the default
one: ``recover`` opens the data directory (newest snapshot + journal tail, so the
``state_hash``, the market-data history and its epoch are those of before the stop),
``start`` starts the group commit, the simulator and the node's other order sources,
``stop`` stops them, releases what is pending, syncs the journal and reaps a snapshot child.
The cluster's gateway has another backend (``exchange.cluster.gateway_proc.RedisReplica``):
a replica engine fed from Redis, commands sent to the engine process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from exchange.config import Settings
from exchange.engine import Engine, render
from exchange.engine import types as t
from exchange.hub import MarketHub
from exchange.journal import Journal, decode_command, encode_command
from exchange.journal.log import ForkedSnapshot
from exchange.node.delivery import Outbox
from exchange.sequencer import Origin, Sequencer
from exchange.sim.feed import run_synthetic_feed

__all__ = ["LocalBackend", "NodeBackend", "NodeHost"]

log = logging.getLogger("tickwire.node")


class NodeHost(Protocol):
    """What a backend reads and sets on its node (an ``ExchangeNode``; typed here so this
    module does not import the node that imports it)."""

    settings: Settings
    data_dir: Path
    symbol_specs: list[t.SymbolSpec]
    clock: Callable[[], int]
    simulate: bool
    metrics: Any
    delivery: Any
    recent: Any
    engine: Any
    hub: Any
    meta: Any
    recovery_notes: list[str]
    sources: list[Any]

    def new_engine(self) -> Any: ...

    def new_hub(self) -> Any: ...

    def hub_runtime(self) -> dict[str, Any]: ...

    def recover(self) -> None: ...

    async def submit(self, cmd: t.Command, origin: Origin | None = None) -> list[t.Event]: ...


class NodeBackend(Protocol):
    """Where a node's engine and hub come from and where its commands go."""

    #: ``submit_nowait`` is available: order connections pipeline (see ``ws_orders``).
    pipelined: bool

    @property
    def failure(self) -> BaseException | None:
        """Set once the node can no longer confirm commands (every later one is refused)."""

    @property
    def queue_depth(self) -> int:
        """Commands accepted and not yet released."""

    def recover(self) -> None:
        """Build ``node.engine`` and ``node.hub`` from what survived (synchronous)."""

    async def start(self) -> None:
        """Recover if not done yet, then start taking commands."""

    async def stop(self) -> None:
        """Stop taking commands and release what it holds (after ``begin_shutdown``)."""

    async def submit(self, cmd: t.Command, origin: Origin | None) -> list[t.Event]:
        """Execute ``cmd``: its events once they are confirmed (durable, released)."""

    def submit_nowait(self, cmd: t.Command, origin: Origin | None) -> asyncio.Future[Any] | None:
        """Sequence ``cmd`` without waiting (only when ``pipelined``)."""

    async def durable(self) -> None:
        """Return once every command accepted so far is confirmed."""

    def unreleased(self) -> Iterable[Any]:
        """Commands applied and not yet released (each with its ``events``)."""


def _pack_snapshot(engine_state: bytes, hub_state: bytes) -> bytes:
    return struct.pack(">I", len(engine_state)) + engine_state + hub_state


def _unpack_snapshot(data: bytes) -> tuple[bytes, bytes]:
    (n,) = struct.unpack_from(">I", data)
    return data[4 : 4 + n], data[4 + n :]


class _PublishTap:
    """Sits in front of the hub: keeps recent trades and candles for REST, then publishes."""

    def __init__(self, node: NodeHost) -> None:
        self.node = node

    def publish(self, items: Sequence[tuple[str, str | None, dict[str, Any]]], ts: int) -> None:
        node = self.node
        keep = node.recent.keep
        for name, symbol, data in items:
            keep(name, symbol, data)
        node.hub.publish(items, ts)


class LocalBackend:
    """The journal, the sequencer and the snapshots of one node; see the module docstring."""

    pipelined = True

    def __init__(self, node: NodeHost) -> None:
        self.node = node
        self.journal: Any = None
        self.sequencer: Any = None
        self._snapshot_job: ForkedSnapshot | None = None
        self._snapshot_loop: asyncio.AbstractEventLoop | None = None
        self._sim_task: asyncio.Task[None] | None = None
        self._source_tasks: list[asyncio.Task[None]] = []
        self._md_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        #: Called at the end of ``recover`` (sequencer built, journal tail replayed and still
        #: on disk: before the snapshot a recovery may take, which can prune it).
        self.after_recover: list[Callable[[], None]] = []
        #: Called before every snapshot (what must be saved before the tail may be pruned).
        self.before_snapshot: list[Callable[[], None]] = []
        #: Called at the end of ``stop`` (journal closed).
        self.after_stop: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ lifecycle

    def recover(self) -> None:
        node, s = self.node, self.node.settings
        self.journal = Journal.open(node.data_dir / "journal", s.fsync)  # type: ignore[arg-type]
        rec = self.journal.recover()
        node.recovery_notes = list(rec.notes)
        for note in rec.notes:
            log.warning("journal recovery: %s", note)
        if rec.snapshot is not None:
            engine_state, hub_state = _unpack_snapshot(rec.snapshot)
            node.engine = Engine.from_snapshot(engine_state)
            node.hub = MarketHub.from_state(hub_state, **node.hub_runtime())
        else:
            node.engine = node.new_engine()
            node.hub = node.new_hub()
            node.hub.seed(
                [
                    render.render_snapshot(node.engine.book_snapshot(sp.symbol), node.engine)
                    for sp in node.symbol_specs
                ],
                0,
            )
        self.sequencer = Sequencer(
            node.engine,
            _PublishTap(node),
            self.journal,
            deliver=node.delivery.deliver,
            render_market=render.render_market,
            encode_command=encode_command,
            clock=node.clock,
            fsync=s.fsync,
            batch_window_s=s.batch_window_ms / 1000,
            snapshot_every=s.snapshot_every,
            snapshot=self.write_snapshot,
            metrics=node.metrics,
            release_bracket=(Outbox.begin_batch, Outbox.end_batch),
        )
        # replay the tail: the engine and the hub's history come back exactly as they were;
        # a tail written with market batches has its Publish records, and is replayed so
        commands = [decode_command(payload) for _seq, payload in rec.records]
        tail_batches = any(type(cmd) is t.Publish for cmd in commands)
        node.engine.set_market_batches(tail_batches)
        self.sequencer.replay(commands)
        # what a crash left unpublished goes out now (journaled), then this run's setting
        self.sequencer.publish_now()
        node.engine.set_market_batches(s.market_batches)
        for hook in self.after_recover:
            hook()
        if commands and tail_batches != s.market_batches:
            # The journal tells a tail's mode only by its Publish records, so a tail of two
            # modes would be replayed in one. A snapshot now (inline: it must be on disk
            # before this run appends a record) starts this run's tail clean.
            self.write_snapshot(inline=True)
        log.info(
            "recovered: snapshot at %d, %d journal records replayed, state %s",
            rec.snapshot_seq, len(rec.records), node.engine.state_hash()[:12],
        )  # fmt: skip

    async def start(self) -> None:
        node = self.node
        if node.engine is None:
            node.recover()
        await self.sequencer.start()
        if node.simulate:
            self._sim_task = asyncio.create_task(self._run_sim(), name="simulator")
        for source in node.sources:
            self._source_tasks.append(
                asyncio.create_task(
                    source(node, self._stop), name=getattr(source, "__name__", "source")
                )
            )
        s = node.settings
        if s.md_synthetic_rate > 0:
            self._md_task = asyncio.create_task(
                run_synthetic_feed(
                    lambda items, ts: node.hub.publish(items, ts),
                    node.clock,
                    s.md_synthetic_rate,
                    s.seed,
                    tuple(sp.symbol for sp in node.symbol_specs),
                    self._stop,
                ),
                name="synthetic-md",
            )

    async def _run_sim(self) -> None:
        from exchange.sim import EngineMarketView, Simulator, run_simulator

        node = self.node
        # a fresh run id per start keeps the agents' client_order_ids unique across restarts
        run_id = f"r{self.journal.last_seq if self.journal is not None else 0}"
        sim = Simulator(
            node.symbol_specs, seed=node.settings.seed, rate=node.settings.sim_rate, run_id=run_id
        )
        try:
            await run_simulator(
                sim, node.submit, EngineMarketView(node.engine), node.clock, self._stop
            )
        except Exception:
            log.exception("simulator stopped")

    async def stop(self) -> None:
        try:
            await self._stop_all()
        finally:
            for hook in self.after_stop:
                hook()

    async def _stop_all(self) -> None:
        self._stop.set()
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

    # ------------------------------------------------------------------ snapshots

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
        for hook in self.before_snapshot:
            hook()
        engine, hub = self.node.engine, self.node.hub

        def make() -> bytes:
            return _pack_snapshot(engine.to_snapshot(), hub.to_state())

        loop = _running_loop()
        fork = self.node.settings.snapshot_fork and hasattr(os, "fork")
        if not inline and fork and loop is not None:
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

    @property
    def failure(self) -> BaseException | None:
        return self.sequencer.failure if self.sequencer is not None else None

    @property
    def queue_depth(self) -> int:
        return int(self.sequencer.queue_depth) if self.sequencer is not None else 0

    async def submit(self, cmd: t.Command, origin: Origin | None) -> list[t.Event]:
        events: list[t.Event] = await self.sequencer.submit(cmd, origin)
        return events

    def submit_nowait(self, cmd: t.Command, origin: Origin | None) -> asyncio.Future[Any] | None:
        _, fut = self.sequencer.submit_nowait(cmd, origin)
        return fut

    async def durable(self) -> None:
        await self.sequencer.durable()

    def unreleased(self) -> Iterable[Any]:
        return self.sequencer.unreleased() if self.sequencer is not None else ()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
