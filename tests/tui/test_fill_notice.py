"""A live fill of the trader's own order shows one toast and rings the bell (issue 17 #15);
the fills replayed on start (the account's history) show none.

The fills are made by another account over REST against a real server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import client_tui.app
from client_tui.app import TickwireApp
from tests.tui.test_start_history import SYM, order, past_trading


class RecordingApp(TickwireApp):
    """The app, recording its toasts and bells (the pilot runs headless: no real bell)."""

    CSS_PATH = str(Path(client_tui.app.__file__).with_name("app.tcss"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str]] = []
        self.bells = 0

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:
        self.notes.append((title, message))
        super().notify(message, title=title, **kwargs)

    def bell(self) -> None:
        self.bells += 1
        super().bell()


@pytest.mark.parametrize("bell", [True, False])
async def test_live_fill_notifies_once_and_replayed_fills_not_at_all(
    live_server_factory: Callable[..., Any], helpers: Any, bell: bool
) -> None:
    srv = live_server_factory()
    await past_trading(helpers, srv.url)  # two fills of alice's before the app starts
    mm = await helpers.login(srv.url, "mm")
    app = RecordingApp(srv.url, "alice", "sse", bell=bell)
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(
            pilot,
            lambda: len(app.tracker.fills) == 2 and app.conn._synced,
            what="the account's history loaded",
        )
        await pilot.pause(0.2)
        assert app.notes == [] and app.bells == 0  # history is not news
        # mm sells 0.2 into alice's resting bid (a-rest: 1 @ 60000.00, 0.6 left)
        await helpers.rest_order(srv.url, mm, order("mm-hit-2", "sell", "0.2000"))
        await helpers.wait_for(pilot, lambda: len(app.tracker.fills) == 3, what="the live fill")
        await helpers.wait_for(pilot, lambda: app.notes, what="the toast")
        await pilot.pause(0.2)
        assert app.notes == [("Fill", f"BUY 0.2000 {SYM} @ 60000.00\nmaker · 0.4000 left")]
        assert app.bells == (1 if bell else 0)
