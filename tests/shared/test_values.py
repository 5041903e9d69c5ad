"""Decimal strings <-> integer units: exact or refused, never approximate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.values import InvalidDecimal, format_units, to_units


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [("101.25", 2, 10125), ("101.250", 2, 10125), ("0", 2, 0), ("7", 0, 7), ("0.0001", 4, 1)],
)
def test_exact_values(text: str, decimals: int, units: int) -> None:
    assert to_units(text, decimals) == units


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "+1",
        "-1",
        ".5",
        "5.",
        "NaN",
        "inf",
        "",
        " 1",
        "1 ",
        "1\n",
        "1\r\n",
        "1,5",
        "0x10",
        "1.001",
        "٣",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(InvalidDecimal):
        to_units(text, 2)


def test_non_strings_and_long_strings_are_refused() -> None:
    for value in (1, 1.5, None, b"1", ["1"]):
        with pytest.raises(InvalidDecimal):
            to_units(value, 2)
    with pytest.raises(InvalidDecimal):
        to_units("1" * 41, 0)


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=0, max_value=12))
def test_round_trip(units: int, decimals: int) -> None:
    assert to_units(format_units(units, decimals), decimals) == units
