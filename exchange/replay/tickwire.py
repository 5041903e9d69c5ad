"""tickwire's own recordings: every sequenced command, replayable into an identical session.

Exports ``RecordingWriter``, ``read_tickwire`` and ``RECORDING_FORMAT``.

Format (UTF-8 JSON lines):

* line 1, the header: ``{"format": "tickwire-recording", "version": 1, "symbols": [...],
  "engine": {"maker_fee_bps": .., "taker_fee_bps": ..}}``; each symbol is an object with the
  ``SymbolSpec`` fields;
* every further line: one command exactly as the journal encodes it
  (``exchange.journal.codec``), with the ``ts`` the sequencer stamped.

Replaying the commands in order into an ``Engine(symbols, **engine)`` reproduces the session:
the same events and the same ``state_hash()``. A replay source from a recording has no setup
(the recording holds its own ``OpenAccount`` commands) and one step per command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import IO, Any

import orjson

from exchange.engine.types import Command, SymbolSpec
from exchange.journal.codec import decode_command, encode_command
from exchange.journal.errors import JournalError
from exchange.replay.errors import ReplaySourceError
from exchange.replay.source import LineReader, Progress, ReplaySource, ReplayStep

__all__ = ["RECORDING_FORMAT", "RecordingWriter", "read_tickwire"]

RECORDING_FORMAT = "tickwire-recording"
_VERSION = 1
_SPEC_FIELDS = {f.name for f in fields(SymbolSpec)}
_ENGINE_KEYS = ("maker_fee_bps", "taker_fee_bps")


class RecordingWriter:
    """Writes a recording; call ``write`` with each command after the sequencer stamped it.

    Lines are buffered; ``flush`` pushes them to the OS (``close`` does too)."""

    def __init__(
        self,
        path: str | Path,
        symbols: Sequence[SymbolSpec],
        *,
        maker_fee_bps: int = 0,
        taker_fee_bps: int = 0,
    ) -> None:
        self.path = Path(path)
        try:
            self._fh: IO[bytes] = self.path.open("wb")
        except OSError as exc:
            raise ReplaySourceError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        header = {
            "format": RECORDING_FORMAT,
            "version": _VERSION,
            "symbols": [asdict(s) for s in symbols],
            "engine": {"maker_fee_bps": maker_fee_bps, "taker_fee_bps": taker_fee_bps},
        }
        self._fh.write(orjson.dumps(header) + b"\n")
        self.count = 0

    def write(self, cmd: Command) -> None:
        self.write_encoded(encode_command(cmd))

    def write_encoded(self, line: bytes) -> None:
        """A command already encoded by ``exchange.journal.codec.encode_command``."""
        self._fh.write(line + b"\n")
        self.count += 1

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _header(text: str, reader: LineReader) -> tuple[list[SymbolSpec], dict[str, int]]:
    try:
        head: Any = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise reader.error(1, f"header is not JSON: {exc}") from None
    if not isinstance(head, dict) or head.get("format") != RECORDING_FORMAT:
        raise reader.error(1, f"not a tickwire recording (expected a {RECORDING_FORMAT!r} header)")
    if head.get("version") != _VERSION:
        raise reader.error(1, f"unsupported recording version {head.get('version')!r}")
    symbols: list[SymbolSpec] = []
    raw_symbols = head.get("symbols")
    if not isinstance(raw_symbols, list) or not raw_symbols:
        raise reader.error(1, "header needs a non-empty 'symbols' list")
    for raw in raw_symbols:
        if (
            not isinstance(raw, dict)
            or set(raw) - _SPEC_FIELDS
            or not isinstance(raw.get("symbol"), str)
        ):
            raise reader.error(1, f"bad symbol spec {raw!r}")
        if any(type(v) is not int for k, v in raw.items() if k != "symbol"):
            raise reader.error(1, f"symbol spec values must be integers: {raw!r}")
        try:
            symbols.append(SymbolSpec(**raw))
        except TypeError as exc:
            raise reader.error(1, f"bad symbol spec {raw!r}: {exc}") from None
    engine = head.get("engine", {})
    if not isinstance(engine, dict) or any(
        k not in _ENGINE_KEYS or type(v) is not int for k, v in engine.items()
    ):
        raise reader.error(1, f"bad engine options {engine!r}")
    return symbols, dict(engine)


def read_tickwire(path: str | Path, *, progress: Progress | None = None) -> ReplaySource:
    """Parse a recording; a bad line raises ``ReplayFormatError`` with its number. The engine
    options (fees) are in ``source.engine_options``."""
    reader = LineReader(path, progress)
    symbols: list[SymbolSpec] | None = None
    engine: dict[str, int] = {}
    steps: list[ReplayStep] = []
    for line, text in reader:
        if line == 1:
            symbols, engine = _header(text, reader)
            continue
        if not text.strip():
            continue
        try:
            cmd = decode_command(text.encode())
        except JournalError as exc:
            raise reader.error(line, f"bad command: {exc}") from None
        steps.append(ReplayStep(cmd.ts, (cmd,), line))
    if symbols is None:
        raise reader.error(1, "empty file: expected a recording header")
    return ReplaySource("tickwire", (Path(path),), symbols, [], steps, engine_options=engine)
