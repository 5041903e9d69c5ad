"""Open recordings by path, choosing the reader by ``format`` or by what the file looks like.

Exports ``FORMATS``, ``detect_format``, ``load_replay``, ``load_replays``, ``merge_sources``
(several recordings as one replay) and ``with_key_prefix``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from exchange.engine.types import Command, OpenAccount
from exchange.replay.errors import ReplaySourceError
from exchange.replay.kraken import read_kraken
from exchange.replay.lobster import read_lobster
from exchange.replay.source import Progress, ReplaySource, ReplayStep
from exchange.replay.tardis import read_tardis
from exchange.replay.tickwire import RECORDING_FORMAT, read_tickwire

__all__ = [
    "FORMATS",
    "detect_format",
    "load_replay",
    "load_replays",
    "merge_sources",
    "with_key_prefix",
]

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


def _rekey(cmd: Command, prefix: str) -> Command:
    """``cmd`` with its idempotency keys prefixed (no two sources may share a key)."""
    changes: dict[str, str] = {}
    for name in ("client_order_id", "orig_client_order_id"):
        value = getattr(cmd, name, None)
        if isinstance(value, str):
            changes[name] = prefix + value
    return dataclasses.replace(cmd, **changes) if changes else cmd  # type: ignore[arg-type]


def with_key_prefix(source: ReplaySource, prefix: str) -> ReplaySource:
    """``source`` with every ``client_order_id`` prefixed: replaying again into an engine that
    still holds the keys of an earlier replay (they live a day) must not reuse them."""
    return dataclasses.replace(
        source,
        setup=[_rekey(c, prefix) for c in source.setup],
        steps=[
            dataclasses.replace(s, commands=tuple(_rekey(c, prefix) for c in s.commands))
            for s in source.steps
        ],
    )


def merge_sources(sources: Sequence[ReplaySource]) -> ReplaySource:
    """One replay of several recordings, steps interleaved by time (ties keep source order).

    Symbols must not repeat across sources. The keys of source ``i > 0`` get the prefix
    ``"<i>."`` so the replay accounts never reuse one; one set of replay accounts is opened.
    """
    if len(sources) == 1:
        return sources[0]
    names = [s.symbol for src in sources for s in src.symbols]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ReplaySourceError(f"symbol in more than one recording: {', '.join(dupes)}")
    setup: list[Command] = []
    opened: set[str] = set()
    tagged: list[tuple[int, int, int, ReplayStep]] = []
    for i, src in enumerate(sources):
        prefix = f"{i}." if i else ""
        for cmd in src.setup:
            if isinstance(cmd, OpenAccount):
                if cmd.account in opened:
                    continue
                opened.add(cmd.account)
            setup.append(_rekey(cmd, prefix))
        for j, step in enumerate(src.steps):
            if prefix:
                step = dataclasses.replace(
                    step, commands=tuple(_rekey(c, prefix) for c in step.commands)
                )
            tagged.append((step.ts, i, j, step))
    tagged.sort(key=lambda t: (t[0], t[1], t[2]))
    options: dict[str, int] = {}
    for src in sources:
        options.update(src.engine_options)
    return ReplaySource(
        "+".join(dict.fromkeys(s.format for s in sources)),
        tuple(p for s in sources for p in s.paths),
        [spec for s in sources for spec in s.symbols],
        setup,
        [t[3] for t in tagged],
        engine_options=options,
    )


def load_replays(
    paths: Sequence[str | Path], fmt: str | None = None, *, progress: Progress | None = None
) -> ReplaySource:
    """``load_replay`` for each path (LOBSTER pairs counted once), merged by time."""
    seen: set[Path] = set()
    sources: list[ReplaySource] = []
    for path in paths:
        src = load_replay(path, fmt, progress=progress)
        if src.paths[0] in seen:
            continue  # the other file of a LOBSTER pair already loaded
        seen.update(src.paths)
        sources.append(src)
    if not sources:
        raise ReplaySourceError("no recording given")
    return merge_sources(sources)
