"""Correctness gate of the benchmark: tickwire's trade stream equals orderly-chaos's.

On a seeded tape of the operations both engines support (limit, market, cancel, reduce),
every trade (price, qty, maker id, taker id) must be the same, in the same order. Each
tickwire order comes from its own account, so self-trade prevention never applies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.engine_runners import OrderlyChaosRunner, TickwireRunner  # noqa: E402
from bench.engine_tapes import CANCEL, LIMIT, MARKET, REDUCE, gate_tape  # noqa: E402


def run_both(
    n: int, seed: int
) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    tape = gate_tape(n, seed)
    assert {op[0] for op in tape} == {LIMIT, MARKET, CANCEL, REDUCE}
    ours = TickwireRunner(accounts=0, record=True)
    theirs = OrderlyChaosRunner(record=True)
    for runner in (ours, theirs):
        for op in tape:
            runner.apply(runner.prepare(op))
    return ours.trades(), theirs.trades()


@pytest.mark.parametrize("seed", [3, 11])
def test_trade_streams_are_identical(seed: int) -> None:
    ours, theirs = run_both(6_000, seed)
    assert len(theirs) > 1_000  # the tape really trades
    assert ours == theirs
