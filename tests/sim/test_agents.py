"""Simulator agents on their own: well-formed commands, determinism, accounts."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import pytest

from exchange.engine.types import (
    CancelAll,
    CancelOrder,
    Command,
    NewOrder,
    OpenAccount,
    OrderView,
    ReplaceOrder,
)
from exchange.sim import DEFAULT_FAIR_VALUES, DEFAULT_SYMBOLS, Simulator, cash_decimals_for
from exchange.sim.common import IdSource, poisson
from shared.values import to_units

CID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
SPECS = {s.symbol: s for s in DEFAULT_SYMBOLS}
T0 = 1_700_000_000_000_000_000


class StaticView:
    """A market that never changes: a fixed touch around the starting fair, no own orders."""

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        spec = SPECS[symbol]
        fair = to_units(DEFAULT_FAIR_VALUES[symbol], spec.price_decimals)
        return fair - 5 * spec.tick_size, fair + 5 * spec.tick_size

    def open_orders(self, account: str, symbol: str) -> Sequence[OrderView]:
        return ()


def run(seed: int, steps: int = 600) -> list[Command]:
    sim = Simulator(DEFAULT_SYMBOLS, seed=seed, rate=10)
    out = list(sim.setup_commands(T0))
    view = StaticView()
    for i in range(steps):
        out.extend(sim.step(T0 + i * 100_000_000, view))
    return out


def test_default_symbols() -> None:
    assert [s.symbol for s in DEFAULT_SYMBOLS] == ["BTC-USD", "ETH-USD", "SOL-USD"]
    assert set(DEFAULT_FAIR_VALUES) == set(SPECS)
    btc = SPECS["BTC-USD"]
    assert (btc.price_decimals, btc.tick_size, btc.qty_decimals, btc.lot_size) == (2, 1, 4, 1)
    assert cash_decimals_for(DEFAULT_SYMBOLS) == 6


def test_commands_are_well_formed() -> None:
    commands = run(seed=7)
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}
    for cmd in commands:
        counts[type(cmd).__name__] = counts.get(type(cmd).__name__, 0) + 1
        if isinstance(cmd, NewOrder):
            spec = SPECS[cmd.symbol]
            assert CID.match(cmd.client_order_id)
            assert (cmd.account, cmd.client_order_id) not in seen
            seen.add((cmd.account, cmd.client_order_id))
            assert cmd.side in ("buy", "sell")
            qty = to_units(cmd.qty, spec.qty_decimals)
            assert qty % spec.lot_size == 0 and spec.min_qty <= qty <= spec.max_qty
            if cmd.order_type == "limit":
                assert cmd.price is not None and cmd.tif in ("gtc", "ioc")
                price = to_units(cmd.price, spec.price_decimals)
                assert price > 0 and price % spec.tick_size == 0
                # canonical form: exactly the symbol's decimals
                assert len(cmd.price.partition(".")[2]) == spec.price_decimals
            else:
                assert cmd.order_type == "market" and cmd.price is None and cmd.tif is None
            assert cmd.ts >= T0
        elif isinstance(cmd, ReplaceOrder):
            assert CID.match(cmd.client_order_id)
            assert (cmd.account, cmd.client_order_id) not in seen
            seen.add((cmd.account, cmd.client_order_id))
        elif isinstance(cmd, CancelOrder):
            assert (cmd.client_order_id is None) != (cmd.order_id is None)
    # every agent kind acted: makers quote, takers take, momentum chases
    assert counts["NewOrder"] > 100
    accounts = {c.account for c in commands if isinstance(c, NewOrder)}
    assert any(a.startswith("sim-mm") for a in accounts)
    assert any(a.startswith("sim-taker") for a in accounts)


def test_setup_opens_every_account_with_large_balances() -> None:
    sim = Simulator(seed=1)
    setup = sim.setup_commands(T0)
    opened = [c for c in setup if isinstance(c, OpenAccount)]
    assert [c.account for c in opened] == sim.accounts
    assert len(set(sim.accounts)) == len(sim.accounts) >= 8
    cash_units = 10 ** cash_decimals_for(DEFAULT_SYMBOLS)
    for c in opened:
        assert c.cash >= 10**9 * cash_units
        assert {s for s, _ in c.positions} == set(SPECS)
        for symbol, qty in c.positions:
            fair = float(DEFAULT_FAIR_VALUES[symbol])
            whole = qty / 10 ** SPECS[symbol].qty_decimals
            assert whole * fair >= 10**9  # a billion of inventory notional
        assert not c.risk_exempt  # agents trade under the same risk rules as people
    # leftover orders of an earlier run on the same engine are cleared
    assert {c.account for c in setup if isinstance(c, CancelAll)} == set(sim.accounts)


def test_same_seed_same_commands_other_seed_other_commands() -> None:
    assert run(seed=3) == run(seed=3)
    assert run(seed=3) != run(seed=4)


def test_run_id_keeps_keys_of_two_runs_apart() -> None:
    a = Simulator(seed=1, run_id="r1").step(T0, StaticView())
    b = Simulator(seed=1, run_id="r2").step(T0, StaticView())
    keys_a = {c.client_order_id for c in a if isinstance(c, NewOrder)}
    keys_b = {c.client_order_id for c in b if isinstance(c, NewOrder)}
    assert keys_a and keys_b and not keys_a & keys_b


def test_id_source_rejects_bad_characters() -> None:
    with pytest.raises(ValueError):
        IdSource("mm 1")
    ids = IdSource("mm1", "abc")
    assert ids.next("BTC-USD") == "mm1-BTC-abc000001"
    assert ids.next("ETH-USD") == "mm1-ETH-abc000002"


def test_poisson_mean() -> None:
    rng = random.Random(5)
    for lam in (0.2, 3.0, 50.0):
        n = 4000
        mean = sum(poisson(rng, lam) for _ in range(n)) / n
        assert abs(mean - lam) < 4 * (lam / n) ** 0.5 + 1e-9
    assert poisson(rng, 0.0) == 0


def test_fair_value_moves_but_stays_near_start() -> None:
    sim = Simulator(seed=11)
    view = StaticView()
    for i in range(3000):  # five simulated minutes
        sim.step(T0 + i * 100_000_000, view)
    for symbol, start in DEFAULT_FAIR_VALUES.items():
        start_units = to_units(start, SPECS[symbol].price_decimals)
        moved = sim.fair_value(symbol) / start_units - 1
        assert moved != 0.0
        assert abs(moved) < 0.05


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Simulator(rate=0)
