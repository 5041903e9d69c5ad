"""The log of one fault drill: timed rows and an outcome, as text to copy or save.

Exports ``Timeline``, ``Row``, ``Outcome``, the sources (``CLIENT``, ``UP``, ``DOWN``,
``SERVER``, all in ``SOURCES``), ``describe`` and ``lag_median``.

Contract: a drill calls :meth:`Timeline.start` once, then :meth:`Timeline.log` for every
step (``source`` one of ``SOURCES``); ``t`` is milliseconds since ``start`` on the injected
monotonic clock. :meth:`Timeline.finish` sets the outcome; :meth:`Timeline.to_text` is the
whole log, the same text on the clipboard and in a saved file. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CLIENT", "DOWN", "SERVER", "SOURCES", "UP", "Outcome", "Row", "Timeline", "describe",
    "lag_median",
]  # fmt: skip

CLIENT = "client"
UP = "wire ↑"
DOWN = "wire ↓"
SERVER = "server"
SOURCES = (CLIENT, UP, DOWN, SERVER)

#: The fields of a protocol message worth a timeline row, in this order.
_FIELDS = (
    "client_order_id", "side", "qty", "price", "tif", "status", "filled_qty", "leaves_qty",
    "exec_seq", "after", "latest_exec_seq", "reason", "timeout_ms", "fault", "count", "code",
    "message",
)  # fmt: skip


def describe(msg: dict[str, Any]) -> str:
    """One line for a protocol message: its type (or op) and the fields that say what it did."""
    parts = [str(msg.get("type") or msg.get("op") or "?")]
    for key in _FIELDS:
        value = msg.get(key)
        if value is not None:
            parts.append(f"{key}={value}")
    if msg.get("duplicate"):
        parts.append("duplicate=true")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a drill ended: ``status`` is PASS, FAIL or NOT RUN (it could not start: the
    server refused the hook, no market to trade against ...); ``summary`` gives the figure."""

    status: str
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def check(cls, ok: bool, summary: str, **facts: Any) -> Outcome:
        """PASS when ``ok``, else FAIL."""
        return cls("PASS" if ok else "FAIL", summary, facts)

    @classmethod
    def not_run(cls, summary: str, **facts: Any) -> Outcome:
        """The drill could not start; ``summary`` says why and what to do."""
        return cls("NOT RUN", summary, facts)

    @property
    def ok(self) -> bool:
        """True for PASS."""
        return self.status == "PASS"

    def line(self) -> str:
        """``PASS: <summary>``."""
        return f"{self.status}: {self.summary}"


@dataclass(frozen=True, slots=True)
class Row:
    """One step: ``t_ms`` since the drill started, its source and what happened."""

    t_ms: float
    source: str
    text: str


class Timeline:
    """Rows of one drill run (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.title = ""
        self.rows: list[Row] = []
        self.outcome: Outcome | None = None
        self.t0 = clock()
        #: bumped on every change, so a screen redraws only when something happened
        self.version = 0

    def start(self, title: str) -> None:
        """Forget the previous run; time 0 is now."""
        self.title = title
        self.rows = []
        self.outcome = None
        self.t0 = self.clock()
        self.version += 1

    def log(self, source: str, text: str) -> Row:
        """Append a row stamped now."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        row = Row((self.clock() - self.t0) * 1000, source, text)
        self.rows.append(row)
        self.version += 1
        return row

    def finish(self, outcome: Outcome) -> None:
        """Set the outcome (the last line of the text)."""
        self.outcome = outcome
        self.version += 1

    def elapsed_ms(self) -> float:
        """Milliseconds since ``start``."""
        return (self.clock() - self.t0) * 1000

    def lines(self, rows: Iterable[Row] | None = None) -> list[str]:
        """One fixed-width line per row: time, source, text."""
        return [
            f"{r.t_ms:9.1f} ms  {r.source:<6}  {r.text}"
            for r in (self.rows if rows is None else rows)
        ]

    def to_text(self) -> str:
        """The whole log: a title line, the rows, and the outcome when there is one."""
        out = [f"tickwire drill: {self.title}", *self.lines()]
        if self.outcome is not None:
            out.append(f"outcome: {self.outcome.line()}")
        return "\n".join(out) + "\n"


def lag_median(values: Iterable[float]) -> float | None:
    """The median of ``values`` (the upper one of an even count), None when empty."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None
