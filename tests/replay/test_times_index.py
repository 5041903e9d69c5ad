"""Unit: replay times as users write them; cutting a source; checkpoints equal a straight replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.engine import Engine
from exchange.replay import ReplaySourceError, load_replay
from exchange.replay.index import ReplayIndex, apply_commands, apply_steps, select
from exchange.replay.times import format_time, parse_time

from .conftest import sample

REF = 1340285400017460000  # 2012-06-21T13:30:00.01746Z
AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)
KRAKEN = ("cryptofeed-kraken-book-2021-04-17", "KRAKEN.ws.50.0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1340285400017460000", REF),
        (REF + 5, REF + 5),
        ("+90", REF + 90 * 10**9),
        ("+1.5", REF + 1_500_000_000),
        ("+01:00", REF + 3600 * 10**9),
        ("14:00", 1340287200 * 10**9),
        ("14:00:30.25", 1340287230 * 10**9 + 250_000_000),
        ("2012-06-21T14:00:00", 1340287200 * 10**9),
        ("2012-06-21T10:00:00-04:00", 1340287200 * 10**9),
    ],
)
def test_parse_time_forms(text: str | int, expected: int) -> None:
    assert parse_time(text, REF) == expected


@pytest.mark.parametrize("text", ["", "noon", "+", "+-3", "25:00", "14:61", "12345", "+inf"])
def test_parse_time_rejects_with_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="bad time"):
        parse_time(text, REF)


def test_format_time() -> None:
    assert format_time(REF) == "2012-06-21T13:30:00.017Z"


def _straight(src: object, position: int, factory: object) -> str:
    engine = factory()  # type: ignore[operator]
    last = apply_commands(engine, src.setup, 0)  # type: ignore[attr-defined]
    apply_steps(engine, src.steps, 0, position, last)  # type: ignore[attr-defined]
    return str(engine.state_hash())


@pytest.mark.data
@pytest.mark.parametrize("parts", [AAPL, KRAKEN], ids=["lobster", "kraken"])
def test_restore_from_checkpoints_equals_straight_replay(parts: tuple[str, str]) -> None:
    src = load_replay(sample(*parts))
    src = select(src, end_ns=src.steps[min(len(src.steps), 1500) - 1].ts)

    def factory() -> Engine:
        return Engine(src.symbols, idempotency_ttl_ns=60 * 10**9, exec_history=500)

    index = ReplayIndex(src, factory, every=97).build()
    assert [cp.position for cp in index.checkpoints][:3] == [0, 97, 194]
    for position in (0, 1, 96, 97, 98, 500, len(src.steps) - 1, len(src.steps)):
        engine, _ = index.restore(position)
        assert engine.state_hash() == _straight(src, position, factory), position
    assert index.final_hash == _straight(src, len(src.steps), factory)


@pytest.mark.data
def test_select_symbol_and_end() -> None:
    src = load_replay(sample(*KRAKEN))
    one = select(src, symbols=["XBT-CHF"])
    assert [s.symbol for s in one.symbols] == ["XBT-CHF"]
    assert one.steps and all(s.symbol == "XBT-CHF" for s in one.steps)
    assert len(one.steps) == sum(1 for s in src.steps if s.symbol == "XBT-CHF")
    end = src.steps[100].ts
    cut = select(src, end_ns=end)
    assert cut.steps == [s for s in src.steps if s.ts <= end]
    assert select(src) is src
    with pytest.raises(ReplaySourceError, match="NOPE is not in the recording"):
        select(src, symbols=["NOPE"])


def test_select_keeps_steps_naming_no_symbol(tmp_path: Path) -> None:
    from exchange.engine.types import CancelOrder, NewOrder, OpenAccount, SymbolSpec
    from exchange.replay.source import ReplaySource, ReplayStep

    specs = [SymbolSpec(s, 2, 0, 1, 1, 1) for s in ("A", "B")]
    steps = [
        ReplayStep(1, (NewOrder("m", "1", "A", "buy", "limit", "1", "1.00", ts=1),), 2),
        ReplayStep(2, (NewOrder("m", "2", "B", "buy", "limit", "1", "1.00", ts=2),), 3),
        ReplayStep(3, (CancelOrder("m", client_order_id="1", ts=3),), 4),
    ]
    src = ReplaySource("x", (tmp_path,), specs, [OpenAccount("m", 0)], steps)
    cut = select(src, symbols=["B"])
    assert [s.line for s in cut.steps] == [3, 4]
    assert cut.setup == src.setup
