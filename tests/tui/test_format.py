"""Formatting helpers of the terminal client."""

from __future__ import annotations

from decimal import Decimal

from client_tui.model.format import (
    SPARK_CHARS,
    change_pct,
    compact,
    fmt_duration_ms,
    fmt_signed,
    percentile,
    size_bar,
    sparkline,
)


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline([1, 2, 3], 10) == SPARK_CHARS[0] + SPARK_CHARS[4] + SPARK_CHARS[7]
    assert sparkline([5, 5, 5], 10) == SPARK_CHARS[3] * 3
    assert sparkline(list(range(100)), 8) == sparkline(list(range(92, 100)), 8)  # the tail
    assert len(sparkline(list(range(100)), 8)) == 8
    assert sparkline([], 5) == ""


def test_size_bar_is_always_width_and_never_empty_for_a_size() -> None:
    assert size_bar(0.0, 6) == " " * 6
    assert size_bar(1.0, 6) == "█" * 6
    assert size_bar(0.5, 4) == "██  "
    tiny = size_bar(0.001, 6)
    assert tiny.strip() == "▏" and len(tiny) == 6
    assert size_bar(7.0, 3) == "███"


def test_signed_compact_and_change() -> None:
    assert fmt_signed(1.5, 2) == "+1.50"
    assert fmt_signed(-0.004, 2) == "0.00"
    assert fmt_signed(-1234.5, 1) == "-1,234.5"
    assert compact(Decimal("6000825.98")) == "+6.00M"
    assert compact(Decimal("-12500")) == "-12.5k"
    assert compact(Decimal("0")) == "0.00"
    assert compact(Decimal("0.25"), signed=False, decimals=4) == "0.2500"
    assert compact(Decimal("0.2"), signed=True) == "+0.20"
    assert compact(Decimal("0.001")) == "0.00"
    assert change_pct(110, 100) == 10.0
    assert change_pct(1, 0) is None


def test_percentile_and_durations() -> None:
    samples = list(range(1, 101))
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile([], 50) is None
    assert fmt_duration_ms(None) == "-"
    assert fmt_duration_ms(0.84) == "0.8ms"
    assert fmt_duration_ms(12.4) == "12ms"
    assert fmt_duration_ms(1500) == "1.5s"
