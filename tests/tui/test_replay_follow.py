"""The client follows a replay through the feed's ``status`` events, not by polling."""

from __future__ import annotations

from typing import Any

from client_tui.app import TickwireApp
from client_tui.messages import MarketEvent, SymbolsLoaded

SYMBOLS = [
    {"symbol": "ADA-XBT", "tick_size": "0.000000001", "lot_size": "0.00000001",
     "min_qty": "0.00000001", "price_decimals": 9, "qty_decimals": 8},
]  # fmt: skip


def status(seeks: int, clock: int = 1_618_678_140 * 10**9) -> dict[str, Any]:
    replay = {"replaying": True, "format": "kraken", "clock": clock, "clock_iso": "16:49:00",
              "speed": "1", "paused": False, "finished": False, "position": 7, "seeks": seeks,
              "start": clock - 10**10, "end": clock + 10**10}  # fmt: skip
    return {"symbol": "ADA-XBT", "state": "replay", "ts": clock, "replay": replay}


async def test_status_events_drive_the_replay_state_without_polling(helpers: Any) -> None:
    """Issue 17 #11: the TUI asked ``GET /api/replay`` every 5 s; now the ``status`` events'
    ``data.replay`` bind the replay keys and move the replay clock."""
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=(100, 30)) as pilot:
        app.market.load_symbols(SYMBOLS)
        app.post_message(SymbolsLoaded())
        await pilot.pause()
        assert app.replay_status is None
        assert "space" not in app._bindings.key_to_bindings
        ev = status(0)
        app.market.apply("status", ev)
        app.post_message(MarketEvent("status", ev))
        await pilot.pause()
        assert app.replay_status == ev["replay"]
        assert "space" in app._bindings.key_to_bindings  # replay keys bound
        assert app.replay_clock is not None and app.replay_clock.clock == ev["replay"]["clock"]
        later = status(1, clock=ev["replay"]["clock"] - 5 * 10**9)  # a seek back, elsewhere
        app.market.apply("status", later)
        app.post_message(MarketEvent("status", later))
        await pilot.pause()
        assert app.replay_clock.clock == later["replay"]["clock"]
        assert not hasattr(app, "_refresh_replay_status")  # the 5 s poll is gone
