"""What every reader returns, and the helpers they share.

Exports ``ReplayStep``, ``ReplaySource``, ``Progress``, ``LineReader``, ``parse_int``,
``parse_decimal``, ``replay_spec`` and the replay account names ``MAKER``/``TAKER``.

A ``ReplaySource`` is fully parsed when returned (a bad line fails the load, not the replay
halfway through, and seeking needs random access). Feed ``setup`` to the engine first, then
each step's ``commands`` in order; iterating the source yields ``(ts_ns, [Command])``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exchange.engine.types import Command, OpenAccount, PriceQty, SymbolSpec
from exchange.replay.errors import ReplayFormatError, ReplaySourceError

__all__ = [
    "MAKER",
    "TAKER",
    "LineReader",
    "Progress",
    "ReplaySource",
    "ReplayStep",
    "parse_decimal",
    "parse_int",
    "replay_accounts",
    "replay_spec",
    "rescale",
]

#: Account holding every replayed resting order (risk-exempt).
MAKER = "replay-maker"
#: Account sending the IOCs that print replayed trades (risk-exempt).
TAKER = "replay-taker"

#: ``progress(bytes_done, bytes_total)``, called while reading and once at the end.
Progress = Callable[[int, int], None]

_PROGRESS_EVERY = 1 << 18  # bytes between progress calls


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """The commands of one recorded message, at its time.

    ``line`` is the message's line in its file. ``checksum`` (Kraken) is the venue's book
    checksum of ``symbol`` after this step. ``book`` (LOBSTER) is the venue's visible book of
    ``symbol`` after this step: ``(bids, asks)``, best first, as ``(price, qty)`` units, and
    ``corrections`` counts the commands added to follow it where the messages cannot tell.
    """

    ts: int
    commands: tuple[Command, ...]
    line: int
    symbol: str | None = None
    checksum: int | None = None
    book: tuple[tuple[PriceQty, ...], tuple[PriceQty, ...]] | None = None
    corrections: int = 0


@dataclass(slots=True)
class ReplaySource:
    """A parsed recording: its symbols, setup commands and steps in replay order."""

    format: str
    paths: tuple[Path, ...]
    symbols: list[SymbolSpec]
    setup: list[Command]
    steps: list[ReplayStep] = field(default_factory=list)
    #: keyword arguments for ``Engine`` that the session needs (a tickwire recording's fees)
    engine_options: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[tuple[int, list[Command]]]:
        for step in self.steps:
            yield step.ts, list(step.commands)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def start_ns(self) -> int | None:
        return self.steps[0].ts if self.steps else None

    @property
    def end_ns(self) -> int | None:
        return self.steps[-1].ts if self.steps else None


def replay_accounts(ts: int = 0) -> list[Command]:
    """``OpenAccount`` for the two risk-exempt replay accounts."""
    return [OpenAccount(a, cash=0, risk_exempt=True, ts=ts) for a in (MAKER, TAKER)]


def replay_spec(
    symbol: str, price_decimals: int, qty_decimals: int, tick_size: int = 1
) -> SymbolSpec:
    """A replayed symbol: lot and min qty of one unit, limits wide enough for any venue."""
    return SymbolSpec(
        symbol,
        price_decimals=price_decimals,
        qty_decimals=qty_decimals,
        tick_size=tick_size,
        lot_size=1,
        min_qty=1,
        max_qty=10**24,
        max_price=10**24,
    )


class LineReader:
    """Iterate ``(line_number, text)`` over a file (1-based), reporting progress in bytes.

    Lines are decoded as UTF-8 with the line ending stripped. A file that cannot be opened is
    a ``ReplaySourceError``; bytes that are not UTF-8 are a ``ReplayFormatError`` at that line.
    """

    def __init__(
        self,
        path: str | Path,
        progress: Progress | None = None,
        *,
        total: int | None = None,
        base: int = 0,
    ) -> None:
        self.path = Path(path)
        self._progress = progress
        try:
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise ReplaySourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        self._total = self.size if total is None else total
        self._base = base

    def __iter__(self) -> Iterator[tuple[int, str]]:
        done = 0
        next_report = _PROGRESS_EVERY
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            raise ReplaySourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        with fh:
            for number, raw in enumerate(fh, 1):
                done += len(raw)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ReplayFormatError(self.path, number, "not UTF-8 text") from None
                yield number, text.rstrip("\r\n")
                if self._progress is not None and done >= next_report:
                    next_report = done + _PROGRESS_EVERY
                    self._progress(self._base + done, self._total)
        if self._progress is not None:
            self._progress(self._base + done, self._total)

    def error(self, line: int, message: str) -> ReplayFormatError:
        return ReplayFormatError(self.path, line, message)


def parse_int(text: str, what: str, reader: LineReader, line: int) -> int:
    """An optionally signed decimal integer, or a ``ReplayFormatError`` naming ``what``."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or "_" in text or not text.isascii():
        raise reader.error(line, f"{what} is not an integer: {text!r}")
    return value


def parse_decimal(text: str, what: str, reader: LineReader, line: int) -> tuple[int, int]:
    """A non-negative decimal string as ``(digits as int, decimals)``: ``"12.50" -> (1250, 2)``."""
    t = text.strip()
    whole, dot, frac = t.partition(".")
    if (
        not whole.isdigit()
        or not whole.isascii()
        or (dot and (not frac.isdigit() or not frac.isascii()))
    ):
        raise reader.error(line, f"{what} is not a decimal number: {text!r}")
    return int(whole + frac), len(frac)


def rescale(value: int, decimals: int, target: int) -> int:
    """``value`` at ``decimals`` places expressed at ``target >= decimals`` places."""
    return value * 10 ** (target - decimals)
