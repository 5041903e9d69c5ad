"""Replay times as users write them, and back.

Exports ``parse_time`` and ``format_time``.

Accepted forms (``ref_ns`` is the recording's first step, in ns since the epoch):

* an integer of 13 or more digits: ns since the epoch (``1340285400017460000``);
* ``+SECONDS`` (``+90``, ``+1.5``) or ``+HH:MM[:SS]``: that long after ``ref_ns``;
* ``HH:MM[:SS[.fff]]``: that time of day (UTC) on the day of ``ref_ns``;
* an ISO 8601 date and time (``2012-06-21T14:00:00``; UTC unless it names an offset).

Anything else is a ``ValueError`` whose message lists these forms.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_time", "parse_time"]

_FORMS = (
    "a time like 14:05:00 (UTC, on the recording's day), +SECONDS from its start, "
    "an ISO date-time or ns since the epoch"
)


def _clock_ns(text: str) -> int | None:
    """``HH:MM[:SS[.fff]]`` as ns since midnight, or ``None``."""
    parts = text.split(":")
    if not 2 <= len(parts) <= 3 or not all(parts):
        return None
    try:
        h, m = int(parts[0]), int(parts[1])
        s = float(parts[2]) if len(parts) == 3 else 0.0
    except ValueError:
        return None
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        return None
    whole = int(s)
    frac = round((s - whole) * 1e9)
    return ((h * 60 + m) * 60 + whole) * 10**9 + frac


def parse_time(text: str | int, ref_ns: int) -> int:
    """The ns timestamp ``text`` names (see the module docstring)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    t = str(text).strip()
    if t.isdigit() and len(t) >= 13:
        return int(t)
    if t.startswith("+"):
        rest = t[1:]
        clock = _clock_ns(rest)
        if clock is not None:
            return ref_ns + clock
        try:
            seconds = float(rest)
        except ValueError:
            seconds = -1.0
        if seconds >= 0 and seconds != float("inf"):
            return ref_ns + round(seconds * 1e9)
        raise ValueError(f"bad time {text!r}: expected {_FORMS}")
    clock = _clock_ns(t)
    if clock is not None:
        day = ref_ns - ref_ns % (86_400 * 10**9)
        return day + clock
    try:
        when = datetime.fromisoformat(t)
    except ValueError:
        raise ValueError(f"bad time {text!r}: expected {_FORMS}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def format_time(ns: int) -> str:
    """``ns`` as an ISO 8601 UTC time with milliseconds (``2012-06-21T13:30:00.017Z``)."""
    when = datetime.fromtimestamp(ns // 10**9, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9 // 10**6:03d}Z"
