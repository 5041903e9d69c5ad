"""Pilot tests of order entry against a real server (quiet market, liquidity seeded by REST).

Every order is placed with the keyboard and checked on the server with ``GET /api/orders``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from textual.widgets import Input

from client_tui.app import TickwireApp
from client_tui.screens import ConfirmScreen, ReplaceScreen

SYM = "BTC-USD"


async def seed_book(helpers: Any, url: str) -> str:
    """A market maker (another account, over REST) rests one bid and one ask."""
    mm = await helpers.login(url, "mm")
    await helpers.rest_order(
        url,
        mm,
        {
            "client_order_id": "mm-bid",
            "symbol": SYM,
            "side": "buy",
            "order_type": "limit",
            "price": "59990.00",
            "qty": "1.0000",
        },
    )
    await helpers.rest_order(
        url,
        mm,
        {
            "client_order_id": "mm-ask",
            "symbol": SYM,
            "side": "sell",
            "order_type": "limit",
            "price": "60010.00",
            "qty": "1.0000",
        },
    )
    return mm


def make_app(url: str, **kw: Any) -> TickwireApp:
    app = TickwireApp(url, "alice", "sse", **kw)
    app.tracker.prefix = "t-alice"
    return app


async def ready(pilot: Any, app: TickwireApp, helpers: Any) -> None:
    await helpers.wait_for(
        pilot,
        lambda: (
            app.conn.order_state == "live"
            and app.market.book_ok(SYM)
            and app.ladders.get(SYM) is not None
            and app.ladders[SYM].cursor is not None
        ),
        what="live connections and a book",
    )


async def test_keyboard_order_creates_exactly_that_order(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    alice = await helpers.login(srv.url, "alice")
    app = make_app(srv.url, confirm_notional=Decimal("1000"))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        assert app.ladders[SYM].cursor == 6_000_000  # centred on the mid, 60000.00
        # the default size is worth at most 1,000 (0.01); one preset up is 0.02
        await helpers.wait_for(pilot, lambda: app.query_one("#ticket").qty == "0.0100")
        await pilot.press("down", "down", "down", "b", "plus")
        await pilot.pause()
        assert "t-alice-1" in helpers.screen_text(app)  # the key is visible before sending
        await pilot.press("enter")
        # 0.02 x 59999.97 is above the 1,000 confirmation threshold: the dialog asks first.
        await helpers.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "1,200.00" in helpers.screen_text(app)
        await pilot.press("y")
        await helpers.wait_for(pilot, lambda: app.tracker.orders["t-alice-1"].status == "open")
        orders = await helpers.server_orders(srv.url, alice)
        assert [
            (o["client_order_id"], o["symbol"], o["side"], o["price"], o["qty"], o["order_type"])
            for o in orders
        ] == [("t-alice-1", SYM, "buy", "59999.97", "0.0200", "limit")]
        await helpers.wait_for(
            pilot, lambda: "59999.97" in helpers.screen_text(app).split("Open orders")[-1]
        )
        # the ladder marks the own order at its level
        ladder = app.query_one("#ladder")
        assert app.tracker.resting_by_price(SYM, "buy") == {"59999.97": Decimal("0.0200")}
        assert ladder is not None


async def test_confirm_dialog_can_refuse(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    alice = await helpers.login(srv.url, "alice")
    app = make_app(srv.url, confirm_notional=Decimal("0"))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        await pilot.press("s", "enter")
        await helpers.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert app.tracker.orders == {}
        assert await helpers.server_orders(srv.url, alice) == []


async def test_cancel_and_cancel_all(live_server_factory: Callable[..., Any], helpers: Any) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    alice = await helpers.login(srv.url, "alice")
    app = make_app(srv.url, confirm_notional=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        for _ in range(3):
            await pilot.press("down", "b", "enter")
        await helpers.wait_for(
            pilot,
            lambda: (
                len(app.tracker.open_orders()) == 3
                and all(o.status == "open" for o in app.tracker.open_orders())
            ),
        )
        assert len(await helpers.server_orders(srv.url, alice)) == 3
        await pilot.press("3")  # focus the orders panel (newest first; the selection stays put)
        await pilot.pause()
        assert app.query_one("#orders").selected == "t-alice-1"  # type: ignore[attr-defined]
        await pilot.press("up", "c")  # select the next newer one and cancel it
        await helpers.wait_for(pilot, lambda: app.tracker.orders["t-alice-2"].status == "canceled")
        left = {o["client_order_id"] for o in await helpers.server_orders(srv.url, alice)}
        assert left == {"t-alice-1", "t-alice-3"}
        await pilot.press("C")
        await helpers.wait_for(pilot, lambda: app.tracker.open_orders() == [])
        assert await helpers.server_orders(srv.url, alice) == []
        await helpers.wait_for(pilot, lambda: "no open orders" in helpers.screen_text(app))


async def test_fill_updates_orders_fills_and_pnl(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    mm = await seed_book(helpers, srv.url)
    app = make_app(srv.url, confirm_notional=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        await helpers.wait_for(pilot, lambda: SYM in app.portfolio.positions, what="account")
        before = app.portfolio.positions[SYM].qty
        cash_before = app.portfolio.balances["cash"][0]
        await pilot.press("b", "e", "1", "enter")  # size typed: 1
        await pilot.press("enter")  # 1 @ 60000.00, rests (best ask is 60010.00)
        await helpers.wait_for(pilot, lambda: app.tracker.orders["t-alice-1"].status == "open")
        # another account sells into it
        await helpers.rest_order(
            srv.url,
            mm,
            {
                "client_order_id": "mm-hit",
                "symbol": SYM,
                "side": "sell",
                "order_type": "market",
                "qty": "0.4000",
                "tif": "ioc",
            },
        )
        await helpers.wait_for(pilot, lambda: len(app.tracker.fills) == 1, what="a fill")
        order = app.tracker.orders["t-alice-1"]
        assert (order.status, order.filled_qty, order.leaves_qty) == (
            "partially_filled",
            "0.4000",
            "0.6000",
        )
        fill = app.tracker.fills[0]
        assert (fill.price, fill.qty, fill.liquidity) == ("60000.00", "0.4000", "maker")
        await helpers.wait_for(
            pilot,
            lambda: app.portfolio.positions[SYM].qty == before + Decimal("0.4"),
            what="position",
        )
        assert app.portfolio.balances["cash"][0] != cash_before
        text = helpers.screen_text(app)
        fills_part = text.split("Fills")[-1]
        assert "60000.00" in fills_part and "maker" in fills_part
        assert "partially_filled" in text


@pytest.mark.parametrize("transport", ["ws", "poll"])
async def test_other_market_data_transports_fill_the_book(
    live_server_factory: Callable[..., Any], helpers: Any, transport: str
) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    app = TickwireApp(srv.url, "alice", transport)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        m = app.market.symbols[SYM]
        assert (m.best_bid, m.best_ask) == (5_999_000, 6_001_000)
        assert f"MD  {transport}" in helpers.screen_text(app)


async def test_replace_price_and_quantity(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    alice = await helpers.login(srv.url, "alice")
    app = make_app(srv.url, confirm_notional=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        await pilot.press("down", "b", "enter")
        await helpers.wait_for(pilot, lambda: app.tracker.orders["t-alice-1"].status == "open")
        await pilot.press("3", "r")
        await helpers.wait_for(pilot, lambda: isinstance(app.screen, ReplaceScreen))
        assert "Replace t-alice-1" in helpers.screen_text(app)
        app.screen.query_one("#replace-price", Input).value = "59995.00"
        app.screen.query_one("#replace-qty", Input).value = "3.0000"
        await pilot.press("enter")
        await helpers.wait_for(
            pilot,
            lambda: (
                "t-alice-2" in app.tracker.orders
                and app.tracker.orders["t-alice-2"].status == "open"
            ),
        )
        orders = await helpers.server_orders(srv.url, alice)
        assert [(o["client_order_id"], o["price"], o["qty"]) for o in orders] == [
            ("t-alice-2", "59995.00", "3.0000")
        ]
        assert [o.client_order_id for o in app.tracker.open_orders()] == ["t-alice-2"]
        assert app.tracker.orders["t-alice-1"].status == "canceled"


async def test_quit_closes_both_connections(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    app = make_app(srv.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        assert len(srv.node.websockets) == 1  # the order socket
        await pilot.press("q")
        await helpers.wait_for(pilot, lambda: app.conn.http.is_closed, what="HTTP client closed")
    assert app.conn.http.is_closed and app.conn._ws is None
    deadline = asyncio.get_running_loop().time() + 10
    while srv.node.websockets and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert not srv.node.websockets  # the server saw the order socket close
