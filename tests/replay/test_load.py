"""Choosing a reader, and errors for files that are not there or not recognised."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.replay import ReplayError, ReplaySource, ReplaySourceError, detect_format, load_replay

from .conftest import sample


def test_detect_samples() -> None:
    assert detect_format(sample("cryptofeed-kraken-book-2021-04-17", "KRAKEN.ws.50.0")) == "kraken"
    tardis = sample(
        "tardis-binance-futures-btcusdt-trades-2020-02-22",
        "binance-futures_trades_BTCUSDT_2020-02-22.csv",
    )
    assert detect_format(tardis) == "tardis"
    assert load_replay(tardis).format == "tardis"


def test_detect_by_name_and_unknown(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "AMZN_2012-06-21_1_2_message_1.csv") == "lobster"
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(ReplaySourceError, match=r"notes\.txt: unknown recording format"):
        detect_format(other)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplaySourceError, match="cannot read"):
        load_replay(tmp_path / "nope.csv", "tardis")
    with pytest.raises(ReplaySourceError, match="cannot read"):
        load_replay(tmp_path / "X_2012-06-21_1_2_message_1.csv")
    with pytest.raises(ReplayError, match="unknown format"):
        load_replay(tmp_path / "nope.csv", "csv")


def test_two_recordings_merge_by_time_without_key_clashes(tmp_path: Path) -> None:
    from exchange.replay import load_replays

    from .conftest import drive
    from .test_lobster import BOOKS, MESSAGES

    paths = []
    for ticker, shift in (("AAA", 0), ("BBB", 1)):
        msg = tmp_path / f"{ticker}_2012-06-21_34200000_57600000_message_2.csv"
        book = tmp_path / f"{ticker}_2012-06-21_34200000_57600000_orderbook_2.csv"
        # the same order ids in both files; BBB's messages come a quarter second later
        lines = [
            f"{float(m.split(',')[0]) + 0.25 * shift:.9f},{m.split(',', 1)[1]}" for m in MESSAGES
        ]
        msg.write_text("\n".join(lines))
        book.write_text("\n".join(BOOKS))
        paths += [msg, book]
    src = load_replays(paths)  # both files of each pair given: each pair loads once
    assert [s.symbol for s in src.symbols] == ["AAA", "BBB"]
    assert len(src) == 2 * len(MESSAGES)
    assert [s.ts for s in src.steps] == sorted(s.ts for s in src.steps)
    assert sum(1 for c in src.setup if type(c).__name__ == "OpenAccount") == 2
    for engine, step, _ in drive(src):  # drive fails on any reject (a reused key would be one)
        assert step.symbol is not None and step.book is not None
        snap = engine.book_snapshot(step.symbol, 2)
        assert (snap.bids, snap.asks) == step.book


def test_a_second_replay_into_the_same_engine_needs_fresh_keys(tmp_path: Path) -> None:
    from exchange.engine.engine import Engine
    from exchange.engine.types import OrderAccepted
    from exchange.replay import read_lobster, with_key_prefix

    from .test_lobster import BOOKS, MESSAGES, write_pair

    src = read_lobster(write_pair(tmp_path, MESSAGES, BOOKS, header=False))
    engine = Engine(src.symbols)

    def play(source: ReplaySource) -> list[OrderAccepted]:
        acks = []
        for cmd in source.setup + [c for s in source.steps for c in s.commands]:
            acks += [e for e in engine.handle(cmd) if isinstance(e, OrderAccepted)]
        return acks

    play(src)
    again = play(src)
    assert again and all(a.duplicate for a in again)  # the same keys create nothing
    fresh = play(with_key_prefix(src, "r2."))
    assert fresh and not any(a.duplicate for a in fresh)
    assert all(a.order.client_order_id.startswith("r2.") for a in fresh)
