"""What the Redis sequencer reads back from its journal: which ``tw:cmd`` entries ran."""

from __future__ import annotations

from pathlib import Path

from exchange.cluster.cmdlog import CommandLog, Source, scan_journal
from exchange.engine.types import CancelAll, NewOrder
from exchange.journal import Journal, decode_command, encode_command


def test_scan_journal_returns_every_record_with_its_source(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", "off")
    journal.recover()
    cancel = CancelAll("alice", ts=3)
    sim = NewOrder("sim-1", "s1", "BTC-USD", "buy", "limit", "1", "1.00", "gtc", False, 4)
    journal.append(Source("1700-0", "gw-a", "7").wrap(encode_command(cancel)))
    journal.append(encode_command(sim))  # the simulator's: no source
    journal.append(Source("1700-5", "gw-b", "9").wrap(encode_command(cancel)))
    journal.close()
    records = scan_journal(tmp_path / "j")
    assert [r.seq for r in records] == [1, 2, 3]
    assert [r.source for r in records] == [
        Source("1700-0", "gw-a", "7"),
        None,
        Source("1700-5", "gw-b", "9"),
    ]
    assert [decode_command(r.payload) for r in records] == [cancel, sim, cancel]
    assert [r.seq for r in scan_journal(tmp_path / "j", after_seq=2)] == [3]


def test_command_log_says_executed_not_executed_or_unknown() -> None:
    log = CommandLog(horizon="100-0", keep=3)
    for cmd_id in ("101-0", "101-1", "105-0"):
        log.add(cmd_id)
    assert log.last == "105-0"
    assert log.executed("101-1") is True
    assert log.executed("102-0") is False  # after the horizon and not journaled
    assert log.executed("99-0") is None  # before what the log holds: cannot tell
    log.add("106-0")  # evicts 101-0: the horizon moves up to it
    assert log.horizon == "101-0" and log.executed("101-0") is None
    assert log.executed("101-1") is True and len(log) == 3


def test_command_log_knows_an_entry_repeating_an_executed_gateway_and_corr() -> None:
    log = CommandLog(keep=2)
    log.remember(Source("10-0", "gw-a", "7"))
    assert log.duplicate_of(Source("11-0", "gw-a", "7")) == "10-0"  # resent under a new id
    assert log.duplicate_of(Source("10-0", "gw-a", "7")) is None  # the entry itself
    assert log.duplicate_of(Source("11-0", "gw-b", "7")) is None  # another gateway's corr 7
    assert log.executed("10-0") is True
    log.remember(Source("12-0", "gw-a", "8"))
    log.remember(Source("13-0", "gw-a", "9"))  # bounded: the oldest pair is forgotten
    assert log.duplicate_of(Source("14-0", "gw-a", "7")) is None
    assert log.duplicate_of(Source("14-0", "gw-a", "8")) == "12-0"
