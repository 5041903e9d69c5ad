"""The asyncio loop that drives a ``Simulator`` through the sequencer.

Exports ``run_simulator``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from exchange.engine.types import Command, Event
from exchange.sim.agents import Simulator
from exchange.sim.view import MarketView

__all__ = ["run_simulator"]

log = logging.getLogger("tickwire.sim")

Submit = Callable[[Command], Awaitable[list[Event]]]


async def run_simulator(
    sim: Simulator,
    submit: Submit,
    view: MarketView,
    clock: Callable[[], int],
    stop: asyncio.Event,
    *,
    max_steps: int | None = None,
) -> None:
    """Run ``sim`` until ``stop`` is set (or ``max_steps`` steps have run).

    ``sim.rate`` steps per second of loop time, each advancing the market model ``1/rate`` s.

    Submits ``sim.setup_commands()`` once, then every ``1 / sim.rate`` seconds (loop time)
    calls ``sim.step(clock(), view)`` and submits each command in order, awaiting each one so
    the next step's view includes it; the events of each submission go to ``sim.on_events``.
    ``clock`` returns ns since the epoch (the sequencer's clock). Rejects are ordinary events;
    an exception from ``submit`` or ``step`` is logged and the loop goes on, so the market never
    dies of one bad moment. A late loop skips ahead instead of bursting to catch up.
    """
    loop = asyncio.get_running_loop()
    interval = 1.0 / sim.rate

    failing = False  # one log line per run of failures (a failed-closed sequencer refuses all)

    async def send(cmd: Command) -> None:
        nonlocal failing
        try:
            events = await submit(cmd)
        except asyncio.CancelledError:
            raise
        except Exception:
            if not failing:
                log.exception("simulator command failed (the next failures are not logged "
                              "until one goes through): %r", cmd)  # fmt: skip
            failing = True
            return
        if failing:
            log.warning("simulator commands go through again")
            failing = False
        sim.on_events(events)

    for cmd in sim.setup_commands(clock()):
        if stop.is_set():
            return
        await send(cmd)
    steps = 0
    next_at = loop.time()
    while not stop.is_set() and (max_steps is None or steps < max_steps):
        try:
            commands = sim.step(clock(), view)
        except Exception:
            log.exception("simulator step failed")
            commands = []
        for cmd in commands:
            if stop.is_set():
                return
            await send(cmd)
        steps += 1
        next_at += interval
        now = loop.time()
        if next_at < now:  # behind schedule: skip the missed ticks rather than burst
            next_at = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_at - now))
