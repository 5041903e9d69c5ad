"""Append-only command journal, snapshots, recovery, and the data directory's ``meta.json``.

Exports:

* ``Journal`` (``Journal.open(dir, fsync=...)``, ``recover()``, ``append()``, ``flush()``,
  ``sync()``, ``write_snapshot()``, ``close()``, ``last_seq``, ``durable_seq``), ``Recovery``,
  ``FsyncPolicy`` (from ``log``);
* ``encode_command`` / ``decode_command`` (from ``codec``): Command dataclasses <-> payloads;
* ``Meta``, ``load_or_create``, ``save``, ``new_epoch`` (from ``meta``);
* the errors (from ``errors``): ``JournalError``, ``JournalCorrupt``, ``SnapshotCorrupt``,
  ``MetaCorrupt``, ``JournalStateError``, ``JournalLocked``, ``RecordTooLarge``.

File formats are described in ``segment`` and ``snapshot``.
"""

from __future__ import annotations

from exchange.journal.codec import decode_command, encode_command
from exchange.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalStateError,
    MetaCorrupt,
    RecordTooLarge,
    SnapshotCorrupt,
)
from exchange.journal.log import FsyncPolicy, Journal, Recovery
from exchange.journal.meta import Meta, load_or_create, new_epoch, save

__all__ = [
    "FsyncPolicy",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalStateError",
    "Meta",
    "MetaCorrupt",
    "RecordTooLarge",
    "Recovery",
    "SnapshotCorrupt",
    "decode_command",
    "encode_command",
    "load_or_create",
    "new_epoch",
    "save",
]
