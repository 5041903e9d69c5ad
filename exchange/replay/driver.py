"""A replay as the order source of an ``ExchangeNode``: pacing, controls, seek and status events.

Exports ``ReplayDriver``, ``ReplayControlError`` and ``REPLAY_SETTINGS``.

Contract:

* ``driver.build_node(settings)`` makes the node (simulator off, the recording's symbols and
  fees, ``clock=driver.now``) and installs ``driver.run`` as its order source; the node's
  ``replay`` attribute is the driver (the gateway's ``/api/replay`` finds it there).
* Replayed commands are stamped with their recorded ``ts`` (the sequencer's clock follows the
  replay clock exactly), so the engine, its candles and every published ``ts`` are the
  recording's, and two replays at any speeds publish identical book/trade/ticker/candle
  payloads. A node that publishes market data per batch gets one batch per recorded
  message (the driver's ``Publish`` after each step, ``step_cuts``; the index cuts the same
  way), or the recording's own cuts for a tickwire recording that has them. A trader's
  command is stamped with the replay clock's current time.
* ``control(action, ...)`` pauses, resumes, sets the speed or seeks; each change publishes a
  ``status`` event per symbol (``state: "replay"`` with the clock and speed), as does a timer
  every ``status_interval`` seconds.
* A seek that goes backwards (or jumps forward past a checkpoint) replaces the engine with
  the checkpoint's, applies the steps up to the target straight into it, and publishes a
  ``reset`` (reason ``"seek"``) and a fresh ``snapshot`` per symbol: subscribers rebuild their
  books, resume ids stay exact. Traders' orders and fills are not part of the recording and
  are lost; their accounts are opened again with the demo balances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from exchange.config import Settings
from exchange.engine import Engine, render
from exchange.engine.types import Command, Event, Publish
from exchange.node import ExchangeNode
from exchange.replay.index import ReplayIndex, apply_steps
from exchange.replay.player import ReplayPlayer, ReplayStatus, parse_speed
from exchange.replay.source import MAKER, TAKER, ReplaySource, ReplayStep
from exchange.replay.times import format_time, parse_time

__all__ = ["REPLAY_ENGINE", "REPLAY_SETTINGS", "ReplayControlError", "ReplayDriver"]

log = logging.getLogger("tickwire.replay")

#: Settings a replay changes unless the user chose them: no simulator; the journal is scratch
#: (a replay is reproducible from its files), so it is not fsynced.
REPLAY_SETTINGS: dict[str, Any] = {"sim_rate": 0.0, "fsync": "off"}

#: Engine options of a replay of venue data (not of a tickwire recording, whose state hash must
#: match the recorded session's): the idempotency keys and execution history of the replay
#: accounts would otherwise grow all day, and checkpoints (seek latency) with them.
REPLAY_ENGINE: dict[str, int] = {"idempotency_ttl_ns": 300 * 10**9, "exec_history": 1000}

ACTIONS = ("pause", "resume", "speed", "seek")


class ReplayControlError(ValueError):
    """A control request that cannot be carried out; the message says why (HTTP 400)."""


def speed_text(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}"


class ReplayDriver:
    """Drives one node from one ``ReplaySource`` (see the module docstring)."""

    #: What ``control`` raises for a refused action (``POST /api/replay`` answers 400).
    control_errors: tuple[type[Exception], ...] = (ReplayControlError,)

    def __init__(
        self,
        source: ReplaySource,
        *,
        speed: float | None = 1.0,
        start_ns: int | None = None,
        checkpoint_every: int = 2000,
        status_interval: float = 1.0,
        on_step: Callable[[int, ReplayStep], None] | None = None,
    ) -> None:
        self.source = source
        self.start_ns = start_ns
        self.status_interval = status_interval
        self.player = ReplayPlayer(
            source,
            self._submit,
            speed=speed,
            reset=self._reset,
            jump_after=checkpoint_every,
            yield_every=64,
            on_step=on_step,
            end_step=self._end_step,
        )
        self.index: ReplayIndex | None = None
        self.checkpoint_every = checkpoint_every
        self.node: ExchangeNode | None = None
        self.seeks = 0
        self.last_seek_s: float | None = None
        self._stamp: int | None = None
        self._engine_options: dict[str, int] = {}
        #: The recording cuts its own market-data batches (a tickwire recording of a server
        #: that ran with them has its ``Publish`` commands): engines batch, and the node's
        #: sequencer adds no cuts of its own, so the replay publishes what the original did.
        self.source_cuts = source.format == "tickwire" and any(
            type(cmd) is Publish for step in source.steps for cmd in step.commands
        )
        self._status_changed: asyncio.Event | None = None
        #: cut after every step (set by ``engine_factory`` from the node's settings)
        self.step_cuts = False
        self.error: str | None = None

    # ------------------------------------------------------------------ building

    def settings_for(self, settings: Settings, chosen: Sequence[str] = ()) -> Settings:
        """``settings`` with ``REPLAY_SETTINGS`` (except the names in ``chosen``), the
        recording's fees, and no symbol filter (the source is already cut)."""
        changes = {k: v for k, v in REPLAY_SETTINGS.items() if k not in chosen}
        changes.update(self.source.engine_options)
        changes["symbols"] = ()
        return settings.replace(**changes)

    def engine_factory(self, settings: Settings) -> Callable[[], Engine]:
        """Fresh engines for this replay: the node's, the index's and a seek to 0's."""
        options: dict[str, Any] = {} if self.source.format == "tickwire" else dict(REPLAY_ENGINE)
        # A batching replay cuts after every recorded message (the same batches at any
        # speed), unless the recording brings its own cuts.
        batches = settings.market_batches or self.source_cuts
        self.step_cuts = settings.market_batches and not self.source_cuts

        def make() -> Engine:
            return Engine(
                self.source.symbols,
                maker_fee_bps=settings.maker_fee_bps,
                taker_fee_bps=settings.taker_fee_bps,
                market_batches=batches,
                **options,
            )

        return make

    def build_index(
        self, settings: Settings, progress: Callable[[int, int], None] | None = None
    ) -> ReplayIndex:
        """The pre-pass (engine checkpoints for seeking); ``build_node`` runs it if not done."""
        factory = self.engine_factory(settings)
        self.index = ReplayIndex(self.source, factory, self.checkpoint_every, self.step_cuts).build(
            progress
        )
        return self.index

    def build_node(self, settings: Settings) -> ExchangeNode:
        """A node replaying the source; pass it to ``create_app(settings, node)``. ``settings``
        should come from ``settings_for``."""
        index = self.index if self.index is not None else self.build_index(settings)
        node = ExchangeNode(
            settings,
            engine_factory=index.engine_factory,
            symbols=self.source.symbols,
            clock=self.now,
            simulate=False,
        )
        node.sources.append(self.run)
        node.replay = self
        self.node = node
        return node

    # ------------------------------------------------------------------ clock and submit

    def now(self) -> int:
        """The sequencer's clock: a replayed command's own ``ts``, else the replay clock."""
        if self._stamp is not None:
            return self._stamp
        return self.player.clock.now()

    async def _submit(self, cmd: Command) -> list[Event]:
        assert self.node is not None
        self._stamp = cmd.ts
        try:
            return await self.node.submit(cmd)
        finally:
            self._stamp = None

    async def _end_step(self, step: ReplayStep) -> None:
        """One market-data batch per recorded message (a batching node, ``step_cuts``)."""
        node = self.node
        if self.step_cuts and node is not None and node.engine.has_unpublished():
            await self._submit(Publish(node.sequencer.last_ts))

    # ------------------------------------------------------------------ the order source

    async def run(self, node: ExchangeNode, stop: asyncio.Event) -> None:
        """The node's order source: play until ``stop`` is set."""
        self.node = node
        if self.source_cuts:
            node.sequencer.publish_now()
            node.engine.set_market_batches(True)
            node.sequencer.auto_cut = False
        self._status_changed = asyncio.Event()
        ticker = asyncio.create_task(self._status_loop(stop), name="replay-status")
        try:
            if self.start_ns is not None:
                self.player.seek(self.start_ns)
            await self.player.run(stop)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("replay stopped")
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def _status_loop(self, stop: asyncio.Event) -> None:
        assert self._status_changed is not None
        while not stop.is_set():
            self.publish_status()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_changed.wait(), self.status_interval)
            self._status_changed.clear()

    def publish_status(self) -> None:
        """One ``status`` event per symbol with the replay state, through the hub."""
        node = self.node
        if node is None or node.hub is None or node.shutting_down:
            return
        st = self.status()
        speed = self.player.status().speed
        items: list[tuple[str, str | None, dict[str, Any]]] = []
        for spec in self.source.symbols:
            items.append(
                (
                    "status",
                    spec.symbol,
                    {
                        "symbol": spec.symbol,
                        "state": "replay",
                        "ts": st["clock"],
                        # the protocol's fields (replay_speed absent at "max")
                        "replay_clock": st["clock"],
                        **({"replay_speed": speed} if speed is not None else {}),
                        "replay": st,  # and the whole GET /api/replay status
                    },
                )
            )
        node.hub.publish(items, st["clock"])

    # ------------------------------------------------------------------ status and controls

    def status(self) -> dict[str, Any]:
        """What ``GET /api/replay`` answers (times in ns since the epoch, and as ISO text)."""
        st: ReplayStatus = self.player.status()
        start = self.source.start_ns or 0
        end = self.source.end_ns or start
        return {
            "replaying": True,
            "format": self.source.format,
            "files": [p.name for p in self.source.paths],
            "symbols": [s.symbol for s in self.source.symbols],
            "clock": st.clock_ns,
            "clock_iso": format_time(st.clock_ns),
            "speed": speed_text(st.speed),
            "paused": st.paused,
            "position": st.position,
            "total": st.total,
            "finished": st.finished,
            "start": start,
            "start_iso": format_time(start),
            "end": end,
            "end_iso": format_time(end),
            "seeks": self.seeks,
            "last_seek_ms": None if self.last_seek_s is None else round(self.last_seek_s * 1e3, 3),
            "error": self.error,
        }

    def _changed(self) -> None:
        if self._status_changed is not None:
            self._status_changed.set()

    async def control(
        self, action: str, *, speed: str | float | None = None, to: str | int | None = None
    ) -> dict[str, Any]:
        """Carry out one control action and return the new status; bad input raises
        ``ReplayControlError``. A seek returns once it is done."""
        if action not in ACTIONS:
            raise ReplayControlError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        if self.error is not None:
            raise ReplayControlError(f"the replay stopped: {self.error}")
        if action == "pause":
            self.player.pause()
        elif action == "resume":
            self.player.resume()
        elif action == "speed":
            if speed is None:
                raise ReplayControlError("action 'speed' needs 'speed': a positive number or 'max'")
            try:
                value = parse_speed(speed)
            except ValueError as exc:
                raise ReplayControlError(str(exc)) from None
            self.player.set_speed(value)
        else:
            if to is None:
                raise ReplayControlError("action 'seek' needs 'to': a time in the recording")
            try:
                target = parse_time(to, self.source.start_ns or 0)
            except ValueError as exc:
                raise ReplayControlError(str(exc)) from None
            await self.seek(target)
        self._changed()
        return self.status()

    async def seek(self, ts: int) -> None:
        """Seek to recorded time ``ts`` and wait until it is done."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.player.seek(ts)
        self.seeks += 1
        self.last_seek_s = loop.time() - started

    # ------------------------------------------------------------------ rebuilding

    async def _reset(self, target: int) -> int:
        """The player's reset: the engine as after ``target`` steps (from a checkpoint), or a
        fresh one for 0; a forward jump that no checkpoint shortens keeps the engine."""
        node = self.node
        assert node is not None and self.index is not None
        position = self.player.position
        if position <= target and self.index.before(target).position <= position:
            return position  # playing forward from here is no more work
        old = node.engine
        if target == 0:
            engine, last_ts = self.index.engine_factory(), 0
        else:
            engine, last_ts = self.index.restore(target)
        engine.set_market_batches(old.market_batches)
        node.engine = engine
        node.sequencer.engine = engine
        node.sequencer.last_ts = last_ts
        # what REST shows of the recent past is another stretch of time now (in the future
        # after a seek back; before a gap the restore skipped after a seek forward)
        node.recent.clear()
        snapshots = [
            ("snapshot", s.symbol, render.render_snapshot(engine.book_snapshot(s.symbol), engine))
            for s in self.source.symbols
        ]
        node.hub.publish([("reset", None, {"reason": "seek"}), *snapshots], last_ts)
        traders = [a for a in old.accounts if a not in engine.accounts and a not in (MAKER, TAKER)]
        self._stamp = last_ts
        try:
            for account in traders:
                await node.ensure_account(account)
        finally:
            self._stamp = None
        return target

    def replay_to(self, engine: Any, target: int) -> int:
        """Apply the setup and ``target`` steps to a fresh ``engine`` (tests, benchmarks)."""
        from exchange.replay.index import apply_commands

        last_ts = apply_commands(engine, self.source.setup, 0)
        return apply_steps(engine, self.source.steps, 0, target, last_ts, self.step_cuts)
