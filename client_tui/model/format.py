"""Formatting helpers for the terminal client: pure functions, no Textual imports.

Contract: every function is total over its documented inputs and never raises on
well-formed wire values (decimal strings, integer nanosecond timestamps).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from shared.values import format_units

__all__ = [
    "SPARK_CHARS",
    "change_pct",
    "compact",
    "fit_decimal",
    "fmt_clock",
    "fmt_duration_ms",
    "fmt_signed",
    "mid_text",
    "percentile",
    "size_bar",
    "sparkline",
]

SPARK_CHARS = "▁▂▃▄▅▆▇█"
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as block characters scaled between their min and max.

    Fewer values than ``width`` give a shorter string; a flat series is a flat mid line.
    """
    if width <= 0 or not values:
        return ""
    tail = list(values[-width:])
    lo, hi = min(tail), max(tail)
    if hi == lo:
        return SPARK_CHARS[3] * len(tail)
    top = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[round((v - lo) / (hi - lo) * top)] for v in tail)


def size_bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide filled to ``fraction`` (clamped to 0..1).

    Uses eighth-block characters so small sizes still show; the result is always exactly
    ``width`` characters long.
    """
    if width <= 0:
        return ""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1  # a resting size is never drawn as nothing
    full, rest = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[rest] if rest else "")
    return bar.ljust(width)[:width]


def change_pct(last: float, open_: float) -> float | None:
    """Percentage change from ``open_`` to ``last``; ``None`` when there is no open."""
    if open_ <= 0:
        return None
    return (last - open_) / open_ * 100.0


def fmt_signed(value: float, decimals: int) -> str:
    """``+1.50`` / ``-0.25`` / ``0.00``: an explicit sign for non-zero values."""
    text = f"{abs(value):,.{decimals}f}"
    if round(value, decimals) > 0:
        return "+" + text
    if round(value, decimals) < 0:
        return "-" + text
    return text


def fmt_clock(ts_ns: int, *, millis: bool = True) -> str:
    """Local wall-clock time of a nanosecond timestamp, ``HH:MM:SS.mmm``."""
    seconds, rem = divmod(ts_ns, 1_000_000_000)
    text = time.strftime("%H:%M:%S", time.localtime(seconds))
    if millis:
        text += f".{rem // 1_000_000:03d}"
    return text


def fmt_duration_ms(ms: float | None) -> str:
    """A latency for the status bar: ``-`` when unknown, ``0.8ms``, ``12ms``, ``1.2s``."""
    if ms is None:
        return "-"
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def percentile(samples: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0..100) of ``samples``; ``None`` when empty."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


def compact(value: Decimal | float, *, signed: bool = True, decimals: int = 2) -> str:
    """A money or size figure in at most about 9 cells: ``+6.00M``, ``-12.5k``, ``+3.25``.

    Below 10,000 it keeps ``decimals`` places; above, it switches to ``k``/``M``/``B``
    suffixes. ``signed`` adds ``+`` to positive values.
    """
    v = float(value)
    a = abs(v)
    if a >= 1e9:
        text = f"{a / 1e9:.2f}B"
    elif a >= 1e6:
        text = f"{a / 1e6:.2f}M"
    elif a >= 1e4:
        text = f"{a / 1e3:.1f}k"
    else:
        text = f"{a:.{decimals}f}"
    if v < 0 and text.strip("0.kMB"):
        return "-" + text
    if signed and v > 0 and text.strip("0."):
        return "+" + text
    return text


def fit_decimal(text: str, width: int) -> str:
    """A decimal string in at most ``width`` cells: trailing decimals are cut first (never
    rounded up), then it becomes :func:`compact` (``17.2k``). Fits already: unchanged."""
    if len(text) <= width:
        return text
    whole, _, frac = text.partition(".")
    room = width - len(whole) - 1
    if frac and room >= 1:
        return f"{whole}.{frac[:room]}"
    if len(whole) <= width:
        return whole
    try:
        short = compact(Decimal(text), signed=False, decimals=0)
    except ArithmeticError:
        return text[:width]
    suffix = short[-1] if short[-1] in "kMB" else ""
    mantissa = short[: len(short) - len(suffix)]
    if len(short) > width and "." in mantissa:
        keep = max(width - len(suffix), mantissa.index("."))
        mantissa = mantissa[:keep].rstrip(".")
    return (mantissa + suffix)[: max(width, len(mantissa + suffix))]


def mid_text(mid_x2: int, price_decimals: int) -> str:
    """The mid of twice-the-mid ``mid_x2`` (price units) in the symbol's decimals, with one
    more decimal only when the mid falls between two ticks."""
    if mid_x2 % 2 == 0:
        return format_units(mid_x2 // 2, price_decimals)
    return format_units(mid_x2 * 5, price_decimals + 1)
