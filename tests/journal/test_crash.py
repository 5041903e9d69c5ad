"""A real crash: a writer process is killed with SIGKILL while appending and syncing.

Every record whose ``sync()`` returned before the kill must be recovered, the recovered
records must be exactly the writer's sequence (no gap, no reordering), and appending must
continue after them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.journal import FsyncPolicy, Journal

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from exchange.journal import Journal
journal = Journal.open(sys.argv[1], sys.argv[2], buffer_limit=2048)
journal.recover()
i = 0
while True:
    for _ in range(1 + i % 13):
        i += 1
        journal.append(b"record-%d" % i)
    print(journal.sync(), flush=True)
"""


@pytest.mark.parametrize("policy", ["batch", "off"])
def test_sigkill_keeps_every_synced_record(tmp_path: Path, policy: FsyncPolicy) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), policy],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    acknowledged = 0
    try:
        for _ in range(300):
            line = proc.stdout.readline()
            assert line, "writer died early"
            acknowledged = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert acknowledged > 300
    with Journal.open(tmp_path) as journal:
        rec = journal.recover()
        assert rec.last_seq >= acknowledged
        assert rec.records == [(i, b"record-%d" % i) for i in range(1, rec.last_seq + 1)]
        assert journal.append(b"after") == rec.last_seq + 1
