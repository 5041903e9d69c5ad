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
* whether an entry named by a fence was executed (``CommandLog.executed``);
* whether an entry repeats one already executed (``CommandLog.duplicate_of``): the same
  gateway and correlation id under a new entry id. redis-py resends an XADD whose reply timed
  out after Redis applied it, and the resend gets a new auto id; the sequencer must run the
  command once (a ``CancelAll`` twice would cancel orders placed in between). The pairs are
  rebuilt from the journal's sourced records at start, so this holds across a restart too.
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
        #: (gateway, correlation id) -> the entry id that carried it, bounded like ``_ids``
        self._pairs: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.last = horizon

    def add(self, cmd_id: str) -> None:
        self._ids[cmd_id] = None
        if stream_id_key(cmd_id) > stream_id_key(self.last):
            self.last = cmd_id
        if len(self._ids) > self.keep:
            evicted, _ = self._ids.popitem(last=False)
            if stream_id_key(evicted) > stream_id_key(self.horizon):
                self.horizon = evicted

    def remember(self, source: Source) -> None:
        """``add`` the entry id, and remember its (gateway, correlation id) pair."""
        self.add(source.cmd_id)
        self._pairs[(source.gateway, source.corr)] = source.cmd_id
        if len(self._pairs) > self.keep:
            self._pairs.popitem(last=False)

    def duplicate_of(self, source: Source) -> str | None:
        """The id of an executed entry with the same gateway and correlation id as
        ``source`` but another entry id (``source`` repeats it), else None."""
        first = self._pairs.get((source.gateway, source.corr))
        return first if first is not None and first != source.cmd_id else None

    def executed(self, cmd_id: str) -> bool | None:
        """True if journaled, False if certainly not, None when it is too old to tell."""
        if cmd_id in self._ids:
            return True
        if stream_id_key(cmd_id) <= stream_id_key(self.horizon):
            return None
        return False

    def __len__(self) -> int:
        return len(self._ids)
