"""A restarted terminal shows the account's past fills and orders (issue 17 #12).

Orders and fills are made over REST before the app starts; the app then loads them from
the execution stream (``executions.resume`` after 0) and ``GET /api/orders``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client_tui.app import TickwireApp

SYM = "BTC-USD"


def order(coid: str, side: str, qty: str, price: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"client_order_id": coid, "symbol": SYM, "side": side, "qty": qty}
    if price is None:
        body.update(order_type="market", tif="ioc")
    else:
        body.update(order_type="limit", price=price)
    return body


async def past_trading(helpers: Any, url: str) -> None:
    """mm quotes 59990 / 60010; alice rests a bid that mm half fills, and lifts mm's ask."""
    mm = await helpers.login(url, "mm")
    alice = await helpers.login(url, "alice")
    await helpers.rest_order(url, mm, order("mm-bid", "buy", "1.0000", "59990.00"))
    await helpers.rest_order(url, mm, order("mm-ask", "sell", "1.0000", "60010.00"))
    await helpers.rest_order(url, alice, order("a-rest", "buy", "1.0000", "60000.00"))
    await helpers.rest_order(url, mm, order("mm-hit", "sell", "0.4000"))  # fills a-rest 0.4
    await helpers.rest_order(url, alice, order("a-lift", "buy", "0.1000"))  # takes 0.1 @ 60010


async def test_fresh_app_shows_the_accounts_past_fills_and_orders(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()
    await past_trading(helpers, srv.url)
    app = TickwireApp(srv.url, "alice", "sse")
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(
            pilot,
            lambda: "60010.00" in helpers.screen_text(app).split("Fills")[-1],
            what="the past fills on screen",
        )
        fills = [(f.client_order_id, f.price, f.qty, f.liquidity) for f in app.tracker.fills]
        assert fills == [
            ("a-lift", "60010.00", "0.1000", "taker"),
            ("a-rest", "60000.00", "0.4000", "maker"),
        ]
        text = helpers.screen_text(app)
        fills_part = text.split("Fills")[-1]
        assert "no fills yet" not in fills_part
        for price, qty in (("60010.00", "0.1000"), ("60000.00", "0.4000")):
            assert any(price in line and qty in line for line in fills_part.splitlines())
        # the resting order in its final state: partly filled, 0.6 left
        lines = text.split("Open orders", 1)[1].splitlines()[1:]
        orders_part = "\n".join(line.split("││")[0] for line in lines)
        row = next(line for line in orders_part.splitlines() if "a-rest" in line)
        assert "60000.00" in row and "0.6000" in row and "partially_filled" in row
        assert "a-lift" not in orders_part  # filled: not open
        assert app.tracker.orders["a-lift"].status == "filled"
        # the execution stream again (a reconnect resumes): nothing counts twice
        seq = app.tracker.last_exec_seq
        assert seq == 4  # ack and fill of each of alice's orders
        reconnects = app.conn.order_reconnects
        await app.conn.drop_orders()
        await helpers.wait_for(
            pilot,
            lambda: (
                app.conn.order_reconnects > reconnects
                and app.conn.order_state == "live"
                and not app.conn._resuming
            ),
            what="the order socket back",
        )
        assert len(app.tracker.fills) == 2 and app.tracker.last_exec_seq == seq
        assert app.tracker.orders["a-rest"].leaves_qty == "0.6000"
