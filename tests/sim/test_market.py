"""The simulated market against the real engine: alive, deterministic, well-behaved."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from dataclasses import dataclass, field

from exchange.engine.engine import Engine
from exchange.engine.types import (
    Candle,
    Command,
    Event,
    OrderCanceled,
    OrderRejected,
    SetSymbolState,
    Trade,
)
from exchange.sim import DEFAULT_SYMBOLS, EngineMarketView, Simulator

T0 = 1_700_000_000_000_000_000
STEP_NS = 100_000_000  # 10 steps per simulated second
#: Refusals that come from the market moving between a decision and its command; anything
#: else (INVALID_*, BAD_REQUEST, DUPLICATE_CLIENT_ORDER_ID, ...) would be a malformed command.
BUSINESS = {
    "ORDER_NOT_OPEN",
    "INSUFFICIENT_FUNDS",
    "POST_ONLY_WOULD_TAKE",
    "NO_LIQUIDITY",
    "FOK_NOT_FILLABLE",
}


@dataclass
class Run:
    engine: Engine
    commands: list[Command] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    spreads_bps: dict[str, list[float]] = field(default_factory=dict)
    one_sided: int = 0
    mid_vs_fair_bps: list[float] = field(default_factory=list)


def simulate(
    seed: int,
    seconds: int,
    engine: Engine | None = None,
    sim: Simulator | None = None,
    start: int = T0,
    setup: bool = True,
) -> Run:
    """Drive ``sim`` against ``engine`` the way the runner and sequencer do, with a fake clock."""
    engine = engine or Engine(DEFAULT_SYMBOLS, maker_fee_bps=1, taker_fee_bps=5)
    sim = sim or Simulator(DEFAULT_SYMBOLS, seed=seed, rate=10)
    view = EngineMarketView(engine)
    run = Run(engine)

    def submit(cmd: Command) -> None:
        events = engine.handle(cmd)
        sim.on_events(events)
        run.commands.append(cmd)
        run.events.extend(events)

    for cmd in sim.setup_commands(start) if setup else ():
        submit(cmd)
    for i in range(seconds * 10):
        now = start + (i + 1) * STEP_NS
        for cmd in sim.step(now, view):
            submit(cmd)
        if i < 10:
            continue  # first second: the makers are still building their ladders
        for spec in DEFAULT_SYMBOLS:
            bid, ask = view.best_bid_ask(spec.symbol)
            if bid is None or ask is None:
                run.one_sided += 1
                continue
            mid = (bid + ask) / 2
            run.spreads_bps.setdefault(spec.symbol, []).append((ask - bid) / mid * 1e4)
            run.mid_vs_fair_bps.append(abs(mid / sim.fair_value(spec.symbol) - 1) * 1e4)
    return run


def test_market_is_alive() -> None:
    seconds = 120
    run = simulate(seed=2024, seconds=seconds)
    engine = run.engine
    assert run.one_sided == 0  # two-sided at every instant after the first second
    for spec in DEFAULT_SYMBOLS:
        spreads = run.spreads_bps[spec.symbol]
        median = statistics.median(spreads)
        # a liquid crypto pair: about a basis point, never crossed, rarely wide
        assert 0.2 <= median <= 3.0, (spec.symbol, median)
        assert min(spreads) > 0
        assert sorted(spreads)[int(0.95 * len(spreads))] < 6.0
        snap = engine.book_snapshot(spec.symbol)
        assert len(snap.bids) >= 8 and len(snap.asks) >= 8  # several levels of depth
        ticks = (snap.asks[0][0] - snap.bids[0][0]) // spec.tick_size
        assert ticks >= 1
    assert statistics.median(run.mid_vs_fair_bps) < 2.0  # the makers follow the fair value
    trades = Counter(e.symbol for e in run.events if isinstance(e, Trade))
    for spec in DEFAULT_SYMBOLS:
        assert trades[spec.symbol] >= seconds  # at least a trade a second, every symbol
    takers = {e.taker_side for e in run.events if isinstance(e, Trade)}
    assert takers == {"buy", "sell"}
    assert any(isinstance(e, Candle) and e.interval == "1m" and e.closed for e in run.events)
    rejects = Counter(e.code for e in run.events if isinstance(e, OrderRejected))
    assert set(rejects) <= BUSINESS, rejects
    assert sum(rejects.values()) <= 0.005 * len(run.commands), (rejects, len(run.commands))
    self_trades = sum(
        1 for e in run.events if isinstance(e, OrderCanceled) and e.reason == "self_trade"
    )
    assert self_trades <= 0.001 * len(run.commands)
    # commands per simulated second: lively but not a flood
    assert 10 <= len(run.commands) / seconds <= 200


def test_same_seed_same_commands_and_state_against_the_engine() -> None:
    a = simulate(seed=9, seconds=30)
    b = simulate(seed=9, seconds=30)
    c = simulate(seed=10, seconds=30)
    assert a.commands == b.commands
    assert a.engine.state_hash() == b.engine.state_hash()
    assert a.commands != c.commands
    assert a.engine.state_hash() != c.engine.state_hash()


def test_a_new_run_takes_over_from_an_old_one_on_the_same_engine() -> None:
    first = simulate(seed=1, seconds=20, sim=Simulator(seed=1, run_id="a"))
    later = T0 + 60 * 10**9
    second = simulate(
        seed=1, seconds=20, engine=first.engine, sim=Simulator(seed=1, run_id="b"), start=later
    )
    rejects = [e for e in second.events if isinstance(e, OrderRejected)]
    assert not [e for e in rejects if e.code == "DUPLICATE_CLIENT_ORDER_ID"]
    # the old run's quotes were cleared; every resting sim order is the new run's
    open_keys = [
        o.client_order_id
        for a in ("sim-mm1", "sim-mm2", "sim-mm3")
        for o in first.engine.open_orders(a)
    ]
    assert open_keys and all("-b" in k for k in open_keys)


def test_agents_back_off_while_a_symbol_is_halted() -> None:
    engine = Engine(DEFAULT_SYMBOLS)
    sim = Simulator(seed=4)
    first = simulate(seed=4, seconds=5, engine=engine, sim=sim)
    halt_at = T0 + 5 * 10**9
    engine.handle(SetSymbolState("BTC-USD", "halted", ts=halt_at))
    halted = simulate(seed=4, seconds=30, engine=engine, sim=sim, start=halt_at, setup=False)
    refused = [
        e for e in halted.events if isinstance(e, OrderRejected) and e.code == "MARKET_HALTED"
    ]
    # a few tries every 5 s, not 40 commands a second
    assert 0 < len(refused) <= 6 * 15
    btc = [e for e in halted.events if isinstance(e, Trade) and e.symbol == "BTC-USD"]
    eth = [e for e in halted.events if isinstance(e, Trade) and e.symbol == "ETH-USD"]
    assert not btc and len(eth) >= 20
    reopen = halt_at + 30 * 10**9
    engine.handle(SetSymbolState("BTC-USD", "open", ts=reopen))
    after = simulate(seed=4, seconds=30, engine=engine, sim=sim, start=reopen, setup=False)
    assert sum(1 for e in after.events if isinstance(e, Trade) and e.symbol == "BTC-USD") >= 20
    assert first.commands


def test_the_stream_does_not_depend_on_step_timing() -> None:
    """A loaded server steps late and unevenly: the market model must not notice."""

    def run(times: list[int]) -> list[Command]:
        engine = Engine(DEFAULT_SYMBOLS)
        sim = Simulator(seed=12)
        view = EngineMarketView(engine)
        out: list[Command] = []
        for cmd in sim.setup_commands(times[0]):
            engine.handle(cmd)
        for t in times:
            for cmd in sim.step(t, view):
                sim.on_events(engine.handle(cmd))
                out.append(dataclasses.replace(cmd, ts=0))
        return out

    even = [T0 + i * STEP_NS for i in range(200)]
    jittered = [T0 + i * STEP_NS + (i * 7919 % 13) * 37_000_000 for i in range(200)]
    assert run(even) == run(jittered)


def test_rate_sets_granularity_not_activity() -> None:
    def trades_per_second(rate: int, seconds: int = 60) -> float:
        engine = Engine(DEFAULT_SYMBOLS)
        sim = Simulator(seed=8, rate=rate)
        view = EngineMarketView(engine)
        for cmd in sim.setup_commands(T0):
            engine.handle(cmd)
        trades = 0
        step_ns = 10**9 // rate
        for i in range(seconds * rate):
            for cmd in sim.step(T0 + i * step_ns, view):
                events = engine.handle(cmd)
                sim.on_events(events)
                trades += sum(isinstance(e, Trade) for e in events)
        return trades / seconds

    slow, fast = trades_per_second(5), trades_per_second(50)
    assert slow > 3 and 0.6 < fast / slow < 1.6
