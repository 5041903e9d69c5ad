"""The journal: an append-only, CRC-checked command log with snapshots, and its recovery.

Exports: ``Journal``, ``Recovery``, ``FsyncPolicy``.

Contract::

    journal = Journal.open(data_dir / "journal", fsync="batch")
    rec = journal.recover()           # exactly once, before the first append
    engine = Engine.from_snapshot(rec.snapshot) if rec.snapshot else Engine(...)
    for seq, payload in rec.records:  # records after rec.snapshot_seq, in order
        engine.handle(decode_command(payload))
    seq = journal.append(encode_command(cmd))   # cheap: buffered in memory
    journal.sync()                    # before releasing the replies of appended commands
    journal.write_snapshot(seq, state_bytes)    # state after record ``seq``; blocking
    job = journal.fork_snapshot(make_state)     # or: a child writes it, the caller goes on
    ...; journal.finish_snapshot(job)           # once job.fd is readable (the child ended)
    journal.close()

Fsync policies (``sync()`` is what the caller must call before releasing replies):

* ``"always"``: the caller calls ``sync()`` after every append; ``sync()`` writes and fsyncs.
* ``"batch"``: the caller calls ``sync()`` once per group of appends (group commit, e.g. from
  a worker thread every few ms) before releasing any of their replies; it writes and fsyncs.
* ``"off"``: ``sync()`` only hands the buffered records to the OS (survives a killed process,
  not a power loss).

Threads: ``append()``/``flush()`` may run in one thread while ``sync()`` runs in another; a lock
guards the buffer swap only, never the fsync, so appends do not wait for the disk. Records are
written in sequence order whatever the interleaving.

Retention: recovery falls back from a corrupt newest snapshot to an older one, and from no
valid snapshot to the whole journal. That needs the journal kept from the beginning, which is
the default (``prune_segments=False``). With ``prune_segments=True`` segments wholly covered by
the oldest kept snapshot are deleted, and losing every snapshot is then ``JournalCorrupt``.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
import logging
import os
import signal
import struct
import threading
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from exchange.journal.errors import (
    JournalError,
    JournalLocked,
    JournalStateError,
    RecordTooLarge,
)
from exchange.journal.recovery import Recovery, recover_directory
from exchange.journal.segment import (
    MAX_RECORD_BYTES,
    RECORD_HEADER,
    SEGMENT_HEADER,
    SEGMENT_MAGIC,
    SEGMENT_VERSION,
    fsync_dir,
    list_segments,
    segment_name,
    write_all,
)
from exchange.journal.snapshot import TMP_PREFIX, list_snapshots, write_snapshot_file

__all__ = ["ForkedSnapshot", "FsyncPolicy", "Journal", "Recovery"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "batch", "off"]
_POLICIES = ("always", "batch", "off")
_LOCK_NAME = "LOCK"
# Bound once: append() is on the order path (the same layout as segment.encode_record).
_pack_header = RECORD_HEADER.pack
_pack_len_seq = struct.Struct("<IQ").pack
_crc32 = zlib.crc32


@dataclass(slots=True)
class ForkedSnapshot:
    """A snapshot being written by a child process (``Journal.fork_snapshot``)."""

    pid: int
    #: Read end of a pipe: readable (``ok`` or EOF) once the child has finished.
    fd: int
    seq: int
    started: float
    ok: bool | None = None


class Journal:
    """Append-only log of opaque payloads in segment files, plus snapshots. See the module."""

    def __init__(
        self,
        directory: Path,
        fsync: FsyncPolicy,
        *,
        keep_snapshots: int,
        prune_segments: bool,
        buffer_limit: int,
        segment_bytes: int,
        lock_fd: int,
    ) -> None:
        self.directory = directory
        self.policy: FsyncPolicy = fsync
        self.keep_snapshots = keep_snapshots
        self.prune_segments = prune_segments
        self.buffer_limit = buffer_limit
        self.segment_bytes = segment_bytes
        self._lock_fd = lock_fd
        self._buf_lock = threading.Lock()  # guards _buf and _next_seq
        self._write_lock = threading.Lock()  # orders writes; guards _fd, _written_seq
        self._sync_lock = threading.Lock()  # one sync/roll/close at a time (fsync vs close)
        self._buf = bytearray()
        self._next_seq = 1
        self._written_seq = 0
        self._durable_seq = 0
        self._fd = -1
        self._segment_first = 1
        self._segment_has_records = False
        self._segment_bytes = 0
        self._state: Literal["new", "open", "closed"] = "new"

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        fsync: FsyncPolicy = "batch",
        *,
        keep_snapshots: int = 3,
        prune_segments: bool = False,
        buffer_limit: int = 1 << 20,
        segment_bytes: int = 256 << 20,
    ) -> Journal:
        """Open (creating if needed) the journal in ``directory``; call ``recover()`` next.

        Takes an exclusive ``flock`` on ``directory/LOCK`` (``JournalLocked`` if held).
        ``buffer_limit``: appended bytes above which ``append`` hands the buffer to the OS.
        ``segment_bytes``: ``sync()`` starts a new segment once the current one is larger
        (segments also roll at every snapshot); recovery reads a segment into memory at once.
        """
        if fsync not in _POLICIES:
            raise ValueError(f"fsync must be one of {_POLICIES}, not {fsync!r}")
        if keep_snapshots < 1:
            raise ValueError("keep_snapshots must be at least 1")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(path / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise JournalLocked(f"{path} is in use by another journal") from None
        return cls(
            path,
            fsync,
            keep_snapshots=keep_snapshots,
            prune_segments=prune_segments,
            buffer_limit=buffer_limit,
            segment_bytes=segment_bytes,
            lock_fd=lock_fd,
        )

    # ------------------------------------------------------------------ recovery

    def recover(self) -> Recovery:
        """Load the newest valid snapshot and the records after it; prepare for appends.

        A torn final record is truncated away (``torn_tail``, a warning logged). An invalid
        record that valid data follows, a gap in the numbering, or a journal that starts after
        every valid snapshot raises ``JournalCorrupt`` and leaves the files untouched.
        """
        if self._state != "new":
            raise JournalStateError("recover() must be called exactly once, before append()")
        rec, tail = recover_directory(self.directory)
        snap_seq = rec.snapshot_seq
        self._next_seq = max(tail.journal_last, snap_seq) + 1
        self._written_seq = self._durable_seq = self._next_seq - 1
        if tail.last_segment is not None:
            self._segment_first, path = tail.last_segment
            self._fd = os.open(path, os.O_WRONLY)
            os.lseek(self._fd, tail.good_end, os.SEEK_SET)
            self._segment_bytes = tail.good_end
            self._segment_has_records = tail.journal_last >= self._segment_first
            if tail.journal_last < snap_seq:
                rec.notes.append(
                    f"journal ends at seq {tail.journal_last}, before the snapshot at seq "
                    f"{snap_seq}; new records continue from {snap_seq + 1} in a new segment"
                )
                self._open_segment(self._next_seq)
        else:
            self._open_segment(self._next_seq)
        self._state = "open"
        return rec

    def _open_segment(self, first_seq: int) -> None:
        """Create segment ``first_seq`` atomically and make it the one appended to."""
        name = segment_name(first_seq)
        tmp = self.directory / f"{TMP_PREFIX}{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, SEGMENT_HEADER.pack(SEGMENT_MAGIC, SEGMENT_VERSION, first_seq))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        os.replace(tmp, self.directory / name)
        fsync_dir(self.directory)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._segment_first = first_seq
        self._segment_has_records = False
        self._segment_bytes = SEGMENT_HEADER.size

    # ------------------------------------------------------------------ writing

    @property
    def last_seq(self) -> int:
        """The seq of the last appended record (buffered or not); 0 when there is none."""
        return self._next_seq - 1

    @property
    def durable_seq(self) -> int:
        """Every record up to this seq has been through a completed ``sync()``."""
        return self._durable_seq

    def append(self, payload: bytes) -> int:
        """Buffer one record and return its seq. Never blocks on the disk.

        When the buffer holds more than ``buffer_limit`` bytes and no other thread is writing,
        it is handed to the OS here. Durability needs ``sync()`` (see the policies).
        """
        if self._state != "open":
            raise JournalStateError(f"append() on a journal that is {self._state}")
        n = len(payload)
        if n > MAX_RECORD_BYTES:
            raise RecordTooLarge(f"payload of {n} bytes")
        with self._buf_lock:
            seq = self._next_seq
            self._next_seq = seq + 1
            buf = self._buf
            buf += _pack_header(n, _crc32(payload, _crc32(_pack_len_seq(n, seq))), seq)
            buf += payload
            full = len(buf) > self.buffer_limit
        if full and self._write_lock.acquire(blocking=False):
            try:
                self._write_buffer()
            finally:
                self._write_lock.release()
        return seq

    def flush(self) -> int:
        """Write every buffered record to the OS (no fsync); returns the last seq written."""
        self._check_open()
        with self._write_lock:
            return self._write_buffer()

    def sync(self) -> int:
        """``flush()``, then fsync unless the policy is ``"off"``; returns the seq now durable.

        Blocking: call it from a worker thread when appends continue meanwhile.
        """
        self._check_open()
        with self._sync_lock:
            with self._write_lock:
                upto = self._write_buffer()
                fd = self._fd
            if self.policy != "off" and upto > self._durable_seq:
                os.fdatasync(fd)  # outside the write lock: appends and flushes go on
            self._durable_seq = max(self._durable_seq, upto)
            if self._segment_bytes > self.segment_bytes:
                self._roll_locked()
            return upto

    def _write_buffer(self) -> int:
        """Swap the buffer out and write it. Caller holds ``_write_lock``."""
        with self._buf_lock:
            if not self._buf:
                return self._written_seq
            data, self._buf = self._buf, bytearray()
            upto = self._next_seq - 1
        write_all(self._fd, data)
        self._segment_bytes += len(data)
        self._written_seq = upto
        self._segment_has_records = True
        return upto

    def _check_open(self) -> None:
        if self._state != "open":
            raise JournalStateError(f"journal is {self._state}")

    # ------------------------------------------------------------------ snapshots

    def write_snapshot(self, seq: int, data: bytes) -> None:
        """Durably store ``data`` as the state after record ``seq``; blocking.

        Syncs the journal first (so the snapshot never covers records that are not durable),
        keeps the newest ``keep_snapshots`` snapshots, and starts a new segment.
        """
        self._check_open()
        if not 0 <= seq <= self.last_seq:
            raise JournalError(f"snapshot seq {seq} is outside 0..{self.last_seq}")
        self.sync()
        write_snapshot_file(self.directory, seq, data)
        self._after_snapshot()

    def _after_snapshot(self) -> None:
        snapshots = list_snapshots(self.directory)
        for _, path in snapshots[: -self.keep_snapshots]:
            path.unlink()
        self._roll()
        if self.prune_segments:
            self._prune(list_snapshots(self.directory)[0][0])

    def fork_snapshot(self, make_data: Callable[[], bytes]) -> ForkedSnapshot:
        """Write a snapshot from a forked child; return at once (POSIX only).

        The child is a copy-on-write image of this process taken now, so ``make_data()``
        run there serializes the state after record ``last_seq`` while the parent goes on
        appending. The child makes the journal durable up to that record (the open file is
        shared), writes the snapshot file atomically and exits; it holds no lock of the
        directory (a parent killed meanwhile frees it). When ``job.fd`` becomes readable call
        :meth:`finish_snapshot`, which reaps the child and then prunes and rolls as
        :meth:`write_snapshot` does.
        """
        self._check_open()
        with self._sync_lock, self._write_lock:  # no thread is writing or syncing the fd
            self._write_buffer()
            seq = self._next_seq - 1  # appends come from this thread only
            fd, lock_fd = self._fd, self._lock_fd
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: no locks, no logging, no asyncio; only os calls
                self._snapshot_child(r, w, fd, lock_fd, seq, make_data)
        os.close(w)
        return ForkedSnapshot(pid, r, seq, time.perf_counter())

    def _snapshot_child(
        self, r: int, w: int, fd: int, lock_fd: int, seq: int, make_data: Callable[[], bytes]
    ) -> None:
        code = 1
        try:
            gc.disable()
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, not this
            os.close(r)
            os.close(lock_fd)
            if self.policy != "off":
                os.fdatasync(fd)
            write_snapshot_file(self.directory, seq, make_data())
            os.write(w, b"ok")
            code = 0
        except BaseException:
            with contextlib.suppress(BaseException):
                os.write(2, f"snapshot child failed:\n{traceback.format_exc()}".encode())
        finally:
            os._exit(code)

    def finish_snapshot(self, job: ForkedSnapshot) -> bool:
        """Reap the child of ``fork_snapshot``; on success prune and roll. Blocks until it
        has exited (immediate once ``job.fd`` is readable)."""
        try:
            status = os.read(job.fd, 2)
        finally:
            os.close(job.fd)
        _, code = os.waitpid(job.pid, 0)
        job.ok = status == b"ok" and os.waitstatus_to_exitcode(code) == 0
        if job.ok and self._state == "open":
            self._after_snapshot()
        return job.ok

    def _roll(self) -> None:
        with self._sync_lock:
            self._roll_locked()

    def _roll_locked(self) -> None:
        """Make the current segment durable and start the next one. Holds ``_sync_lock``."""
        with self._write_lock:
            if not self._segment_has_records:
                return
            self._write_buffer()
            if self.policy != "off":
                os.fdatasync(self._fd)
            self._durable_seq = max(self._durable_seq, self._written_seq)
            self._open_segment(self._written_seq + 1)

    def _prune(self, covered: int) -> None:
        """Delete segments whose records all have ``seq <= covered``."""
        segments = list_segments(self.directory)
        for (_, path), (next_first, _) in itertools.pairwise(segments):
            if next_first - 1 <= covered:
                path.unlink()
        fsync_dir(self.directory)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Sync (per the policy) and release the files and the directory lock. Idempotent."""
        if self._state == "closed":
            return
        if self._state == "open":
            self.sync()
        with self._sync_lock, self._write_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._state = "closed"
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
