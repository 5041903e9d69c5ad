"""tickwire recordings: a simulated session recorded and replayed is the same session."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.engine.engine import Engine
from exchange.engine.types import Event, NewOrder
from exchange.replay import (
    RecordingWriter,
    ReplayFormatError,
    detect_format,
    load_replay,
    read_tickwire,
)
from exchange.sim import DEFAULT_SYMBOLS, EngineMarketView, Simulator

T0 = 1_700_000_000_000_000_000


def record_session(path: Path) -> tuple[list[Event], str]:
    engine = Engine(DEFAULT_SYMBOLS, maker_fee_bps=2, taker_fee_bps=7)
    sim = Simulator(seed=3)
    view = EngineMarketView(engine)
    events: list[Event] = []
    with RecordingWriter(path, DEFAULT_SYMBOLS, maker_fee_bps=2, taker_fee_bps=7) as rec:
        for cmd in sim.setup_commands(T0):
            rec.write(cmd)
            events += engine.handle(cmd)
        for i in range(300):
            for cmd in sim.step(T0 + (i + 1) * 100_000_000, view):
                rec.write(cmd)
                out = engine.handle(cmd)
                sim.on_events(out)
                events += out
    return events, engine.state_hash()


def test_replaying_a_recording_reproduces_the_session(tmp_path: Path) -> None:
    path = tmp_path / "session.twr"
    events, state = record_session(path)
    assert detect_format(path) == "tickwire"
    src = load_replay(path)
    assert src.symbols == DEFAULT_SYMBOLS
    assert src.engine_options == {"maker_fee_bps": 2, "taker_fee_bps": 7}
    assert src.setup == [] and len(src) > 500
    engine = Engine(src.symbols, **src.engine_options)
    replayed: list[Event] = []
    for _ts, commands in src:
        for cmd in commands:
            replayed += engine.handle(cmd)
    assert replayed == events
    assert engine.state_hash() == state


@pytest.mark.parametrize(
    ("lines", "bad_line", "message"),
    [
        (['{"format":"other"}'], 1, "not a tickwire recording"),
        (["not json"], 1, "header is not JSON"),
        (
            ['{"format":"tickwire-recording","version":2,"symbols":[]}'],
            1,
            "unsupported recording version",
        ),
        (
            ['{"format":"tickwire-recording","version":1,"symbols":[{"symbol":"X","tick":1}]}'],
            1,
            "bad symbol spec",
        ),
        (
            [None, '["N","a","c1","BTC-USD","buy","limit","1","2",null,false,5]', '["Q",1]'],
            3,
            "bad command",
        ),
        ([None, '["N","a","c1","BTC-USD","buy","limit",1,"2",null,false,5]'], 2, "bad command"),
        ([None, '["N","a","c1"'], 2, "bad command"),
    ],
)
def test_bad_recordings_name_the_line(
    tmp_path: Path, lines: list[str | None], bad_line: int, message: str
) -> None:
    good = tmp_path / "good.twr"
    RecordingWriter(good, DEFAULT_SYMBOLS).close()
    header = good.read_text().splitlines()[0]
    path = tmp_path / "bad.twr"
    path.write_text("\n".join(header if ln is None else ln for ln in lines) + "\n")
    with pytest.raises(ReplayFormatError, match=message) as info:
        read_tickwire(path)
    assert info.value.line == bad_line and str(info.value).startswith(f"bad.twr:{bad_line}: ")


def test_writer_keeps_the_stamped_ts(tmp_path: Path) -> None:
    path = tmp_path / "one.twr"
    cmd = NewOrder("alice", "c1", "BTC-USD", "buy", "limit", "0.5", price="100.00", ts=T0 + 5)
    with RecordingWriter(path, DEFAULT_SYMBOLS) as rec:
        rec.write(cmd)
    (step,) = read_tickwire(path).steps
    assert step.commands == (cmd,) and step.ts == T0 + 5 and step.line == 2
