"""Replay pacing: the clock, and the player's play / pause / speed / seek against an engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from exchange.engine.engine import Engine
from exchange.engine.types import Command, Event
from exchange.replay import ReplayClock, ReplayPlayer, ReplaySource, parse_speed, read_tardis

HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
T0_US = 1582329602000000


class FakeWall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_parse_speed() -> None:
    assert parse_speed("max") is None and parse_speed(None) is None
    assert parse_speed("10") == 10.0 and parse_speed("2.5x") == 2.5 and parse_speed(100) == 100.0
    for bad in ("0", "-1", "fast", "inf", "nan"):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_clock_speed_pause_seek() -> None:
    wall = FakeWall()
    clock = ReplayClock(1_000, speed=2.0, wall=wall)
    wall.t += 1.5
    assert clock.now() == 1_000 + 3 * 10**9
    clock.pause()
    wall.t += 10
    assert clock.now() == 1_000 + 3 * 10**9 and clock.wait_seconds(10**12) is None
    clock.resume()
    wall.t += 0.5
    assert clock.now() == 1_000 + 4 * 10**9
    clock.set_speed(10.0)
    assert clock.wait_seconds(clock.now() + 5 * 10**9) == pytest.approx(0.5)
    clock.seek(7)
    assert clock.now() == 7
    clock.set_speed(None)
    wall.t += 100
    assert clock.now() == 7 and clock.wait_seconds(10**18) == 0.0
    clock.advance_to(50)
    assert clock.now() == 50


def tape(tmp_path: Path, n: int = 60, gap_us: int = 1000) -> ReplaySource:
    rows = [
        f"binance-futures,BTCUSDT,{T0_US + i * gap_us},0,{i + 1},{'buy' if i % 3 else 'sell'},{9600 + i % 7}.5,0.0{i % 9 + 1}"
        for i in range(n)
    ]
    path = tmp_path / "t.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return read_tardis(path)


def straight_hash(src: ReplaySource, upto: int) -> str:
    engine = Engine(src.symbols)
    for cmd in src.setup:
        engine.handle(cmd)
    for step in src.steps[:upto]:
        for cmd in step.commands:
            engine.handle(cmd)
    return engine.state_hash()


class Venue:
    """An engine behind an async submit, with a reset that starts it afresh."""

    def __init__(self, src: ReplaySource) -> None:
        self.src = src
        self.engine = Engine(src.symbols)
        self.resets = 0

    async def submit(self, cmd: Command) -> list[Event]:
        await asyncio.sleep(0)
        return self.engine.handle(cmd)

    async def reset(self, target: int) -> int:
        self.resets += 1
        self.engine = Engine(self.src.symbols)
        return 0


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def test_max_speed_plays_everything_like_a_straight_replay(tmp_path: Path) -> None:
    src = tape(tmp_path)
    venue = Venue(src)
    seen: list[int] = []
    player = ReplayPlayer(src, venue.submit, speed=None, on_step=lambda i, s: seen.append(i))
    stop = asyncio.Event()
    task = asyncio.create_task(player.run(stop))
    await until(lambda: player.status().finished)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == list(range(len(src)))
    assert venue.engine.state_hash() == straight_hash(src, len(src))
    assert player.status().clock_ns == src.steps[-1].ts


async def test_paced_play_keeps_order_and_follows_the_clock(tmp_path: Path) -> None:
    src = tape(tmp_path, n=20, gap_us=2000)  # 40 ms of recording
    venue = Venue(src)
    played: list[int] = []
    player = ReplayPlayer(src, venue.submit, speed=4.0, on_step=lambda i, s: played.append(s.ts))
    stop = asyncio.Event()
    task = asyncio.create_task(player.run(stop))
    await until(lambda: player.status().finished)
    assert played == sorted(played) and len(played) == 20
    assert all(ts <= player.clock.now() for ts in played)  # nothing played before its time
    await asyncio.sleep(0.1)  # 400 ms of recorded time at 4x: the clock stays at the end
    assert player.status().clock_ns == src.steps[-1].ts
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_pause_and_seek_forward_and_back(tmp_path: Path) -> None:
    src = tape(tmp_path)
    venue = Venue(src)
    player = ReplayPlayer(src, venue.submit, speed=1.0, reset=venue.reset)
    player.pause()
    stop = asyncio.Event()
    task = asyncio.create_task(player.run(stop))
    await asyncio.sleep(0.05)
    assert player.position == 0  # paused: nothing plays
    player.seek(src.steps[40].ts)
    await until(lambda: player.position == 41)
    assert venue.engine.state_hash() == straight_hash(src, 41)
    assert player.status().clock_ns == src.steps[40].ts and player.status().paused
    player.seek(src.steps[10].ts - 1)  # backwards: reset, then replay the first 10 steps
    await until(lambda: venue.resets == 1 and player.position == 10)
    await asyncio.sleep(0.02)
    assert venue.engine.state_hash() == straight_hash(src, 10)
    player.set_speed(None)
    player.resume()
    await until(lambda: player.status().finished)
    assert venue.engine.state_hash() == straight_hash(src, len(src))
    stop.set()
    await asyncio.wait_for(task, 5)
