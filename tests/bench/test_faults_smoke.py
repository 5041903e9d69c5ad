"""``bench.faults`` drills 3 (connection cuts with retries) and 4 (malformed frames and
requests) run in their quick form against one real ``tickwire serve`` process, and their
guarantees hold: no duplicate executed, no lost ack, no exec_seq gap, no 5xx, state unchanged.
A smoke test so the drill code cannot rot; no speed is asserted."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.faults import Server, drill_cuts, drill_malformed, gaps  # noqa: E402


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server().start()
    try:
        yield srv
    finally:
        srv.close()


def test_gaps_counts_missing_and_repeated() -> None:
    assert gaps([]) == 0
    assert gaps([3, 1, 2]) == 0
    assert gaps([1, 3]) == 1
    assert gaps([1, 1, 2]) == 2


def test_cuts_quick(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert asyncio.run(drill_cuts(True, server))
    out = capsys.readouterr().out
    assert "| duplicates executed (must be 0) | 0 |" in out
    assert "| cuts | 0 |" not in out  # the drill did cut connections


def test_malformed_quick(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    # 300 frames and 60 requests: each kind of bad input several times (the drill's quick
    # form sends 1,000 and 200; the parsers' own hypothesis tests go much wider)
    assert asyncio.run(drill_malformed(True, server, sizes=(300, 60)))
    out = capsys.readouterr().out
    assert "4. malformed input (300 WS frames, 60 REST requests)" in out
    assert "| REST 5xx (must be 0) | 0 |" in out
    assert "close 1009" in out and "error UNKNOWN_OP" in out
    assert server.alive()
