"""Kraken L2 capture: symbols and decimals, checksums through the engine, bad lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.engine.types import CancelOrder, NewOrder, ReplaceOrder, Trade
from exchange.replay import ReplayFormatError, read_kraken

from .conftest import drive, sample

KRAKEN = ("cryptofeed-kraken-book-2021-04-17", "KRAKEN.ws.50.0")

SMALL = [
    "wss://ws.kraken.com <-> 1618678132.3858151",
    'wss://ws.kraken.com <- 1618678132.8253062: {"event":"subscribe","pair":["XBT/CHF"]}',
    '1618678132.8258188: {"event":"systemStatus","status":"online"}',
    '1618678133.5: [7,{"as":[["51000.10000","1.50000000","1.0"],["51001.00000","2.00000000","1.0"],'
    '["51002.00000","3.00000000","1.0"]],"bs":[["50999.00000","0.25000000","1.0"],'
    '["50998.50000","4.00000000","1.0"]]},"book-3","XBT/CHF"]',
    '1618678134.25: [7,{"a":[["51000.10000","0.00000000","2.0"],["51000.50000","0.75000000","2.0"]]},'
    '{"b":[["50999.00000","0.10000000","2.0"]],"c":"0"},"book-3","XBT/CHF"]',
    '1618678135: [7,{"b":[["50999.50000","1.00000000","3.0"]],"c":"1"},"book-3","XBT/CHF"]',
    '1618678135.5: {"event":"heartbeat"}',
]


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "KRAKEN.ws.test"
    path.write_text("\n".join(lines) + "\n\n")
    return path


def test_small_capture(tmp_path: Path) -> None:
    src = read_kraken(write(tmp_path, SMALL))
    (spec,) = src.symbols
    assert (spec.symbol, spec.price_decimals, spec.qty_decimals) == ("XBT-CHF", 5, 8)
    snap, upd, upd2 = src.steps
    assert (snap.line, snap.ts, snap.checksum) == (4, 1618678133_500000000, None)
    assert len(snap.commands) == 5 and all(isinstance(c, NewOrder) for c in snap.commands)
    assert (upd.ts, upd.checksum, upd2.checksum) == (1618678134_250000000, 0, 1)
    kinds = [type(c).__name__ for c in upd.commands]
    # the vanished level is canceled first, the bid amended down, the new ask placed
    assert kinds == ["CancelOrder", "ReplaceOrder", "NewOrder"]
    amend = upd.commands[1]
    assert isinstance(amend, ReplaceOrder) and amend.qty == "0.10000000"
    # a third bid still fits in book-3: placed, nothing dropped
    assert [type(c) for c in upd2.commands] == [NewOrder]
    books = [
        (e.book_snapshot("XBT-CHF").bids, e.book_snapshot("XBT-CHF").asks) for e, _, _ in drive(src)
    ]
    assert books[-1] == (
        ((5099950000, 100000000), (5099900000, 10000000), (5099850000, 400000000)),
        ((5100050000, 75000000), (5100100000, 200000000), (5100200000, 300000000)),
    )


def test_levels_beyond_depth_are_dropped(tmp_path: Path) -> None:
    lines = [
        *SMALL[:4],
        '1618678134: [7,{"b":[["50999.90000","1.00000000","2.0"]],"c":"5"},"book-2","XBT/CHF"]',
    ]
    src = read_kraken(write(tmp_path, lines))
    cmds = src.steps[-1].commands
    # depth 2: the new best bid pushes the worst one out without Kraken saying so
    assert isinstance(cmds[0], CancelOrder) and isinstance(cmds[-1], NewOrder)
    engine, _, _ = list(drive(src))[-1]
    assert [p for p, _ in engine.book_snapshot("XBT-CHF").bids] == [5099990000, 5099900000]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=st.sampled_from([3, 4, 5]),
    mutation=st.sampled_from(
        ["truncate", "price", "volume", "checksum", "stamp", "nojson", "field"]
    ),
)
def test_malformed_line_reports_its_number(tmp_path: Path, row: int, mutation: str) -> None:
    lines = list(SMALL)
    text = lines[row]
    if mutation == "truncate":
        text = text[: len(text) // 2]
    elif mutation == "price":
        text = text.replace('["5', '["x5', 1)
    elif mutation == "volume":
        text = text.replace('000","', '000","-', 1)
    elif mutation == "checksum":
        text = (
            text.replace('"c":"0"', '"c":"zero"')
            .replace('"c":"1"', '"c":99')
            .replace('"bs"', '"zz"')
        )
    elif mutation == "stamp":
        text = "16186781x: " + text.partition(": ")[2]
    elif mutation == "nojson":
        text = text.replace(": ", " ", 1)
    else:
        text = text.replace('"book-3"', '"book-3",{"b":[]}', 1).replace("[7,", "[7,5,", 1)
    lines[row] = text
    path = write(tmp_path, lines)
    with pytest.raises(ReplayFormatError) as info:
        read_kraken(path)
    assert info.value.line == row + 1
    assert str(info.value).startswith(f"{path.name}:{row + 1}: ")


@pytest.mark.data
def test_sample_checksums_match_kraken_for_every_update() -> None:
    path = sample(*KRAKEN)
    progress: list[tuple[int, int]] = []
    src = read_kraken(path, progress=lambda d, t: progress.append((d, t)))
    assert progress[-1] == (path.stat().st_size, path.stat().st_size)
    assert sorted(s.symbol for s in src.symbols) == sorted(
        p.replace("/", "-")
        for p in (
            "WAVES/EUR",
            "XMR/USD",
            "KSM/XBT",
            "GRT/ETH",
            "SC/EUR",
            "ETH/CHF",
            "OCEAN/XBT",
            "OMG/USD",
            "XBT/CHF",
            "ADA/XBT",
        )
    )
    specs = {s.symbol: s for s in src.symbols}
    assert (specs["XBT-CHF"].qty_decimals, specs["SC-EUR"].price_decimals) == (8, 6)
    updates = matched = trades = 0
    for engine, step, events in drive(src):
        trades += sum(isinstance(e, Trade) for e in events)
        if step.checksum is None:
            continue
        updates += 1
        assert step.symbol is not None
        matched += engine.book_snapshot(step.symbol, 10).checksum == step.checksum
    assert (matched, updates) == (4269, 4269)
    assert trades == 0  # mirroring a book never trades
