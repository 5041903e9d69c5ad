"""Open a recording by path, choosing the reader by ``format`` or by what the file looks like.

Exports ``FORMATS`` and ``load_replay``.
"""

from __future__ import annotations

from pathlib import Path

from exchange.replay.errors import ReplaySourceError
from exchange.replay.kraken import read_kraken
from exchange.replay.lobster import read_lobster
from exchange.replay.source import Progress, ReplaySource
from exchange.replay.tardis import read_tardis
from exchange.replay.tickwire import RECORDING_FORMAT, read_tickwire

__all__ = ["FORMATS", "detect_format", "load_replay"]

FORMATS = ("lobster", "tardis", "kraken", "tickwire")


def detect_format(path: str | Path) -> str:
    """``lobster`` (LOBSTER file names), ``tardis`` (its CSV header), ``kraken`` (cryptofeed
    capture lines) or ``tickwire`` (a recording header); anything else is a
    ``ReplaySourceError``."""
    p = Path(path)
    if "_message_" in p.name or "_orderbook_" in p.name:
        return "lobster"
    try:
        with p.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        raise ReplaySourceError(f"{p}: cannot read: {exc.strerror or exc}") from None
    first = head.splitlines()[0] if head else ""
    if RECORDING_FORMAT in first:
        return "tickwire"
    if first.startswith("exchange,symbol,timestamp"):
        return "tardis"
    if first.startswith("wss://") or '"book-' in head:
        return "kraken"
    raise ReplaySourceError(
        f"{p.name}: unknown recording format (give --format lobster|tardis|kraken|tickwire)"
    )


def load_replay(
    path: str | Path, fmt: str | None = None, *, progress: Progress | None = None
) -> ReplaySource:
    """Parse ``path`` with the reader for ``fmt`` (detected when ``None``)."""
    fmt = fmt or detect_format(path)
    if fmt == "lobster":
        return read_lobster(path, progress=progress)
    if fmt == "tardis":
        return read_tardis(path, progress=progress)
    if fmt == "kraken":
        return read_kraken(path, progress=progress)
    if fmt == "tickwire":
        return read_tickwire(path, progress=progress)
    raise ReplaySourceError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
