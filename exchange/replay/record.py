"""``tickwire serve --record FILE``: an exchange node that writes a tickwire recording.

Exports ``recording_node``, ``Recording``.

Every command the sequencer stamps and journals from the node's start on is also written to
the recording, with the journal's own encoding (one tap on ``Sequencer.encode_command``, so
nothing else changes on the hot path). Replaying the file (``tickwire replay FILE``) feeds the
same commands with the same ``ts`` into an engine with the same symbols and fees: the same
events, the same market-data payloads and the same final ``state_hash``, provided the
recorded server started on an empty data directory (a warning is logged otherwise: commands
from before the start are not in the file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchange.config import Settings
from exchange.engine.types import Command
from exchange.node import ExchangeNode
from exchange.node.local import LocalBackend
from exchange.replay.tickwire import RecordingWriter

__all__ = ["Recording", "recording_node"]

log = logging.getLogger("tickwire.record")

_FLUSH_EVERY = 1024  # commands between pushes of the buffer to the OS


def recording_node(
    settings: Settings, *, record: str | Path, **kwargs: Any
) -> tuple[ExchangeNode, Recording]:
    """An ``ExchangeNode`` that also writes its commands to ``record`` (see module docstring),
    and its ``Recording`` (``writer`` once the node has recovered)."""
    node = ExchangeNode(settings, **kwargs)
    backend = node.backend
    assert isinstance(backend, LocalBackend)
    recording = Recording(node, backend, Path(record))
    backend.after_recover.append(recording.open)
    backend.after_stop.append(recording.close)
    return node, recording


class Recording:
    """The recording of one node: opened once the journal is recovered, closed at stop."""

    def __init__(self, node: ExchangeNode, backend: LocalBackend, path: Path) -> None:
        self.node = node
        self.backend = backend
        self.path = path
        self.writer: RecordingWriter | None = None

    def open(self) -> None:
        node, sequencer = self.node, self.backend.sequencer
        if self.backend.journal.last_seq > 0:
            log.warning(
                "recording %s starts from a data directory with an earlier session: "
                "replaying the recording alone will not reproduce this one",
                self.path,
            )
        writer = RecordingWriter(
            self.path,
            node.symbol_specs,
            maker_fee_bps=node.settings.maker_fee_bps,
            taker_fee_bps=node.settings.taker_fee_bps,
        )
        self.writer = writer
        encode: Callable[[Command], bytes] = sequencer.encode_command

        def encode_and_record(cmd: Command) -> bytes:
            line = encode(cmd)
            writer.write_encoded(line)
            if writer.count % _FLUSH_EVERY == 0:
                writer.flush()
            return line

        sequencer.encode_command = encode_and_record

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
