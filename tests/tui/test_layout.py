"""Every panel fits and is usable from 100 x 30 up (issue 17 #10); 160 x 48 keeps its layout.

The market is seeded offline (``test_snapshots.seed``: BTC-USD and ETH-USD, one own order,
one fill), plus a symbol with 9 price and 8 size decimals for the ladder's widths.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.binding import Binding

from client_tui.app import TickwireApp
from client_tui.messages import MarketEvent, OrderUpdate, SymbolsLoaded
from client_tui.widgets import CandleChart, LadderView, OrdersPanel, Watchlist
from shared.checksum import book_checksum
from tests.tui.test_decimals import ADA, ASKS, BIDS
from tests.tui.test_snapshots import seed

PANELS = ("watchlist", "ticket", "positions", "ladder", "chart", "tape", "orders", "fills",
          "status")  # fmt: skip
SIZES = [(100, 30), (120, 36), (160, 48)]
#: Content (inside the border) a panel needs to be of use: (columns, rows).
USABLE = {"watchlist": (30, 3), "ticket": (30, 4), "positions": (30, 3), "ladder": (30, 11),
          "chart": (28, 6), "tape": (28, 4), "orders": (50, 4), "fills": (36, 4)}  # fmt: skip


async def settled(app: TickwireApp, pilot: Any, helpers: Any) -> None:
    chart = app.query_one(CandleChart)
    await pilot.pause(0.3)
    await helpers.wait_for(pilot, lambda: chart.current, what="chart at its size")
    await pilot.pause(0.2)


def ladder_rows(app: TickwireApp) -> list[str]:
    return app.query_one(LadderView).plain_lines()[2:]


def check_ladder_rows(rows: list[str], book: dict[str, str], width: int) -> int:
    """Each row: sizes and price whole (a size may lose trailing decimals, never digits of
    its integer part), with spaces between them, inside the panel. Returns the rows with a
    price on the book."""
    seen = 0
    for row in rows:
        assert len(row.rstrip()) <= width, row
        tokens = re.findall(r"[0-9][0-9.]*", row.replace("▸", " "))
        prices = [t for t in tokens if t in book]
        assert len(prices) <= 1, row
        if not prices:
            continue
        seen += 1
        price, qty = prices[0], book[prices[0]]
        assert re.search(rf"(^|[ ▸]){re.escape(price)}( |$)", row), row  # whole, apart
        shown = [t for t in tokens if t != price and qty.startswith(t)]
        assert shown, (row, qty)
        assert shown[0].split(".")[0] == qty.split(".")[0], (row, qty)  # integer part whole
    return seen


def stop_order(app: TickwireApp) -> None:
    """A buy stop waiting at 60100.00 (acknowledged by the server, as it were)."""
    req = app.tracker.new_order("BTC-USD", "buy", "stop", "0.5000", None, "ioc",
                                stop_price="60100.00")  # fmt: skip
    app.tracker.apply(
        {"type": "order.ack", "client_order_id": req["client_order_id"], "order_id": "O9",
         "symbol": "BTC-USD", "side": "buy", "order_type": "stop", "price": None,
         "qty": "0.5000", "tif": "ioc", "post_only": False, "status": "open",
         "filled_qty": "0.0000", "leaves_qty": "0.5000", "duplicate": False, "ts": 1,
         "exec_seq": 3, "stop_price": "60100.00", "triggered": False}
    )  # fmt: skip
    app.post_message(OrderUpdate({"type": "seeded"}))


@pytest.mark.parametrize("size", SIZES)
async def test_every_panel_is_on_screen_and_usable(size: tuple[int, int], helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    app.tracker.prefix = "snap"
    width, height = size
    async with app.run_test(size=size) as pilot:
        seed(app)
        stop_order(app)
        await pilot.pause(0.3)
        await pilot.press("down", "down", "b")
        await settled(app, pilot, helpers)
        narrow = app.screen.has_class("-narrow")
        assert narrow == (width < 150)
        for wid in PANELS:
            region = app.query_one(f"#{wid}").region
            assert region.width > 0 and region.height > 0, (wid, region)
            assert region.x >= 0 and region.y >= 0, (wid, region)
            assert region.right <= width and region.bottom <= height, (wid, region)
            if wid in USABLE:
                cols, rows = USABLE[wid]
                assert region.width - 2 >= cols and region.height - 2 >= rows, (wid, region)
        text = helpers.screen_text(app)
        for title in ("Watchlist", "Order book", "Chart", "Time & sales", "Order ticket",
                      "Positions & P&L", "Open orders", "Fills"):  # fmt: skip
            assert title in text
        # what each panel is for is there, whole
        lines = text.splitlines()
        assert any("ETH-USD" in line and "3000.00" in line for line in lines)  # watchlist
        assert any("BTC-USD" in line and "0.1000" in line and "59998.00" in line
                   for line in lines)  # positions, fills  # fmt: skip
        orders = app.query_one("#orders").region
        in_orders = [line[orders.x : orders.right] for line in lines[orders.y : orders.bottom]]
        assert any("snap-1" in line and "59998.00" in line and "0.4000" in line
                   for line in in_orders)  # the open order  # fmt: skip
        assert any(re.search(r"MKT +60100\.00( +0\.5000)+ +waiting +│", line)
                   for line in in_orders)  # the waiting stop, its status whole  # fmt: skip
        assert any("60002.00" in line and "0.0400" in line for line in lines)  # the tape
        assert "book ✔" in lines[-2] and "? Help" in lines[-1]  # status bar, footer
        assert "snap-3" in text  # the ticket: its key, size and price
        assert any(re.search(r"qty [0-9.]+ +price 59999\.00", line) for line in lines)
        ladder = app.query_one(LadderView)
        m = app.market.symbols["BTC-USD"]
        book = {m.info.price(p): m.info.qty(q) for p, q in (m.bids | m.asks).items()}
        assert check_ladder_rows(ladder_rows(app), book, ladder.size.width) >= 9
        if size == (160, 48):  # the wide ladder keeps its own-order columns
            assert ladder.plain_lines()[1].lstrip().startswith("own")


@pytest.mark.parametrize("size", [(100, 30), (160, 48)])
async def test_eight_decimal_ladder_fits_at_every_size(size: tuple[int, int], helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=size) as pilot:
        app.market.load_symbols([ADA])
        snap = {"symbol": "ADA-XBT", "seq": 1, "bids": BIDS, "asks": ASKS,
                "checksum": book_checksum(ASKS, BIDS)}  # fmt: skip
        assert app.market.apply("snapshot", snap) is None
        app.post_message(SymbolsLoaded())
        app.post_message(MarketEvent("snapshot", snap))
        await helpers.wait_for(pilot, lambda: "0.000022882" in helpers.screen_text(app))
        await pilot.pause(0.2)
        ladder = app.query_one(LadderView)
        book = dict((p, q) for p, q in BIDS + ASKS)
        assert check_ladder_rows(ladder_rows(app), book, ladder.size.width) == len(book)


async def test_resizing_switches_the_layout_both_ways(helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=(160, 48)) as pilot:
        seed(app)
        await settled(app, pilot, helpers)
        assert not app.screen.has_class("-narrow") and not app.screen.has_class("-short")
        await pilot.resize_terminal(100, 30)
        await settled(app, pilot, helpers)
        assert app.screen.has_class("-narrow") and app.screen.has_class("-short")
        for wid in PANELS:
            region = app.query_one(f"#{wid}").region
            assert region.width > 0 and region.height > 0 and region.right <= 100, wid
            assert region.bottom <= 30, wid
        ladder = app.query_one(LadderView)
        assert all(len(line.rstrip()) <= ladder.size.width for line in ladder.plain_lines())
        assert "own" not in ladder.plain_lines()[1]  # own sizes moved into the bar cells
        await pilot.resize_terminal(160, 48)
        await settled(app, pilot, helpers)
        assert not app.screen.has_class("-narrow")
        await helpers.wait_for(pilot, lambda: "own" in ladder.plain_lines()[1], what="own cols")


@pytest.mark.parametrize("size", [(100, 30), (160, 48)])
async def test_help_lists_every_key_on_screen(size: tuple[int, int], helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=size) as pilot:
        seed(app)
        await pilot.pause(0.2)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        text = helpers.screen_text(app)
        assert "tickwire · keyboard" in text and "esc / ? to close" in text
        groups = [app.BINDINGS, Watchlist.BINDINGS, LadderView.BINDINGS, OrdersPanel.BINDINGS]
        for bindings in groups:
            for b in bindings:
                assert isinstance(b, Binding)
                assert b.description in text, b.description
        assert re.search(r"\bS +Type stop price", text)
        assert re.search(r"\bo +Type: limit/market/stop/stop-limit", text)


async def test_empty_orders_header_keeps_its_columns_apart(helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(pilot, lambda: "no open orders" in helpers.screen_text(app))
        text = helpers.screen_text(app)
        assert "QTYLEFT" not in text and re.search(r"QTY +LEFT +STATUS", text)
