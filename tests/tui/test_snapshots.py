"""Snapshot tests of the main and help screens with a seeded market (no server).

The screen text is compared with ``snapshots/<name>.txt``; the SVG beside it is for review
(open it in a browser or ``rsvg-convert``). On a mismatch the test writes
``<name>.actual.txt`` / ``.actual.svg`` and fails; run with ``TUI_SNAPSHOT_UPDATE=1`` to accept
a deliberate layout change (and commit the new files).
"""

from __future__ import annotations

import difflib
import os
import time
from pathlib import Path
from typing import Any

import pytest

from client_tui.app import TickwireApp
from client_tui.messages import AccountUpdate, OrderUpdate, SymbolsLoaded
from client_tui.model.orders import OrderTracker
from client_tui.widgets import CandleChart
from shared.checksum import book_checksum

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
T0 = 1_800_000_000_000_000_000  # a fixed instant (ns)


def seed(app: TickwireApp) -> None:
    """A deterministic market: two symbols, a book, trades, candles, one own order, a fill."""
    app.market.load_symbols(
        [
            {
                "symbol": "BTC-USD",
                "tick_size": "0.01",
                "lot_size": "0.0001",
                "min_qty": "0.0001",
                "price_decimals": 2,
                "qty_decimals": 4,
            },
            {
                "symbol": "ETH-USD",
                "tick_size": "0.01",
                "lot_size": "0.0001",
                "min_qty": "0.0001",
                "price_decimals": 2,
                "qty_decimals": 4,
            },
        ]
    )
    bids = [[f"{60000 - 0.5 * i:.2f}", f"{0.25 + 0.125 * (i % 5):.4f}"] for i in range(1, 30)]
    asks = [[f"{60000 + 0.5 * i:.2f}", f"{0.3 + 0.1 * (i % 4):.4f}"] for i in range(1, 30)]
    app.market.apply(
        "snapshot",
        {
            "symbol": "BTC-USD",
            "seq": 1,
            "bids": bids,
            "asks": asks,
            "checksum": book_checksum(asks, bids),
        },
    )
    e_b, e_a = [["2999.50", "3.0000"]], [["3000.50", "2.0000"]]
    app.market.apply(
        "snapshot",
        {
            "symbol": "ETH-USD",
            "seq": 1,
            "bids": e_b,
            "asks": e_a,
            "checksum": book_checksum(e_a, e_b),
        },
    )
    for i in range(40):
        price = 60000 + ((i * 7) % 11 - 5) * 0.5
        app.market.apply(
            "trade",
            {
                "symbol": "BTC-USD",
                "trade_id": i + 1,
                "price": f"{price:.2f}",
                "qty": f"{0.01 * (i % 9 + 1):.4f}",
                "taker_side": "buy" if i % 3 else "sell",
                "ts": T0 + i * 10**9,
            },
        )
        o = price - 0.5 if i % 3 else price + 1.0
        app.market.apply(
            "candle",
            {
                "symbol": "BTC-USD",
                "interval": "1s",
                "t": T0 + i * 10**9,
                "o": f"{o:.2f}",
                "h": f"{max(o, price) + 1:.2f}",
                "l": f"{min(o, price) - 1:.2f}",
                "c": f"{price:.2f}",
                "v": "0.5000",
                "closed": True,
            },
        )
    for sym, last, open_ in (
        ("BTC-USD", "60001.50", "59800.00"),
        ("ETH-USD", "3000.00", "3012.00"),
    ):
        app.market.apply(
            "ticker",
            {
                "symbol": sym,
                "bid": "0",
                "ask": "0",
                "last": last,
                "open": open_,
                "high": last,
                "low": open_,
                "volume": "1",
            },
        )
    app.market.lag.clear()
    t: OrderTracker = app.tracker
    t.new_order("BTC-USD", "buy", "limit", "0.5000", "59998.00")
    t.apply(
        {
            "type": "order.ack",
            "client_order_id": "snap-1",
            "order_id": "O1",
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "limit",
            "price": "59998.00",
            "qty": "0.5000",
            "tif": "gtc",
            "post_only": False,
            "status": "open",
            "filled_qty": "0.0000",
            "leaves_qty": "0.5000",
            "duplicate": False,
            "ts": T0,
            "exec_seq": 1,
        }
    )
    t.apply(
        {
            "type": "order.fill",
            "order_id": "O1",
            "client_order_id": "snap-1",
            "trade_id": 3,
            "symbol": "BTC-USD",
            "side": "buy",
            "price": "59998.00",
            "qty": "0.1000",
            "leaves_qty": "0.4000",
            "liquidity": "maker",
            "fee": "0.599980",
            "ts": T0 + 5 * 10**9,
            "exec_seq": 2,
        }
    )
    app.portfolio.load(
        {
            "balances": {"cash": {"total": "994000.00", "available": "970000.00"}},
            "positions": [
                {
                    "symbol": "BTC-USD",
                    "qty": "0.1000",
                    "avg_price": "59998.00",
                    "realized_pnl": "0.00",
                }
            ],
            "latest_exec_seq": 2,
        }
    )
    app.post_message(SymbolsLoaded())
    app.post_message(OrderUpdate({"type": "seeded"}))
    app.post_message(AccountUpdate())


async def snap(app: TickwireApp, name: str, helpers: Any) -> None:
    text = helpers.screen_text(app)
    expected_path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("TUI_SNAPSHOT_UPDATE") == "1" or not expected_path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        expected_path.write_text(text)
        app.save_screenshot(f"{name}.svg", path=str(SNAPSHOTS))
        return
    expected = expected_path.read_text()
    if text != expected:
        (SNAPSHOTS / f"{name}.actual.txt").write_text(text)
        app.save_screenshot(f"{name}.actual.svg", path=str(SNAPSHOTS))
        diff = "\n".join(
            difflib.unified_diff(expected.splitlines(), text.splitlines(), lineterm="")
        )
        pytest.fail(f"screen {name} changed (see snapshots/{name}.actual.*):\n{diff}")


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_main_and_help_screens(utc: Any, helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    app.tracker.prefix = "snap"
    async with app.run_test(size=(160, 48)) as pilot:
        seed(app)
        await pilot.pause(0.3)
        await pilot.press("down", "down", "b", "plus")
        chart = app.query_one(CandleChart)
        # drawn at its final size (a build started before the layout settled is redone)
        await helpers.wait_for(pilot, lambda: chart.current, what="chart")
        await pilot.pause(0.3)
        await helpers.wait_for(pilot, lambda: chart.current, what="chart")
        await snap(app, "main", helpers)
        text = helpers.screen_text(app)
        # the structure a trader relies on
        for title in (
            "Watchlist",
            "Order book",
            "Chart",
            "Time & sales",
            "Order ticket",
            "Positions & P&L",
            "Open orders",
            "Fills",
        ):
            assert title in text
        assert "snap-2" in text  # the next key, shown on the ticket
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        await snap(app, "help", helpers)
        help_text = helpers.screen_text(app)
        for binding in app.BINDINGS:
            assert binding.description in help_text  # type: ignore[union-attr]
        await pilot.press("escape")
        await pilot.pause()
        assert "keyboard" not in helpers.screen_text(app)


async def test_stale_banner_when_market_data_goes_silent(helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(
            pilot, lambda: "STALE: no market data yet" in helpers.screen_text(app), what="banner"
        )
        seed(app)

        def fresh() -> bool:  # the feed keeps talking while we look
            app.market.apply("status", {"symbol": "BTC-USD", "state": "open"})
            return "STALE" not in helpers.screen_text(app)

        await helpers.wait_for(pilot, fresh, what="fresh")
        await helpers.wait_for(
            pilot, lambda: "market data silent for" in helpers.screen_text(app), what="stale"
        )
