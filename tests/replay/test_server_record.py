"""Live: ``serve --record`` then ``replay`` reproduces the session; controls over REST; the
CLI's clear errors (exit status 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.cli import main
from exchange.config import Settings
from exchange.replay.record import recording_node

from ..conftest import LiveServer, start_server  # type: ignore[misc]  # the root conftest
from .conftest import sample
from .live import start_replay, wait_finished, write_trades_csv

MARKET = ("book", "trade", "ticker", "candle")
AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)
ROOT = Path(__file__).resolve().parents[2]


def _trade(url: str, account: str, orders: list[dict[str, Any]]) -> None:
    token = httpx.post(f"{url}/api/sessions", json={"account": account}).json()["token"]
    for body in orders:
        r = httpx.post(
            f"{url}/api/orders",
            json=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": body["client_order_id"],
            },
        )
        assert r.status_code in (200, 201), r.text


def test_record_then_replay_reproduces_events_and_state_hash(tmp_path: Path) -> None:
    record = tmp_path / "session.twr"
    settings = Settings().replace(
        data_dir=tmp_path / "rec",
        sim_rate=40.0,
        log_level="warning",
        symbols=("BTC-USD", "ETH-USD"),
    )
    node, recording = recording_node(settings, record=record)
    srv = start_server(settings, 0, node)
    try:
        time.sleep(1.0)  # the simulator trades
        symbol = node.symbol_specs[0].symbol
        book = httpx.get(f"{srv.url}/api/book/{symbol}", params={"depth": 1}).json()
        bid, ask = book["bids"][0][0], book["asks"][0][0]
        _trade(
            srv.url,
            "alice",
            [
                {"client_order_id": "a1", "symbol": symbol, "side": "buy", "order_type": "limit",
                 "qty": "1", "price": ask},
                {"client_order_id": "a2", "symbol": symbol, "side": "sell", "order_type": "limit",
                 "qty": "1", "price": bid},
            ],
        )  # fmt: skip
        time.sleep(0.5)
    finally:
        srv.stop()
    original = [(ev.event, ev.data) for ev in node.hub.history() if ev.event in MARKET]
    original_hash = node.engine.state_hash()
    assert len(original) > 100
    assert recording.writer is not None and recording.writer.count > 10
    with start_replay([record], tmp_path, "--speed", "max", data="replay") as (rep, _):
        st = wait_finished(rep.url)
        assert st["format"] == "tickwire"
        replayed = [(ev.event, ev.data) for ev in rep.node.hub.history() if ev.event in MARKET]
        assert rep.node.engine.state_hash() == original_hash
    assert replayed == original


@pytest.mark.data
def test_controls_over_rest(tmp_path: Path) -> None:
    path = sample(*AAPL)
    with start_replay([path], tmp_path, "--speed", "1", "--paused") as (srv, driver):
        url = f"{srv.url}/api/replay"
        st = httpx.get(url).json()
        assert st["paused"] and st["speed"] == "1" and st["position"] == 0
        assert (st["start"], st["end"]) == (driver.source.start_ns, driver.source.end_ns)
        before = srv.node.hub.last_offset
        st = httpx.post(url, json={"action": "speed", "speed": "max"}).json()
        assert st["speed"] == "max" and st["paused"]
        st = httpx.post(url, json={"action": "seek", "to": "+10"}).json()
        assert st["clock"] == driver.source.start_ns + 10 * 10**9 and st["position"] > 0
        st = httpx.post(url, json={"action": "resume"}).json()
        assert not st["paused"]
        st = wait_finished(srv.url)
        assert st["position"] == st["total"] == len(driver.source.steps)
        # each change published a status event per symbol, with the replay state
        statuses = [ev.payload() for ev in srv.node.hub.history() if ev.event == "status"]
        later = [ev for ev in srv.node.hub.history() if ev.offset > before]
        assert any(ev.event == "status" for ev in later)
        assert {s["replay"]["speed"] for s in statuses} >= {"1", "max"}
        assert all(s["state"] == "replay" and s["symbol"] == "AAPL" for s in statuses)
        for body, needle in [
            ({"action": "jump"}, "action must be one of"),
            ({"action": "speed"}, "needs 'speed'"),
            ({"action": "speed", "speed": "0"}, "positive"),
            ({"action": "seek", "to": "noon-ish"}, "bad time"),
            ({"action": "seek"}, "needs 'to'"),
        ]:
            r = httpx.post(url, json=body)
            assert r.status_code == 400, body
            assert r.json()["code"] == "BAD_REQUEST" and needle in r.json()["message"]
        assert httpx.post(url, json={"action": "pause", "extra": 1}).status_code == 422


def test_controls_answer_404_when_not_replaying(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    srv = live_server_factory()
    status = httpx.get(f"{srv.url}/api/replay")
    assert status.status_code == 200 and status.json() == {"replaying": False}
    r = httpx.post(f"{srv.url}/api/replay", json={"action": "pause"})
    assert r.status_code == 404
    assert r.json()["code"] == "NOT_REPLAYING"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", "replay", *args, "--port", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def _cli_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``tickwire replay ARGS`` in this process: (exit status, stderr)."""
    capsys.readouterr()
    try:
        code = main(["replay", *args, "--port", "1"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def test_cli_bad_files_and_options_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "trades.csv"
    bad.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "binance-futures,BTCUSDT,1582329600000000,1582329600001000,1,buy,9700.5,0.1\n"
        "binance-futures,BTCUSDT,1582329600000001,1582329600001000,2,buy,oops,0.1\n"
    )
    good = tmp_path / "good.csv"
    good.write_text("\n".join(bad.read_text().splitlines()[:2]) + "\n")
    cases = [
        ((str(bad),), "trades.csv:3: "),
        ((str(tmp_path / "missing.csv"), "--format", "tardis"), "missing.csv"),
        ((str(tmp_path / "x.bin"),), "x.bin"),
        ((str(good), "--speed", "fast"), "--speed"),
        ((str(good), "--start", "whenever"), "bad time"),
        ((str(good), "--start", "+3600"), "after the end of the recording, which runs 2020-"),
        ((str(good), "--symbol", "NOPE"), "NOPE"),
    ]
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    # the first case through the real entry point; the others in this process (the same
    # main(), without six more interpreter start-ups)
    first = _cli(*cases[0][0])
    results = [(first.returncode, first.stderr)]
    results += [_cli_here(capsys, *args) for args, _needle in cases[1:]]
    for (args, needle), (code, err) in zip(cases, results, strict=True):
        assert code == 2, (args, err)
        assert "Traceback" not in err
        assert needle in err, (args, err)
        assert err.startswith("tickwire replay: error: "), (args, err)


def test_rest_trades_after_a_seek_are_of_the_new_time_only(tmp_path: Path) -> None:
    """A seek that restores a checkpoint (forward past one, or back) leaves REST's recent
    trades empty until the replay plays on from there: the trades kept before were of
    another stretch of time (a forward seek kept them, so a client loading its tape after
    the seek showed trades from before the gap)."""
    path = write_trades_csv(tmp_path / "trades.csv", 400)
    opts = ("--speed", "max", "--paused", "--checkpoint-every", "50")
    with start_replay([path], tmp_path, *opts) as (srv, driver):
        symbol = driver.source.symbols[0].symbol

        def seek(step: int) -> None:
            to = driver.source.steps[step].ts
            r = httpx.post(f"{srv.url}/api/replay", json={"action": "seek", "to": to})
            assert r.status_code == 200 and r.json()["paused"], r.text

        def trade_times() -> list[int]:
            got = httpx.get(f"{srv.url}/api/trades/{symbol}", params={"limit": 1000})
            assert got.status_code == 200
            return [int(t["ts"]) for t in got.json()]

        seek(20)  # played through from the start: the trades so far are REST's history
        played = trade_times()
        assert played and max(played) <= driver.source.steps[20].ts
        seek(300)  # past checkpoints: restored, not played through
        assert trade_times() == []
        seek(100)  # back: restored again
        assert trade_times() == []
