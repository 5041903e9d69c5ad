"""Snapshot files: opaque state bytes at a journal position, written atomically.

Exports: ``SNAPSHOT_HEADER``, ``snapshot_name``, ``list_snapshots``, ``write_snapshot_file``,
``read_snapshot_file``.

A snapshot ``snapshot-<seq:020d>.snap`` is ``[4s magic "TWSN"][u32 version][u64 seq]
[u64 length][u32 crc32(data)]`` then ``data``: the state after applying journal records
``1..seq``. It is written to a temporary name, fsynced, renamed into place, and the directory
fsynced, so a snapshot file is either absent or complete (a CRC still guards against damage).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from exchange.journal.errors import SnapshotCorrupt
from exchange.journal.segment import fsync_dir, list_numbered, write_all

__all__ = [
    "SNAPSHOT_HEADER",
    "TMP_PREFIX",
    "list_snapshots",
    "read_snapshot_file",
    "snapshot_name",
    "write_snapshot_file",
]

SNAPSHOT_MAGIC = b"TWSN"
SNAPSHOT_VERSION = 1
SNAPSHOT_HEADER = struct.Struct("<4sIQQI")
TMP_PREFIX = ".tmp-"
_PREFIX = "snapshot-"
_SUFFIX = ".snap"


def snapshot_name(seq: int) -> str:
    return f"{_PREFIX}{seq:020d}{_SUFFIX}"


def list_snapshots(directory: Path) -> list[tuple[int, Path]]:
    """``(seq, path)`` of every snapshot file, oldest first."""
    return list_numbered(directory, _PREFIX, _SUFFIX)


def write_snapshot_file(directory: Path, seq: int, data: bytes) -> Path:
    """Durably write the snapshot of ``seq``; returns its path. Blocking (fsyncs twice)."""
    name = snapshot_name(seq)
    final = directory / name
    tmp = directory / f"{TMP_PREFIX}{name}"
    header = SNAPSHOT_HEADER.pack(
        SNAPSHOT_MAGIC, SNAPSHOT_VERSION, seq, len(data), zlib.crc32(data)
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, header)
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(directory)
    return final


def read_snapshot_file(path: Path, seq: int) -> bytes:
    """The data of a snapshot file; raises :class:`SnapshotCorrupt` if any check fails."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SnapshotCorrupt(f"{path.name}: unreadable: {exc}") from exc
    hs = SNAPSHOT_HEADER.size
    if len(raw) < hs:
        raise SnapshotCorrupt(f"{path.name}: header truncated ({len(raw)} bytes)")
    magic, version, file_seq, length, crc = SNAPSHOT_HEADER.unpack_from(raw, 0)
    if magic != SNAPSHOT_MAGIC or version != SNAPSHOT_VERSION:
        raise SnapshotCorrupt(f"{path.name}: bad magic {magic!r} or version {version}")
    if file_seq != seq:
        raise SnapshotCorrupt(f"{path.name}: header says seq {file_seq}")
    if len(raw) != hs + length:
        raise SnapshotCorrupt(f"{path.name}: {len(raw) - hs} data bytes, header says {length}")
    data = raw[hs:]
    if zlib.crc32(data) != crc:
        raise SnapshotCorrupt(f"{path.name}: CRC mismatch")
    return data
