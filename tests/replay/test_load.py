"""Choosing a reader, and errors for files that are not there or not recognised."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.replay import ReplayError, ReplaySourceError, detect_format, load_replay

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
