"""``run_simulator``: setup first, steps at the rate, stops on the event, survives errors."""

from __future__ import annotations

import asyncio
import dataclasses

from exchange.engine.engine import Engine
from exchange.engine.types import Command, Event, NewOrder, OpenAccount
from exchange.sim import DEFAULT_SYMBOLS, EngineMarketView, SimConfig, Simulator, run_simulator


class InlineSequencer:
    """What the sequencer does for the simulator, in process: stamp ``ts``, call the engine.

    ``fail_on`` makes that submission raise, as a sequencer shutting down would."""

    def __init__(self, engine: Engine, fail_on: int | None = None) -> None:
        self.engine = engine
        self.now = 1_700_000_000_000_000_000
        self.submitted: list[Command] = []
        self.fail_on = fail_on

    def clock(self) -> int:
        self.now += 1_000_000
        return self.now

    async def submit(self, cmd: Command) -> list[Event]:
        self.submitted.append(cmd)
        if len(self.submitted) == self.fail_on:
            raise RuntimeError("sequencer is closing")
        await asyncio.sleep(0)
        return self.engine.handle(dataclasses.replace(cmd, ts=self.clock()))


async def test_runs_setup_then_steps_until_max_steps() -> None:
    engine = Engine(DEFAULT_SYMBOLS)
    seq = InlineSequencer(engine)
    sim = Simulator(seed=5, rate=1000)
    await run_simulator(
        sim, seq.submit, EngineMarketView(engine), seq.clock, asyncio.Event(), max_steps=300
    )
    setup = sim.setup_commands()
    assert seq.submitted[: len(setup)] == [
        dataclasses.replace(c, ts=seq.submitted[i].ts) for i, c in enumerate(setup)
    ]
    assert isinstance(seq.submitted[0], OpenAccount)
    assert sim.stats.steps == 300
    assert sim.stats.fills > 0  # the agents' fills came back through on_events
    for spec in DEFAULT_SYMBOLS:
        snap = engine.book_snapshot(spec.symbol)
        assert snap.bids and snap.asks


async def test_stops_when_asked_and_survives_a_failing_submit() -> None:
    engine = Engine(DEFAULT_SYMBOLS)
    seq = InlineSequencer(engine, fail_on=40)
    stop = asyncio.Event()
    sim = Simulator(seed=6, rate=200)
    task = asyncio.create_task(
        run_simulator(sim, seq.submit, EngineMarketView(engine), seq.clock, stop)
    )
    while sim.stats.steps < 50:
        await asyncio.sleep(0.01)
    assert not task.done()  # the failed submission was logged, the loop went on
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    steps = sim.stats.steps
    await asyncio.sleep(0.05)
    assert sim.stats.steps == steps
    assert len(seq.submitted) > 40


async def test_agents_keys_are_purged_after_their_short_ttl() -> None:
    # The engine keeps keys a day by default; the agents' busy accounts use their own TTL,
    # so a long-running simulator does not hold every key it ever used.
    async def run(ttl_s: float) -> int:
        engine = Engine(DEFAULT_SYMBOLS)
        seq = InlineSequencer(engine)  # 1 ms of engine time per command
        sim = Simulator(seed=5, rate=1000, config=SimConfig(key_ttl_s=ttl_s))
        await run_simulator(
            sim, seq.submit, EngineMarketView(engine), seq.clock, asyncio.Event(), max_steps=6000
        )
        assert sum(isinstance(c, NewOrder) for c in seq.submitted) > 100
        return sum(  # keys of orders no longer open (an open order keeps its key)
            1
            for a in sim.accounts
            for _fp, oid, _ts in engine.accounts[a].keys.values()
            if (o := engine.orders.get(oid)) is None or not o.is_open
        )

    # the two runs are paced in loop time and timed by their own engine clocks: run together
    short, day = await asyncio.gather(run(0.05), run(86_400.0))
    held = {0.05: short, 86_400.0: day}
    # Same seed, same commands: with the engine's day every closed order's key is kept;
    # with 50 ms only the newest few.
    assert held[86_400.0] > 50
    assert held[0.05] < held[86_400.0] / 4
