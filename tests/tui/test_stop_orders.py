"""Stop and stop-limit entry from the keyboard against a real server (issue 17 #15).

Liquidity and the trades that move the last price come from other accounts over REST.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from client_tui.screens import ReplaceScreen
from tests.tui.test_fill_notice import RecordingApp
from tests.tui.test_live_orders import SYM, ready, seed_book
from tests.tui.test_start_history import order


async def trade_at(helpers: Any, url: str, key: str, qty: str) -> None:
    """bob lifts the asks with a market buy of ``qty`` (a trade that moves the last price)."""
    bob = await helpers.login(url, "bob")
    await helpers.rest_order(url, bob, order(key, "buy", qty))


def make_app(url: str) -> RecordingApp:
    app = RecordingApp(url, "alice", "sse", confirm_notional=None)
    app.tracker.prefix = "t-alice"
    return app


async def type_stop(pilot: Any, price: str) -> None:
    await pilot.press("S", *price, "enter")


def orders_part(text: str) -> str:
    lines = text.split("Open orders", 1)[1].splitlines()[1:]
    return "\n".join(line.split("││")[0] for line in lines)


async def test_buy_stop_waits_then_triggers_and_fills(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    mm = await seed_book(helpers, srv.url)  # 59990.00 / 60010.00, 1.0 each
    alice = await helpers.login(srv.url, "alice")
    app = make_app(srv.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        await trade_at(helpers, srv.url, "bob-1", "0.1000")  # last trade 60010.00
        m = app.market.symbols[SYM]
        await helpers.wait_for(pilot, lambda: m.last_trade() == 6_001_000, what="the trade")
        ticket = app.query_one("#ticket")
        await pilot.press("o", "o")  # limit -> market -> stop
        await pilot.pause()
        assert (ticket.order_type, ticket.tif) == ("stop", "ioc")  # type: ignore[attr-defined]
        # the cursor (60000.00, the mid) is below the last trade: one tick above it instead
        assert ticket.stop_price == "60010.01"  # type: ignore[attr-defined]
        assert "last 60010.00" in helpers.screen_text(app)
        # a stop price the last trade already reached: refused here, in the server's words
        await type_stop(pilot, "60005.00")
        await pilot.press("enter")
        await pilot.pause()
        assert ticket.last_result == (  # type: ignore[attr-defined]
            "not sent: a buy stop's stop_price must be above the last trade (60010.00)"
        )
        assert app.tracker.orders == {} and await helpers.server_orders(srv.url, alice) == []
        await type_stop(pilot, "60015.00")
        await pilot.press("enter")
        await helpers.wait_for(pilot, lambda: app.tracker.orders["t-alice-1"].status == "open")
        qty = app.tracker.orders["t-alice-1"].qty
        [on_server] = await helpers.server_orders(srv.url, alice)
        assert (on_server["order_type"], on_server["stop_price"], on_server["triggered"]) == (
            "stop",
            "60015.00",
            False,
        )
        assert "price" not in on_server or on_server["price"] is None
        await helpers.wait_for(
            pilot, lambda: "waiting" in orders_part(helpers.screen_text(app)), what="waiting"
        )
        row = next(
            r for r in orders_part(helpers.screen_text(app)).splitlines() if "t-alice-1" in r
        )
        assert "MKT" in row and "60015.00" in row and "waiting" in row
        # a trade through the stop price: mm offers at 60015.00, bob lifts 60010 and 60015
        await helpers.rest_order(
            srv.url,
            mm,
            {"client_order_id": "mm-ask-2", "symbol": SYM, "side": "sell",
             "order_type": "limit", "price": "60015.00", "qty": "1.0000"},
        )  # fmt: skip
        await trade_at(helpers, srv.url, "bob-2", "1.0000")
        own = app.tracker.orders["t-alice-1"]
        await helpers.wait_for(pilot, lambda: own.status == "filled", what="the stop's fill")
        assert own.triggered and own.trigger_price == "60015.00"
        fill = app.tracker.fills[0]
        assert (fill.client_order_id, fill.price, fill.qty, fill.liquidity) == (
            "t-alice-1",
            "60015.00",
            qty,
            "taker",
        )
        await helpers.wait_for(
            pilot, lambda: "60015.00" in helpers.screen_text(app).split("Fills")[-1]
        )
        assert ("Stop triggered", f"BUY {qty} {SYM} stop 60015.00: traded 60015.00") in app.notes
        assert ("Fill", f"BUY {qty} {SYM} @ 60015.00\ntaker · filled") in app.notes
        assert await helpers.server_orders(srv.url, alice) == []


async def test_stop_limit_rests_when_triggered_and_cannot_be_replaced(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    mm = await seed_book(helpers, srv.url)
    await trade_at(helpers, srv.url, "bob-1", "0.1000")  # 60010.00, before the app starts
    alice = await helpers.login(srv.url, "alice")
    app = make_app(srv.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        ticket = app.query_one("#ticket")
        # The trade came before the app: its history (GET /api/trades) gives the last price.
        m = app.market.symbols[SYM]
        await helpers.wait_for(pilot, lambda: m.last_trade() == 6_001_000, what="the history")
        await pilot.press("o", "o", "o")  # stop-limit; the cursor (60000.00) is below the last
        await pilot.pause()
        assert ticket.order_type == "stop_limit" and ticket.tif == "gtc"  # type: ignore[attr-defined]
        assert ticket.stop_price == "60010.01"  # type: ignore[attr-defined]
        # what only the server knows (the balance) comes back as its reject, on the ticket
        await pilot.press("e", *"900", "enter")
        await pilot.press("enter")
        await helpers.wait_for(pilot, lambda: "rejected" in ticket.last_result)  # type: ignore[attr-defined]
        assert ticket.last_result.startswith("rejected: INSUFFICIENT_FUNDS")  # type: ignore[attr-defined]
        assert await helpers.server_orders(srv.url, alice) == []
        await pilot.press("e", *"0.0100", "enter")
        # limit 60030.00 (typed), stop 60020.00 (typed)
        await pilot.press("E", *"60030.00", "enter")
        await type_stop(pilot, "60020.00")
        await pilot.press("enter")
        await helpers.wait_for(pilot, lambda: app.tracker.orders["t-alice-2"].status == "open")
        [on_server] = await helpers.server_orders(srv.url, alice)
        assert (on_server["price"], on_server["stop_price"], on_server["triggered"]) == (
            "60030.00",
            "60020.00",
            False,
        )
        # replace: refused here, nothing sent
        await pilot.press("3", "r")
        await pilot.pause()
        assert not isinstance(app.screen, ReplaceScreen)
        assert "a stop order cannot be modified" in ticket.last_result  # type: ignore[attr-defined]
        assert any(title == "Replace" for title, _ in app.notes)
        # mm offers at 60020.00 and bob lifts everything: the stop triggers, its limit
        # (60030.00) then finds no ask left and rests in the book
        await helpers.rest_order(
            srv.url,
            mm,
            {"client_order_id": "mm-ask-2", "symbol": SYM, "side": "sell",
             "order_type": "limit", "price": "60020.00", "qty": "0.5000"},
        )  # fmt: skip
        await trade_at(helpers, srv.url, "bob-2", "1.4000")
        own = app.tracker.orders["t-alice-2"]
        await helpers.wait_for(pilot, lambda: own.triggered, what="the trigger")
        await helpers.wait_for(
            pilot, lambda: "trig open" in orders_part(helpers.screen_text(app)), what="trig open"
        )
        assert own.status == "open" and own.trigger_price == "60020.00"
        # now in the book: the ladder marks it; mm sells into it
        await helpers.wait_for(
            pilot,
            lambda: app.tracker.resting_by_price(SYM, "buy") == {"60030.00": Decimal(own.qty)},
        )
        await helpers.rest_order(srv.url, mm, order("mm-hit", "sell", own.qty))
        await helpers.wait_for(pilot, lambda: own.status == "filled", what="the fill")
        assert app.tracker.fills[0].price == "60030.00"
