"""Symbols with many decimals (Kraken ADA-XBT: 9 price, 8 size decimals), book only."""

from __future__ import annotations

import re
from typing import Any

import pytest

from client_tui.app import TickwireApp
from client_tui.messages import AccountUpdate, MarketEvent, SymbolsLoaded
from client_tui.model.format import fit_decimal, mid_text
from shared.checksum import book_checksum

ADA = {"symbol": "ADA-XBT", "tick_size": "0.000000001", "lot_size": "0.00000001",
       "min_qty": "0.00000001", "price_decimals": 9, "qty_decimals": 8}  # fmt: skip
BIDS = [["0.000022880", "31.75709827"], ["0.000022879", "12859.48103087"]]
ASKS = [["0.000022882", "16623.59975312"], ["0.000022883", "17182.44192203"]]


def test_fit_decimal_and_mid_text() -> None:
    assert fit_decimal("17182.44192203", 14) == "17182.44192203"
    assert fit_decimal("17182.44192203", 9) == "17182.441"
    assert fit_decimal("17182.44192203", 5) == "17182"
    assert fit_decimal("1234567.5", 4) == "1.2M"
    assert fit_decimal("1234567.5", 2) == "1M"  # never cut into the number itself
    assert mid_text(45780, 9) == "0.000022890"  # (22880 + 22900) / 2 on the grid
    assert mid_text(45781, 9) == "0.0000228905"  # half a tick: one more decimal


@pytest.mark.parametrize("size", [(160, 48)])
async def test_ladder_keeps_price_and_size_apart_and_says_why_no_trades(
    helpers: Any, size: tuple[int, int]
) -> None:
    """Issue 17 #4: the ladder ran ``0.00002301017182.44192203`` together; tape and chart of a
    book-only recording were empty without a word."""
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=size) as pilot:
        app.market.load_symbols([ADA])
        snap = {"symbol": "ADA-XBT", "seq": 1, "bids": BIDS, "asks": ASKS,
                "checksum": book_checksum(ASKS, BIDS)}  # fmt: skip
        assert app.market.apply("snapshot", snap) is None
        replay = {"symbol": "ADA-XBT", "state": "replay", "ts": 1,
                  "replay": {"format": "kraken", "clock": 1, "speed": "1", "seeks": 0}}  # fmt: skip
        app.market.apply("status", replay)
        app.portfolio.load({"balances": {}, "positions": [{"symbol": "ADA-XBT", "qty": "100",
                            "avg_price": "0.000022881", "realized_pnl": "0"}]})  # fmt: skip
        app.post_message(SymbolsLoaded())
        app.post_message(AccountUpdate())
        app.post_message(MarketEvent("snapshot", snap))
        app.post_message(MarketEvent("status", replay))
        await helpers.wait_for(pilot, lambda: "0.000022882" in helpers.screen_text(app))
        await pilot.pause(0.3)
        text = helpers.screen_text(app)
        assert "0.00002288317182" not in text and "0.000022880 31.75" not in text
        # every level: price and size with at least one space between them
        for price, qty in ASKS + BIDS:
            row = next(line for line in text.splitlines() if price in line and "/" not in line)
            assert re.search(rf"{re.escape(price)} +{re.escape(qty[:5])}", row) or re.search(
                rf"{re.escape(qty[:5])}[0-9.]* +.?{re.escape(price)}", row
            ), row
        assert "mid 0.000022881" in text
        assert "this recording has no trades" in text
        positions = text.split("Positions")[1]
        assert "0.00002288" in positions  # the average price in the symbol's decimals
