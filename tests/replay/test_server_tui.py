"""Live: the terminal client's replay keys drive a replaying server (Textual pilot)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from client_tui.app import TickwireApp
from client_tui.replay import SeekScreen

from .conftest import sample
from .live import start_replay

AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)


async def wait_for(pilot: Any, cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def screen_text(app: TickwireApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.data
async def test_keys_pause_speed_and_seek(tmp_path: Path) -> None:
    path = sample(*AAPL)
    with start_replay([path], tmp_path, "--speed", "1", "--paused") as (srv, driver):
        clock = driver.player.clock
        app = TickwireApp(srv.url, "alice", "sse")
        async with app.run_test(size=(180, 50)) as pilot:
            await wait_for(pilot, lambda: app.replay_status is not None, "the replay probe")
            await pilot.press("space")
            await wait_for(pilot, lambda: not clock.paused, "resume")
            await pilot.press("right_square_bracket", "right_square_bracket")
            await wait_for(pilot, lambda: clock.speed == 5.0, "speed 1 -> 2 -> 5")
            await pilot.press("left_square_bracket")
            await wait_for(pilot, lambda: clock.speed == 2.0, "speed 5 -> 2")
            await pilot.press("space")
            await wait_for(pilot, lambda: clock.paused, "pause")
            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, SeekScreen), "the seek prompt")
            app.screen.query_one("#seek-to", Input).value = "+30"
            await pilot.press("enter")
            target = driver.source.start_ns + 30 * 10**9
            await wait_for(pilot, lambda: clock.now() == target, "the seek")
            assert driver.player.position == sum(1 for s in driver.source.steps if s.ts <= target)
            await asyncio.sleep(0)
            await pilot.press("question_mark")
            await pilot.pause(0.2)
            text = screen_text(app)
            for needle in ("Replay: pause / resume", "Replay: faster", "Replay: seek to a time"):
                assert needle in text
