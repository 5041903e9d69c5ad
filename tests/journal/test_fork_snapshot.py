"""Snapshots written by a forked child (issue 18 item 3): same file, same recovery, no wait."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

import pytest

from exchange.journal import Journal, JournalLocked
from exchange.journal.log import ForkedSnapshot
from exchange.journal.snapshot import list_snapshots

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def wait(job: ForkedSnapshot, timeout: float = 30.0) -> None:
    ready, _, _ = select.select([job.fd], [], [], timeout)
    assert ready, "the snapshot child did not finish"


@pytest.mark.parametrize("policy", ["always", "batch", "off"])
def test_forked_snapshot_recovers_like_an_inline_one(tmp_path: Path, policy: str) -> None:
    with Journal.open(tmp_path, policy, keep_snapshots=2) as journal:  # type: ignore[arg-type]
        journal.recover()
        for i in range(1, 21):
            journal.append(f"cmd-{i}".encode())
        state = {"n": 20}
        # the child sees the state as it was at the fork, whatever the parent does next
        job = journal.fork_snapshot(lambda: f"state@{state['n']}".encode())
        state["n"] = 999
        for i in range(21, 26):
            journal.append(f"cmd-{i}".encode())
        wait(job)
        assert journal.finish_snapshot(job) is True
        assert job.seq == 20 and job.ok
        journal.sync()
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert (rec.snapshot, rec.snapshot_seq) == (b"state@20", 20)
    assert rec.records == [(i, f"cmd-{i}".encode()) for i in range(21, 26)]


def test_a_failing_child_writes_nothing_and_says_so(tmp_path: Path) -> None:
    def boom() -> bytes:
        raise RuntimeError("serializer broke")

    with Journal.open(tmp_path) as journal:
        journal.recover()
        journal.append(b"cmd-1")
        job = journal.fork_snapshot(boom)
        wait(job)
        assert journal.finish_snapshot(job) is False
        assert list_snapshots(tmp_path) == []
        journal.append(b"cmd-2")  # the journal goes on
        journal.sync()
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
    assert rec.snapshot is None and [s for s, _ in rec.records] == [1, 2]


def test_the_child_does_not_hold_the_directory_lock(tmp_path: Path) -> None:
    """A server killed while its snapshot child still writes must not lock the next one out."""
    r, w = os.pipe()
    server = os.fork()
    if server == 0:  # the "server": fork a slow snapshot, then die without closing anything
        code = 1
        try:
            os.close(r)
            journal = Journal.open(tmp_path)
            journal.recover()
            journal.append(b"cmd-1")
            journal.fork_snapshot(lambda: (time.sleep(1.5), b"state")[1])
            os.write(w, b"forked")
            code = 0
        finally:
            os._exit(code)  # like kill -9: the kernel closes the descriptors
    os.close(w)
    assert os.read(r, 6) == b"forked"
    os.close(r)
    os.waitpid(server, 0)
    # the child lets go of the lock as its first step (a few µs after the fork; retry for
    # that), long before it has written the snapshot (its serializer sleeps 1.5 s)
    deadline = time.monotonic() + 1.0
    while True:
        try:
            journal = Journal.open(tmp_path)
            break
        except JournalLocked:
            assert time.monotonic() < deadline, "the snapshot child holds the directory lock"
            time.sleep(0.01)
    assert list_snapshots(tmp_path) == []  # the child was still at work
    rec = journal.recover()
    assert [s for s, _ in rec.records] == [1]
    journal.close()
