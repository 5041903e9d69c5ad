"""Which ``tw:cmd`` entries the sequencer has executed: read back from its own journal.

Exports: ``Source``, ``JournaledCommand``, ``CommandLog``, ``scan_journal``.

The Redis sequencer journals every command read from ``tw:cmd`` as a *sourced* record
(``exchange.journal.codec.encode_sourced``) whose source is ``"<tw:cmd id> <gateway> <corr>"``.
The journal is the one durable record of what was executed, so it answers exactly:

* where to resume reading ``tw:cmd`` after a crash (after the last journaled entry id: an
  entry is never executed twice, whatever ``meta.json`` says);
* which journaled commands never reached ``tw:seq`` (released in the journal, then a crash
  before the stream write): the engine writes them at start, so replicas stay consecutive
  and a gateway still waiting for one gets its answer;
* whether an entry named by a fence was executed (``CommandLog.executed``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from exchange.cluster.bus import stream_id_key
from exchange.journal.codec import command_source, encode_sourced
from exchange.journal.segment import list_segments, scan_segment

__all__ = ["CommandLog", "JournaledCommand", "Source", "scan_journal"]

log = logging.getLogger("tickwire.cluster.cmdlog")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a journaled command came from: its ``tw:cmd`` entry, gateway and correlation."""

    cmd_id: str
    gateway: str
    corr: str

    def encode(self) -> str:
        return f"{self.cmd_id} {self.gateway} {self.corr}"

    @classmethod
    def decode(cls, text: str) -> Source:
        cmd_id, gateway, corr = text.split(" ", 2)
        return cls(cmd_id, gateway, corr)

    def wrap(self, payload: bytes) -> bytes:
        """The journal record of ``payload`` (an encoded command) from this source."""
        return encode_sourced(payload, self.encode())


@dataclass(frozen=True, slots=True)
class JournaledCommand:
    """One journal record: its ``seq``, the payload as stored, and its source (or None)."""

    seq: int
    payload: bytes
    source: Source | None


def scan_journal(journal_dir: Path, after_seq: int = 0) -> list[JournaledCommand]:
    """Every record with ``seq > after_seq`` still in the journal's segments, in order.

    Read-only; call it after ``Journal.recover()`` (which truncated any torn tail). Segments
    covered by a snapshot may have been pruned: the list starts wherever the files do.
    """
    out: list[JournaledCommand] = []
    for first, path in list_segments(journal_dir):
        scan = scan_segment(path, first, after_seq)
        for seq, payload in scan.records:
            text = command_source(payload)
            out.append(JournaledCommand(seq, payload, Source.decode(text) if text else None))
        if scan.problem is not None:  # recovery already refused or truncated this
            break
    return out


class CommandLog:
    """The ``tw:cmd`` ids executed (journaled) recently, in order, bounded to ``keep``.

    An id at or below ``horizon`` may have been executed before what the log holds (before
    the journal tail read at start, or evicted): ``executed`` cannot say, and returns None.
    """

    def __init__(self, horizon: str = "0-0", keep: int = 200_000) -> None:
        self.horizon = horizon
        self.keep = keep
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.last = horizon

    def add(self, cmd_id: str) -> None:
        self._ids[cmd_id] = None
        if stream_id_key(cmd_id) > stream_id_key(self.last):
            self.last = cmd_id
        if len(self._ids) > self.keep:
            evicted, _ = self._ids.popitem(last=False)
            if stream_id_key(evicted) > stream_id_key(self.horizon):
                self.horizon = evicted

    def executed(self, cmd_id: str) -> bool | None:
        """True if journaled, False if certainly not, None when it is too old to tell."""
        if cmd_id in self._ids:
            return True
        if stream_id_key(cmd_id) <= stream_id_key(self.horizon):
            return None
        return False

    def __len__(self) -> int:
        return len(self._ids)
