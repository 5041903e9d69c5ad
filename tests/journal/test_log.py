"""Journal: append, reopen, recover; torn tails, corruption, snapshots, threads."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.journal import (
    FsyncPolicy,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalStateError,
    RecordTooLarge,
)
from exchange.journal.segment import RECORD_HEADER, SEGMENT_HEADER, list_segments
from exchange.journal.snapshot import list_snapshots

POLICIES: list[FsyncPolicy] = ["always", "batch", "off"]


def payload(i: int) -> bytes:
    # Varying lengths, so offsets are not all multiples of one size.
    return f"command-{i}-".encode() + b"x" * (i % 7)


def write(directory: Path, payloads: list[bytes], fsync: FsyncPolicy = "batch") -> list[int]:
    with Journal.open(directory, fsync) as journal:
        journal.recover()
        seqs = [journal.append(p) for p in payloads]
        journal.sync()
    return seqs


def recover(directory: Path) -> tuple[list[tuple[int, bytes]], Journal]:
    journal = Journal.open(directory)
    return journal.recover().records, journal


def only_segment(directory: Path) -> Path:
    segments = list_segments(directory)
    assert len(segments) == 1
    return segments[0][1]


@pytest.mark.parametrize("policy", POLICIES)
def test_append_reopen_recover(tmp_path: Path, policy: FsyncPolicy) -> None:
    payloads = [payload(i) for i in range(200)]
    assert write(tmp_path, payloads, policy) == list(range(1, 201))
    with Journal.open(tmp_path, policy) as journal:
        rec = journal.recover()
        assert rec.records == list(enumerate(payloads, start=1))
        assert rec.snapshot is None and rec.snapshot_seq == 0
        assert not rec.torn_tail and rec.dropped_bytes == 0 and rec.notes == []
        assert journal.last_seq == rec.last_seq == 200


@pytest.mark.parametrize("policy", POLICIES)
def test_close_without_sync_keeps_appended_records(tmp_path: Path, policy: FsyncPolicy) -> None:
    with Journal.open(tmp_path, policy) as journal:
        journal.recover()
        journal.append(b"a")
        journal.append(b"b")
    records, journal = recover(tmp_path)
    journal.close()
    assert records == [(1, b"a"), (2, b"b")]


def test_appends_after_recovery_continue_numbering(tmp_path: Path) -> None:
    write(tmp_path, [b"one", b"two"])
    with Journal.open(tmp_path) as journal:
        journal.recover()
        assert journal.append(b"three") == 3
    write(tmp_path, [b"four"])
    records, journal = recover(tmp_path)
    journal.close()
    assert records == [(1, b"one"), (2, b"two"), (3, b"three"), (4, b"four")]


def test_empty_journal_and_empty_payload(tmp_path: Path) -> None:
    records, journal = recover(tmp_path)
    assert records == [] and journal.last_seq == 0
    assert journal.append(b"") == 1
    journal.close()
    records, journal = recover(tmp_path)
    journal.close()
    assert records == [(1, b"")]


def test_torn_last_record_at_every_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    base = tmp_path / "base"
    payloads = [payload(i) for i in range(5)]
    write(base, payloads)
    good_size = only_segment(base).stat().st_size
    write(base, [b'["N","alice","c-last","BTC-USD","buy","limit","1","100"]'])
    full_size = only_segment(base).stat().st_size
    assert full_size > good_size + RECORD_HEADER.size
    for cut in range(good_size, full_size):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(base, work)
        os.truncate(only_segment(work), cut)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="exchange.journal.log"):
            journal = Journal.open(work)
            rec = journal.recover()
        assert rec.records == list(enumerate(payloads, start=1)), cut
        assert rec.torn_tail == (cut > good_size)
        assert rec.dropped_bytes == cut - good_size
        if cut > good_size:
            assert any("torn" in n for n in rec.notes)
            assert any("torn" in r.getMessage() for r in caplog.records)
            assert only_segment(work).stat().st_size == good_size  # truncated on disk
        # The next record takes the dropped one's seq, and everything reads back.
        assert journal.append(b"again") == 6
        journal.close()
        records, journal = recover(work)
        journal.close()
        assert records == [*enumerate(payloads, start=1), (6, b"again")]
        shutil.rmtree(work)


def test_torn_record_of_zeros_is_a_torn_tail(tmp_path: Path) -> None:
    # A crash can leave the file extended with zeros where the last write should be.
    write(tmp_path, [b"a", b"b"])
    with only_segment(tmp_path).open("ab") as f:
        f.write(b"\x00" * 40)
    records, journal = recover(tmp_path)
    journal.close()
    assert records == [(1, b"a"), (2, b"b")]


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30),
    data=st.data(),
)
def test_random_truncation_recovers_complete_prefix(sizes: list[int], data: st.DataObject) -> None:
    payloads = [bytes([65 + i % 26]) * n for i, n in enumerate(sizes)]
    ends = []  # file offset just after each record
    pos = SEGMENT_HEADER.size
    for p in payloads:
        pos += RECORD_HEADER.size + len(p)
        ends.append(pos)
    cut = data.draw(st.integers(min_value=SEGMENT_HEADER.size, max_value=pos), label="cut")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write(directory, payloads)
        assert only_segment(directory).stat().st_size == pos
        os.truncate(only_segment(directory), cut)
        records, journal = recover(directory)
        journal.close()
    surviving = sum(1 for end in ends if end <= cut)
    assert records == list(enumerate(payloads[:surviving], start=1))


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=3, max_value=20),
    data=st.data(),
)
def test_flipped_byte_before_last_record_is_corrupt(count: int, data: st.DataObject) -> None:
    payloads = [payload(i) for i in range(count)]
    last_start = SEGMENT_HEADER.size + sum(RECORD_HEADER.size + len(p) for p in payloads[:-1])
    offset = data.draw(st.integers(SEGMENT_HEADER.size, last_start - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write(directory, payloads)
        path = only_segment(directory)
        raw = bytearray(path.read_bytes())
        raw[offset] ^= flip
        path.write_bytes(bytes(raw))
        journal = Journal.open(directory)
        with pytest.raises(JournalCorrupt):
            journal.recover()
        journal.close()
        assert path.read_bytes() == bytes(raw)  # nothing repaired behind our back


def test_damaged_segment_header_is_corrupt(tmp_path: Path) -> None:
    write(tmp_path, [b"a"])
    path = only_segment(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0xFF
    path.write_bytes(bytes(raw))
    journal = Journal.open(tmp_path)
    with pytest.raises(JournalCorrupt, match="header"):
        journal.recover()
    journal.close()


def snapshot_journal(directory: Path) -> None:
    """Records 1..30 with snapshots after 10, 20 and 25."""
    with Journal.open(directory, keep_snapshots=3) as journal:
        journal.recover()
        for i in range(1, 31):
            assert journal.append(payload(i)) == i
            if i in (10, 20, 25):
                journal.write_snapshot(i, f"state@{i}".encode())


def corrupt_snapshot(directory: Path, seq: int) -> None:
    path = dict(list_snapshots(directory))[seq]
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))


def test_snapshot_then_tail(tmp_path: Path) -> None:
    snapshot_journal(tmp_path)
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert (rec.snapshot, rec.snapshot_seq) == (b"state@25", 25)
    assert rec.records == [(i, payload(i)) for i in range(26, 31)]
    assert len(list_segments(tmp_path)) == 4  # rolled at each snapshot


def test_corrupt_newest_snapshot_falls_back_to_older(tmp_path: Path) -> None:
    snapshot_journal(tmp_path)
    corrupt_snapshot(tmp_path, 25)
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert (rec.snapshot, rec.snapshot_seq) == (b"state@20", 20)
    assert rec.records == [(i, payload(i)) for i in range(21, 31)]
    assert any("seq 25" in n for n in rec.notes)


def test_all_snapshots_corrupt_falls_back_to_full_journal(tmp_path: Path) -> None:
    snapshot_journal(tmp_path)
    for seq in (10, 20, 25):
        corrupt_snapshot(tmp_path, seq)
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
        assert journal.append(b"next") == 31
    assert rec.snapshot is None and rec.snapshot_seq == 0
    assert rec.records == [(i, payload(i)) for i in range(1, 31)]
    assert len(rec.notes) == 3


def test_truncated_snapshot_file_is_skipped(tmp_path: Path) -> None:
    snapshot_journal(tmp_path)
    path = dict(list_snapshots(tmp_path))[25]
    os.truncate(path, 10)
    with Journal.open(tmp_path) as journal:
        assert journal.recover().snapshot_seq == 20


def test_keeps_newest_k_snapshots(tmp_path: Path) -> None:
    with Journal.open(tmp_path, keep_snapshots=2) as journal:
        journal.recover()
        for i in range(1, 6):
            journal.append(payload(i))
            journal.write_snapshot(i, b"s")
    assert [seq for seq, _ in list_snapshots(tmp_path)] == [4, 5]


def test_pruned_segments_need_a_snapshot(tmp_path: Path) -> None:
    with Journal.open(tmp_path, keep_snapshots=1, prune_segments=True) as journal:
        journal.recover()
        for i in range(1, 21):
            journal.append(payload(i))
            if i % 5 == 0:
                journal.write_snapshot(i, f"state@{i}".encode())
        journal.append(payload(21))
    assert [first for first, _ in list_segments(tmp_path)] == [21]
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert (rec.snapshot_seq, rec.records) == (20, [(21, payload(21))])
    corrupt_snapshot(tmp_path, 20)
    journal = Journal.open(tmp_path)
    with pytest.raises(JournalCorrupt, match="missing"):
        journal.recover()
    journal.close()


def test_torn_tail_after_snapshot_roll(tmp_path: Path) -> None:
    snapshot_journal(tmp_path)
    last = list_segments(tmp_path)[-1][1]
    os.truncate(last, last.stat().st_size - 3)
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
        assert journal.append(b"x") == 30
    assert rec.torn_tail
    assert rec.records == [(i, payload(i)) for i in range(26, 30)]


def test_corrupt_record_in_an_older_segment_is_corrupt(tmp_path: Path) -> None:
    snapshot_journal(tmp_path)
    for seq in (10, 20, 25):
        corrupt_snapshot(tmp_path, seq)
    first = list_segments(tmp_path)[0][1]
    os.truncate(first, first.stat().st_size - 1)  # a torn record, but not at the end
    journal = Journal.open(tmp_path)
    with pytest.raises(JournalCorrupt):
        journal.recover()
    journal.close()


def test_concurrent_append_and_sync_keep_every_record_in_order(tmp_path: Path) -> None:
    n = 20_000
    journal = Journal.open(tmp_path, "batch", buffer_limit=4096)
    journal.recover()
    done = threading.Event()
    durable: list[int] = []
    errors: list[BaseException] = []

    def syncer() -> None:
        try:
            while not done.is_set():
                durable.append(journal.sync())
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    thread = threading.Thread(target=syncer)
    thread.start()
    seqs = [journal.append(payload(i)) for i in range(n)]
    done.set()
    thread.join()
    journal.close()
    assert errors == []
    assert seqs == list(range(1, n + 1))
    assert durable == sorted(durable)  # the durable point never moves back
    records, journal = recover(tmp_path)
    journal.close()
    assert records == [(i + 1, payload(i)) for i in range(n)]


def test_api_misuse(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    with pytest.raises(JournalStateError):
        journal.append(b"x")
    journal.recover()
    with pytest.raises(JournalStateError):
        journal.recover()
    with pytest.raises(JournalError):
        journal.write_snapshot(1, b"ahead of the journal")
    with pytest.raises(JournalLocked):
        Journal.open(tmp_path)
    journal.close()
    journal.close()
    with pytest.raises(JournalStateError):
        journal.append(b"x")
    with pytest.raises(ValueError):
        Journal.open(tmp_path, "sometimes")  # type: ignore[arg-type]
    with Journal.open(tmp_path) as again:  # the lock was released
        again.recover()
        with pytest.raises(RecordTooLarge):
            again.append(b"x" * (64 * 1024 * 1024 + 1))


def test_leftover_temporary_files_are_removed(tmp_path: Path) -> None:
    write(tmp_path, [b"a"])
    (tmp_path / ".tmp-snapshot-00000000000000000001.snap").write_bytes(b"half")
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert rec.records == [(1, b"a")] and rec.snapshot is None
    assert not (tmp_path / ".tmp-snapshot-00000000000000000001.snap").exists()


def test_segments_roll_by_size_and_read_back(tmp_path: Path) -> None:
    with Journal.open(tmp_path, segment_bytes=200) as journal:
        journal.recover()
        for i in range(1, 61):
            journal.append(payload(i))
            if i % 4 == 0:
                journal.sync()
    segments = list_segments(tmp_path)
    assert len(segments) > 3
    assert all(path.stat().st_size <= 200 + 4 * 64 for _, path in segments)
    last = segments[-1][1]
    os.truncate(last, last.stat().st_size - 1)
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
        assert journal.append(b"next") == 60
    assert rec.torn_tail
    assert rec.records == [(i, payload(i)) for i in range(1, 60)]
    assert [first for first, _ in segments] == sorted(first for first, _ in segments)


def test_snapshot_ahead_of_the_journal_continues_after_it(tmp_path: Path) -> None:
    # Under fsync="off" a power loss can keep a snapshot whose journal tail was lost.
    from exchange.journal.snapshot import write_snapshot_file

    write(tmp_path, [payload(i) for i in range(1, 11)])
    write_snapshot_file(tmp_path, 15, b"state@15")
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
        assert journal.append(b"sixteen") == 16
    assert (rec.snapshot, rec.snapshot_seq, rec.records) == (b"state@15", 15, [])
    assert any("before the snapshot" in n for n in rec.notes)
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert rec.records == [(16, b"sixteen")]


def test_file_layout_matches_the_documented_format(tmp_path: Path) -> None:
    from exchange.journal.segment import SEGMENT_MAGIC, encode_record

    write(tmp_path, [b"alpha", b"", b"gamma"])
    expected = SEGMENT_HEADER.pack(SEGMENT_MAGIC, 1, 1) + b"".join(
        encode_record(seq, p) for seq, p in ((1, b"alpha"), (2, b""), (3, b"gamma"))
    )
    assert only_segment(tmp_path).read_bytes() == expected
    length, crc, seq = RECORD_HEADER.unpack_from(expected, SEGMENT_HEADER.size)
    assert (length, seq) == (5, 1) and crc != 0
