"""On-disk format of journal segments, and the scanner recovery uses.

Exports: ``SEGMENT_HEADER``, ``RECORD_HEADER``, ``MAX_RECORD_BYTES``, ``encode_record``,
``segment_name``, ``list_segments``, ``scan_segment``, ``SegmentScan``, ``fsync_dir``.

A segment file ``journal-<first_seq:020d>.seg`` is a 16-byte header
``[4s magic "TWJL"][u32 version][u64 first_seq]`` followed by records
``[u32 length][u32 crc][u64 seq][payload]`` (little endian). ``crc`` is ``zlib.crc32`` over
``[u32 length][u64 seq]`` then the payload, so a damaged length or seq is detected like a
damaged payload. Records are numbered without gaps across segments: a segment's first record
has ``first_seq``, each next one ``seq + 1``. Segment files are created whole (header written
to a temporary name, fsynced, renamed), so only the records of the last segment can be torn.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MAX_RECORD_BYTES",
    "RECORD_HEADER",
    "SEGMENT_HEADER",
    "SEGMENT_MAGIC",
    "SEGMENT_VERSION",
    "SegmentScan",
    "encode_record",
    "fsync_dir",
    "list_segments",
    "scan_segment",
    "segment_name",
    "valid_record_after",
    "write_all",
]

SEGMENT_MAGIC = b"TWJL"
SEGMENT_VERSION = 1
SEGMENT_HEADER = struct.Struct("<4sIQ")
RECORD_HEADER = struct.Struct("<IIQ")
_LEN_SEQ = struct.Struct("<IQ")
#: Largest payload accepted by ``Journal.append`` (a sanity bound for recovery, too).
MAX_RECORD_BYTES = 64 * 1024 * 1024

_PREFIX = "journal-"
_SUFFIX = ".seg"


def record_crc(length: int, seq: int, payload: bytes | memoryview) -> int:
    """The CRC stored in a record's header."""
    return zlib.crc32(payload, zlib.crc32(_LEN_SEQ.pack(length, seq)))


def encode_record(seq: int, payload: bytes) -> bytes:
    """One record's bytes: header then payload."""
    n = len(payload)
    return RECORD_HEADER.pack(n, record_crc(n, seq, payload), seq) + payload


def segment_name(first_seq: int) -> str:
    return f"{_PREFIX}{first_seq:020d}{_SUFFIX}"


def list_numbered(directory: Path, prefix: str, suffix: str) -> list[tuple[int, Path]]:
    """``(number, path)`` of every file named ``prefix`` + 20 digits + ``suffix`` in
    ``directory``, lowest number first (segments and snapshots are named so)."""
    found = []
    for entry in os.scandir(directory):
        name = entry.name
        if name.startswith(prefix) and name.endswith(suffix):
            digits = name[len(prefix) : -len(suffix)]
            if digits.isdigit() and len(digits) == 20:
                found.append((int(digits), Path(entry.path)))
    found.sort()
    return found


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """``(first_seq, path)`` of every segment file, in sequence order."""
    return list_numbered(directory, _PREFIX, _SUFFIX)


def fsync_dir(directory: Path) -> None:
    """Make renames and creations in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class SegmentScan:
    """What scanning one segment found.

    ``good_end`` is the offset just after the last valid record (the header size when none).
    ``problem`` is ``None`` when the whole file is valid; otherwise the reason scanning stopped
    at ``good_end``, and ``hard`` says it cannot be a torn write (a valid record out of order).
    """

    first_seq: int
    size: int
    good_end: int
    next_seq: int
    records: list[tuple[int, bytes]] = field(default_factory=list)
    problem: str | None = None
    hard: bool = False
    data: bytes = b""


def scan_segment(path: Path, first_seq: int, keep_after: int) -> SegmentScan:
    """Read and check every record of a segment file.

    Records with ``seq > keep_after`` are returned. A bad header is reported as a ``hard``
    problem at offset 0. The scan stops at the first invalid record; whether that is a torn
    tail or corruption is the caller's decision (see ``valid_record_after``).
    """
    data = path.read_bytes()
    size = len(data)
    scan = SegmentScan(first_seq=first_seq, size=size, good_end=0, next_seq=first_seq, data=data)
    if size < SEGMENT_HEADER.size:
        scan.problem, scan.hard = f"segment header truncated ({size} bytes)", True
        return scan
    magic, version, header_seq = SEGMENT_HEADER.unpack_from(data, 0)
    if magic != SEGMENT_MAGIC or version != SEGMENT_VERSION or header_seq != first_seq:
        scan.problem = f"bad segment header (magic {magic!r}, version {version}, seq {header_seq})"
        scan.hard = True
        return scan
    pos = SEGMENT_HEADER.size
    expected = first_seq
    records = scan.records
    view = memoryview(data)
    rh = RECORD_HEADER.size
    while pos < size:
        if size - pos < rh:
            scan.problem = f"partial record header at offset {pos}"
            break
        length, crc, seq = RECORD_HEADER.unpack_from(data, pos)
        end = pos + rh + length
        if length > MAX_RECORD_BYTES or end > size:
            scan.problem = f"record at offset {pos} extends past the end of the file"
            break
        payload = view[pos + rh : end]
        if record_crc(length, seq, payload) != crc:
            scan.problem = f"CRC mismatch in record at offset {pos}"
            break
        if seq != expected:
            scan.problem = f"record at offset {pos} has seq {seq}, expected {expected}"
            scan.hard = True
            break
        if seq > keep_after:
            records.append((seq, bytes(payload)))
        expected += 1
        pos = end
    scan.good_end = pos
    scan.next_seq = expected
    return scan


def valid_record_after(data: bytes, start: int, min_seq: int) -> int | None:
    """Offset of a valid record beginning after ``start`` with ``seq >= min_seq``, else None.

    Used to tell a torn final record (nothing valid follows) from a corrupt record in the
    middle (valid data follows). Only offsets whose ``seq`` field is plausible are CRC-checked,
    which keeps this linear in practice.
    """
    size = len(data)
    rh = RECORD_HEADER.size
    view = memoryview(data)
    max_seq = min_seq + (size - start) // rh + 1
    for pos in range(start + 1, size - rh + 1):
        length, crc, seq = RECORD_HEADER.unpack_from(data, pos)
        if seq < min_seq or seq > max_seq:
            continue
        end = pos + rh + length
        if end > size:
            continue
        if record_crc(length, seq, view[pos + rh : end]) == crc:
            return pos
    return None


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``os.write`` until every byte is written (a regular file may take a short write)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
