"""``tickwire serve --record FILE``: an exchange node that writes a tickwire recording.

Exports ``RecordingNode``.

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
from exchange.replay.tickwire import RecordingWriter

__all__ = ["RecordingNode"]

log = logging.getLogger("tickwire.record")

_FLUSH_EVERY = 1024  # commands between pushes of the buffer to the OS


class RecordingNode(ExchangeNode):
    """An ``ExchangeNode`` that also writes its commands to ``record`` (see module docstring)."""

    def __init__(self, settings: Settings, *, record: str | Path, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.record_path = Path(record)
        self.recorder: RecordingWriter | None = None

    def recover(self) -> None:
        super().recover()
        if self.journal.last_seq > 0:
            log.warning(
                "recording %s starts from a data directory with an earlier session: "
                "replaying the recording alone will not reproduce this one",
                self.record_path,
            )
        writer = RecordingWriter(
            self.record_path,
            self.symbol_specs,
            maker_fee_bps=self.settings.maker_fee_bps,
            taker_fee_bps=self.settings.taker_fee_bps,
        )
        self.recorder = writer
        encode: Callable[[Command], bytes] = self.sequencer.encode_command

        def encode_and_record(cmd: Command) -> bytes:
            line = encode(cmd)
            writer.write_encoded(line)
            if writer.count % _FLUSH_EVERY == 0:
                writer.flush()
            return line

        self.sequencer.encode_command = encode_and_record

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            if self.recorder is not None:
                self.recorder.close()
