"""Recovery: choose the newest valid snapshot, read and check the journal tail after it.

Exports: ``Recovery``, ``Tail``, ``recover_directory``.

Rules (the journal's safety contract):

* Snapshots are tried newest first; a corrupt one is noted and skipped. With none valid the
  whole journal is read from seq 1, so it must still hold seq 1 (see ``Journal`` retention).
* Every record after the snapshot is CRC-checked and must carry the next seq. Segments wholly
  covered by the snapshot are not read.
* An invalid record in the **last** segment with nothing valid after it is a torn write (a
  crash mid-append): the file is truncated to the last good record, fsynced, and the fact is
  reported in ``Recovery.torn_tail``/``dropped_bytes``/``notes`` and logged as a warning.
* Anything else (an invalid record that valid data follows, a bad record in an earlier
  segment, a gap or reordering in the numbering, a damaged segment header) raises
  ``JournalCorrupt`` and changes no file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from exchange.journal.errors import JournalCorrupt, SnapshotCorrupt
from exchange.journal.segment import (
    SEGMENT_HEADER,
    list_segments,
    scan_segment,
    valid_record_after,
)
from exchange.journal.snapshot import TMP_PREFIX, list_snapshots, read_snapshot_file

__all__ = ["Recovery", "Tail", "recover_directory"]

log = logging.getLogger("exchange.journal.log")


@dataclass(frozen=True)
class Recovery:
    """What ``Journal.recover()`` found.

    ``snapshot`` is the newest valid snapshot's data (``None`` when there is none, then
    ``snapshot_seq`` is 0); ``records`` are every journaled ``(seq, payload)`` after it, in
    order. ``torn_tail`` is true when a partial last record was found and truncated away,
    ``dropped_bytes`` how many bytes that removed. ``notes`` explain every fallback and repair.
    """

    snapshot: bytes | None
    snapshot_seq: int
    records: list[tuple[int, bytes]]
    torn_tail: bool = False
    dropped_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        """The seq of the last recovered record (or of the snapshot when the tail is empty)."""
        return self.records[-1][0] if self.records else self.snapshot_seq


@dataclass(frozen=True)
class Tail:
    """Where appending resumes: the last segment ``(first_seq, path)`` (``None`` when there
    is no segment), the offset after its last good record, and the last journaled seq."""

    last_segment: tuple[int, Path] | None
    good_end: int
    journal_last: int


def recover_directory(directory: Path) -> tuple[Recovery, Tail]:
    """Apply the module's rules to the files in ``directory`` (the caller holds its lock)."""
    notes: list[str] = []
    for entry in os.scandir(directory):
        if entry.name.startswith(TMP_PREFIX):
            os.unlink(entry.path)
            notes.append(f"removed unfinished temporary file {entry.name}")
    snapshot, snap_seq = None, 0
    for seq, path in reversed(list_snapshots(directory)):
        try:
            snapshot, snap_seq = read_snapshot_file(path, seq), seq
            break
        except SnapshotCorrupt as exc:
            notes.append(f"snapshot at seq {seq} is corrupt, falling back: {exc}")
            log.warning("journal %s: snapshot at seq %d is corrupt: %s", directory, seq, exc)

    segments = list_segments(directory)
    # Segments before the one holding record snap_seq + 1 are covered by the snapshot.
    start = 0
    for i, (first, _) in enumerate(segments):
        if first <= snap_seq + 1:
            start = i
    if segments and segments[start][0] > snap_seq + 1:
        raise JournalCorrupt(
            f"journal starts at seq {segments[start][0]} but the newest valid snapshot is at "
            f"seq {snap_seq}: records {snap_seq + 1}..{segments[start][0] - 1} are missing"
        )
    records: list[tuple[int, bytes]] = []
    torn, dropped = False, 0
    expected = segments[start][0] if segments else snap_seq + 1
    good_end = SEGMENT_HEADER.size
    for i in range(start, len(segments)):
        first, path = segments[i]
        if first != expected:
            raise JournalCorrupt(f"{path.name}: starts at seq {first}, expected {expected}")
        scan = scan_segment(path, first, snap_seq)
        records.extend(scan.records)
        expected, good_end = scan.next_seq, scan.good_end
        if scan.problem is None:
            continue
        where = f"{path.name}: {scan.problem}"
        if i != len(segments) - 1 or scan.hard:
            raise JournalCorrupt(where)
        follower = valid_record_after(scan.data, scan.good_end, scan.next_seq)
        if follower is not None:
            raise JournalCorrupt(f"{where}, but a valid record follows at offset {follower}")
        torn, dropped = True, scan.size - scan.good_end
        _truncate(path, scan.good_end)
        note = f"{where}: torn last record, truncated {dropped} bytes (seq {expected} onward)"
        notes.append(note)
        log.warning("journal %s: %s", directory, note)
    recovery = Recovery(snapshot, snap_seq, records, torn, dropped, notes)
    return recovery, Tail(segments[-1] if segments else None, good_end, expected - 1)


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
