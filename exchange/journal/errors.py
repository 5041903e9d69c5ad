"""Errors of the journal package.

Hierarchy::

    JournalError                  base of everything raised here
    ├── JournalCorrupt            bytes on disk (or handed to the codec) are not valid where
    │   │                         valid data was expected; never raised for a torn final record,
    │   │                         which recovery reports and truncates instead
    │   ├── SnapshotCorrupt       one snapshot file is unusable (recovery falls back past it)
    │   └── MetaCorrupt           ``meta.json`` cannot be read back
    ├── JournalStateError         the API was used out of order (append before ``recover()``,
    │                             ``recover()`` twice, use after ``close()``)
    ├── JournalLocked             another process holds the journal directory
    └── RecordTooLarge            a payload above ``MAX_RECORD_BYTES``, or a command with a
                                  value the codec cannot represent (an int beyond 64 bits)
"""

from __future__ import annotations

__all__ = [
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalStateError",
    "MetaCorrupt",
    "RecordTooLarge",
    "SnapshotCorrupt",
]


class JournalError(Exception):
    """Base class of every error raised by ``exchange.journal``."""


class JournalCorrupt(JournalError):
    """Stored data is invalid where valid data was expected (never silently skipped)."""


class SnapshotCorrupt(JournalCorrupt):
    """A snapshot file failed its checks (magic, version, length, sequence or CRC)."""


class MetaCorrupt(JournalCorrupt):
    """``meta.json`` exists but is not a valid meta document."""


class JournalStateError(JournalError):
    """The journal was used out of order: see the contract of :class:`Journal`."""


class JournalLocked(JournalError):
    """Another process (or another open ``Journal``) holds the directory's lock."""


class RecordTooLarge(JournalError):
    """A record or a value in it cannot be stored."""
