"""Seek support: engine checkpoints from a pre-pass, and cutting a source down to what is asked.

Exports ``Checkpoint``, ``ReplayIndex``, ``apply_steps``, ``select``.

``ReplayIndex.build`` runs the whole source once through a private engine (exactly as the
sequencer would feed it: each command's ``ts`` is its recorded one, never earlier than the
previous command's) and keeps ``Engine.to_snapshot()`` every ``every`` steps. Restoring the
checkpoint at or before step ``i`` and applying the steps up to ``i`` with ``apply_steps``
gives the engine a replay from the start would have (same ``state_hash``), in at most
``every`` steps of work.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exchange.engine import Engine
from exchange.engine.types import Command, Publish
from exchange.replay.errors import ReplaySourceError
from exchange.replay.source import ReplaySource, ReplayStep

__all__ = ["Checkpoint", "ReplayIndex", "apply_steps", "select"]


def _stamp(cmd: Command, last_ts: int) -> Command:
    """What the sequencer does with the replay clock standing at the command's own ``ts``."""
    return cmd if cmd.ts >= last_ts else dataclasses.replace(cmd, ts=last_ts)


def apply_commands(engine: Any, commands: Sequence[Command], last_ts: int) -> int:
    """Feed ``commands`` to ``engine`` as the sequencer would; returns the new last ``ts``."""
    for cmd in commands:
        cmd = _stamp(cmd, last_ts)
        last_ts = cmd.ts
        engine.handle(cmd)
    return last_ts


def apply_steps(
    engine: Any,
    steps: Sequence[ReplayStep],
    start: int,
    stop: int,
    last_ts: int,
    step_cuts: bool = False,
) -> int:
    """Apply ``steps[start:stop]`` to ``engine``; returns the last ``ts`` stamped.
    ``step_cuts``: a ``Publish`` after every step that left market data unpublished, as the
    driver cuts a batching replay (one batch per recorded message)."""
    for i in range(start, stop):
        last_ts = apply_commands(engine, steps[i].commands, last_ts)
        if step_cuts and engine.has_unpublished():
            engine.handle(Publish(last_ts))
    return last_ts


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The engine after the setup and ``position`` steps (``state``: ``to_snapshot`` bytes)."""

    position: int
    last_ts: int
    state: bytes


class ReplayIndex:
    """Checkpoints of one source, every ``every`` steps (see the module docstring)."""

    def __init__(
        self,
        source: ReplaySource,
        engine_factory: Callable[[], Any],
        every: int,
        step_cuts: bool = False,
    ) -> None:
        if every < 1:
            raise ValueError("checkpoint interval must be at least 1 step")
        self.source = source
        self.engine_factory = engine_factory
        self.every = every
        #: cut market data after every step (see ``apply_steps``)
        self.step_cuts = step_cuts
        self.batches = False  # the factory's engines publish per batch (set by ``build``)
        self.checkpoints: list[Checkpoint] = []
        self._positions: list[int] = []
        #: ``state_hash`` after the last step (set by ``build``)
        self.final_hash: str | None = None

    def build(self, progress: Callable[[int, int], None] | None = None) -> ReplayIndex:
        """Run the pre-pass (``progress(steps_done, steps_total)`` now and then)."""
        engine = self.engine_factory()
        self.batches = engine.market_batches
        steps = self.source.steps
        last_ts = apply_commands(engine, self.source.setup, 0)
        self._add(Checkpoint(0, last_ts, engine.to_snapshot()))
        total = len(steps)
        due = False
        for i in range(total):
            last_ts = apply_steps(engine, steps, i, i + 1, last_ts, self.step_cuts)
            done = i + 1
            due = due or done % self.every == 0
            # a snapshot holds no unpublished market data: checkpoint between batches only
            if due and done < total and not engine.has_unpublished():
                due = False
                self._add(Checkpoint(done, last_ts, engine.to_snapshot()))
                if progress is not None:
                    progress(done, total)
        if progress is not None:
            progress(total, total)
        self.final_hash = engine.state_hash()
        return self

    def _add(self, cp: Checkpoint) -> None:
        self.checkpoints.append(cp)
        self._positions.append(cp.position)

    def before(self, position: int) -> Checkpoint:
        """The latest checkpoint at or before ``position`` (the setup one at least)."""
        if not self.checkpoints:
            raise RuntimeError("ReplayIndex.build() has not run")
        i = bisect.bisect_right(self._positions, position) - 1
        return self.checkpoints[max(i, 0)]

    def restore(self, position: int) -> tuple[Engine, int]:
        """``(engine, last_ts)`` as after the setup and ``position`` steps."""
        cp = self.before(position)
        engine = Engine.from_snapshot(cp.state)
        engine.set_market_batches(self.batches)  # a snapshot does not say; the index does
        last_ts = apply_steps(
            engine, self.source.steps, cp.position, position, cp.last_ts, self.step_cuts
        )
        return engine, last_ts

    @property
    def bytes(self) -> int:
        return sum(len(cp.state) for cp in self.checkpoints)


def _symbol_of(cmd: Command) -> str | None:
    value = getattr(cmd, "symbol", None)
    return value if isinstance(value, str) else None


def select(
    source: ReplaySource, *, symbols: Sequence[str] = (), end_ns: int | None = None
) -> ReplaySource:
    """``source`` limited to ``symbols`` (all when empty) and to steps with ``ts <= end_ns``.

    A step belongs to a symbol by its ``symbol`` or, failing that, by its commands' symbols;
    steps naming no symbol at all (cancels by key, accounts) are kept. An unknown symbol is
    a ``ReplaySourceError`` naming those the recording has."""
    steps = source.steps
    specs = source.symbols
    setup = source.setup
    if symbols:
        have = [s.symbol for s in specs]
        unknown = [s for s in symbols if s not in have]
        if unknown:
            raise ReplaySourceError(
                f"symbol {', '.join(unknown)} is not in the recording (it has {', '.join(have)})"
            )
        wanted = set(symbols)
        specs = [s for s in specs if s.symbol in wanted]
        setup = [c for c in setup if _symbol_of(c) in (None, *wanted)]

        def keep(step: ReplayStep) -> bool:
            if step.symbol is not None:
                return step.symbol in wanted
            named = {_symbol_of(c) for c in step.commands} - {None}
            return not named or bool(named & wanted)

        steps = [s for s in steps if keep(s)]
    if end_ns is not None:
        steps = steps[: bisect.bisect_right([s.ts for s in steps], end_ns)]
    if steps is source.steps and specs is source.symbols:
        return source
    return dataclasses.replace(source, symbols=list(specs), setup=list(setup), steps=list(steps))
