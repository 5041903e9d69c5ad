"""Live: a LOBSTER replay through the real server publishes the orderbook file's book.

After every message, the book an SSE client builds from the published snapshot and deltas
(checksums verified) equals the LOBSTER orderbook file at every level; REST ``/api/book``
agrees at the end and after seeks; seeking (forward and back) gives the book and state hash
of a replay from the start.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from exchange.engine import Engine
from exchange.replay.index import apply_commands, apply_steps

from .conftest import sample
from .live import after_each_step, empty_book, levels, read_sse, start_replay, units, wait_finished

AMZN = ("lobster-amzn-2012-06-21-level1", "AMZN_2012-06-21_34200000_57600000_message_1.csv")
AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)
_EMPTY = 9999999999


def orderbook_rows(message_file: Path) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """The orderbook file beside ``message_file``, parsed here: ``(bids, asks)`` per row."""
    path = message_file.with_name(message_file.name.replace("_message_", "_orderbook_"))
    rows = []
    for line in path.read_text().splitlines():
        if not line[:1].isdigit():
            continue  # a header row
        f = [int(x) for x in line.split(",")]
        asks = [(f[i], f[i + 1]) for i in range(0, len(f), 4) if abs(f[i]) != _EMPTY]
        bids = [(f[i + 2], f[i + 3]) for i in range(0, len(f), 4) if abs(f[i + 2]) != _EMPTY]
        rows.append((bids, asks))
    return rows


def check_every_message(url: str, driver: object, path: Path, symbol: str, depth: int) -> None:
    rows = orderbook_rows(path)
    offsets: list[int] = driver.step_offsets  # type: ignore[attr-defined]
    assert len(offsets) == len(rows)
    events = read_sse(url, "", offsets[-1])
    books = {symbol: empty_book(symbol)}
    checked = 0
    for i, book in after_each_step(events, offsets, books):
        assert levels(book[symbol], depth) == rows[i], f"message {i + 1}"
        checked += 1
    assert checked == len(rows)
    rest = httpx.get(f"{url}/api/book/{symbol}", params={"depth": depth}).json()
    bids = [(units(p), units(q)) for p, q in rest["bids"]]
    asks = [(units(p), units(q)) for p, q in rest["asks"]]
    assert (bids, asks) == rows[-1]


@pytest.mark.data
def test_aapl_every_message_and_rest(tmp_path: Path) -> None:
    path = sample(*AAPL)
    with start_replay([path], tmp_path, "--speed", "max") as (srv, driver):
        wait_finished(srv.url)
        check_every_message(srv.url, driver, path, "AAPL", 10)


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.timeout(1800)  # a whole day through the server; slow on a loaded 2-core machine
def test_amzn_day_every_message_and_rest(tmp_path: Path) -> None:
    path = sample(*AMZN)
    with start_replay([path], tmp_path, "--speed", "max") as (srv, driver):
        wait_finished(srv.url, timeout=1500)
        check_every_message(srv.url, driver, path, "AMZN", 1)


def _from_start_hash(driver: object, position: int) -> str:
    """State hash of a fresh engine fed the setup and ``position`` steps (no checkpoints)."""
    src = driver.source  # type: ignore[attr-defined]
    engine = driver.index.engine_factory()  # type: ignore[attr-defined]
    last = apply_commands(engine, src.setup, 0)
    apply_steps(engine, src.steps, 0, position, last, driver.step_cuts)  # type: ignore[attr-defined]
    assert isinstance(engine, Engine)
    return engine.state_hash()


@pytest.mark.data
@pytest.mark.parametrize("batches", [False, True], ids=["per-command", "per-batch"])
def test_seek_forward_and_back_equals_replay_from_start(tmp_path: Path, batches: bool) -> None:
    """Per batch too (found in review: checkpoints restored per command, and could fall
    inside a batch)."""
    path = sample(*AAPL)
    rows = orderbook_rows(path)
    opts = ("--speed", "max", "--paused", "--checkpoint-every", "100")
    with start_replay([path], tmp_path, *opts, batches=batches) as (srv, driver):
        src = driver.source
        seen_resets = 0
        for i in (700, 150, 151, 998, 0, 420, 40):
            target = src.steps[i].ts
            st = httpx.post(f"{srv.url}/api/replay", json={"action": "seek", "to": target}).json()
            position = st["position"]
            # every step at or before T is played (ties in time included)
            assert position == sum(1 for s in src.steps if s.ts <= target)
            assert st["clock"] == target and st["paused"]
            book = httpx.get(f"{srv.url}/api/book/AAPL").json()
            got = (
                [(units(p), units(q)) for p, q in book["bids"]][:10],
                [(units(p), units(q)) for p, q in book["asks"]][:10],
            )
            assert got == rows[position - 1], f"seek to step {i}"
            assert srv.node.engine.state_hash() == _from_start_hash(driver, position)
        history = srv.node.hub.history()
        seen_resets = sum(1 for ev in history if ev.event == "reset")
        assert seen_resets >= 4  # the backward seeks (and long jumps) told clients to resync
        # after seeking, playing on reaches the same end as a straight replay
        httpx.post(f"{srv.url}/api/replay", json={"action": "resume"})
        wait_finished(srv.url)
        assert srv.node.engine.state_hash() == driver.index.final_hash
