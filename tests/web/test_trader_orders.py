"""Issue 17 #15 in the browser: modify (order.replace) from the open-orders table, stop and
stop-limit orders through the ticket, and a toast for each fill, against a real server.

The market is quiet (no simulator): only the orders placed here trade, so every price and
every fill is known in advance. Other accounts trade over REST.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .conftest import OpenedPage, login, rest_get, rest_order, rest_token

Opener = Callable[..., Awaitable[OpenedPage]]

BTC = "BTC-USD"


def limit(key: str, side: str, price: str, qty: str, tif: str = "gtc") -> dict[str, Any]:
    return {
        "client_order_id": key,
        "symbol": BTC,
        "side": side,
        "order_type": "limit",
        "price": price,
        "qty": qty,
        "tif": tif,
    }


def trade_at(base_url: str, price: str, tag: str) -> None:
    """Print one trade at ``price``: bob rests a sell, carol takes it."""
    bob, carol = rest_token(base_url, "bob"), rest_token(base_url, "carol")
    made = rest_order(base_url, bob, limit(f"bob-{tag}", "sell", price, "0.0100"))
    assert made.status_code == 201, made.text
    taken = rest_order(base_url, carol, limit(f"carol-{tag}", "buy", price, "0.0100", "ioc"))
    assert taken.status_code == 201, taken.text
    # the ack is the order as accepted; the fill follows in the same command
    assert rest_get(base_url, f"/api/orders/carol-{tag}", carol)["status"] == "filled"


async def test_modify_changes_price_and_qty_in_place_and_keeps_the_order_id(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory()
    opened = await open_page(srv.url + f"/?symbol={BTC}")
    page = opened.page
    await login(opened, "alice")
    alice = rest_token(srv.url, "alice")

    key = await page.text_content("#ticket [data-key]")
    await page.fill("#ticket input[name=price]", "50000.00")
    await page.fill("#ticket input[name=qty]", "0.5000")
    await page.click("#ticket button[name=submit]")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", key
    )
    [before] = rest_get(srv.url, "/api/orders", alice)

    row = page.locator(f'#open-orders tr[data-client-order-id="{key}"]')
    await row.locator("button.modify").click()
    assert await page.is_visible("#ticket [data-modify]")
    assert await page.text_content("#ticket [data-modify-key]") == key
    assert await page.input_value("#ticket input[name=price]") == "50000.00"
    assert await page.is_disabled("#ticket select[name=order_type]")
    # Esc leaves modify mode and sends nothing.
    await page.press("#ticket input[name=price]", "Escape")
    assert not await page.is_visible("#ticket [data-modify]")
    assert rest_get(srv.url, "/api/orders", alice) == [before]

    # Nothing changed: refused in the page, nothing sent.
    await row.locator("button.modify").click()
    await page.press("#ticket input[name=price]", "Enter")
    result = page.locator("#ticket [data-result]")
    await result.filter(has_text="Change the price or the quantity").wait_for()
    assert rest_get(srv.url, "/api/orders", alice) == [before]

    new_key = await page.text_content("#ticket [data-key]")
    await page.fill("#ticket input[name=price]", "50010.00")
    await page.fill("#ticket input[name=qty]", "0.6000")
    await page.press("#ticket input[name=qty]", "Enter")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", new_key
    )
    await result.filter(has_text=f"Replaced {key}").wait_for()
    [after] = rest_get(srv.url, "/api/orders", alice)
    assert after["client_order_id"] == new_key
    assert after["order_id"] == before["order_id"]
    assert (after["price"], after["qty"]) == ("50010.00", "0.6000")
    # One row for the order, under its new key, with the new values.
    assert await page.locator("#open-orders tr[data-client-order-id]").count() == 1
    new_row = page.locator(f'#open-orders tr[data-client-order-id="{new_key}"]')
    cells = await new_row.locator("td").all_text_contents()
    assert "50010.00" in cells and "0.6000" in cells
    await opened.until(
        "() => window.tickwire.store.books.get('BTC-USD').bestBid()?.[0] === '50010.00'"
    )

    # A replace the server refuses (the balance) leaves the order as it was, and says why.
    await new_row.locator("button.modify").click()
    await page.fill("#ticket input[name=qty]", "90000.0000")
    await page.press("#ticket input[name=qty]", "Enter")
    await result.filter(has_text="Modify rejected").wait_for()
    assert "INSUFFICIENT_FUNDS" in (await result.text_content() or "")
    assert rest_get(srv.url, "/api/orders", alice) == [after]
    assert await new_row.is_visible()
    assert opened.errors == []


async def test_stop_order_waits_then_triggers_fills_and_toasts(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory()
    trade_at(srv.url, "60000.00", "t1")  # the last trade the stop rule is measured against
    opened = await open_page(srv.url + f"/?symbol={BTC}")
    page = opened.page
    await login(opened, "alice")
    alice = rest_token(srv.url, "alice")
    # The trade came before the page: its tape and ticker show it all the same.
    await opened.until("() => window.tickwire.store.lastPrice('BTC-USD') === '60000.00'")
    await opened.until(
        "() => document.querySelector('#ticker [data-symbol=\"BTC-USD\"] .tick-last')"
        ".textContent === '60000.00'"
    )
    assert await page.get_attribute("#tape", "data-last-trade-id") is not None

    await page.select_option("#ticket select[name=order_type]", "stop")
    assert await page.is_visible("#ticket input[name=stop_price]")
    assert await page.is_disabled("#ticket input[name=price]")
    assert await page.input_value("#ticket select[name=tif]") == "ioc"
    await page.fill("#ticket input[name=qty]", "0.0100")
    # A buy stop below the last trade would trigger at once: refused in the page.
    await page.fill("#ticket input[name=stop_price]", "59000.00")
    await page.click("#ticket button[name=submit]")
    result = page.locator("#ticket [data-result]")
    await result.filter(has_text="above the last trade (60000.00)").wait_for()
    assert rest_get(srv.url, "/api/orders", alice) == []

    key = await page.text_content("#ticket [data-key]")
    await page.fill("#ticket input[name=stop_price]", "60500.00")
    await page.click("#ticket button[name=submit]")
    row = page.locator(f'#open-orders tr[data-client-order-id="{key}"]')
    await row.wait_for()
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", key
    )
    assert await row.get_attribute("data-stop") == "waiting"
    cells = await row.locator("td").all_text_contents()
    assert "60500.00" in cells and "waiting" in cells and "stop" in cells
    assert await row.locator("button.modify").count() == 0, "the server refuses to replace a stop"
    [waiting] = rest_get(srv.url, "/api/orders", alice)
    assert (waiting["stop_price"], waiting["triggered"]) == ("60500.00", False)
    assert await page.locator("#toasts .toast").count() == 0

    # Liquidity above, then a trade at the stop price: the stop becomes a market buy.
    bob = rest_token(srv.url, "bob")
    ask = rest_order(srv.url, bob, limit("bob-ask", "sell", "60600.00", "0.0100"))
    assert ask.status_code == 201, ask.text
    trade_at(srv.url, "60500.00", "t2")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'filled'", key
    )
    order = await opened.js("(k) => window.tickwire.orders.tracker.orders.get(k)", key)
    assert order["triggered"] is True and order["trigger_price"] == "60500.00"
    toast = page.locator("#toasts .toast")
    await toast.first.wait_for()
    assert await toast.count() == 1
    assert await toast.first.text_content() == "Bought 0.0100 BTC-USD @ 60600.00 · taker"
    assert "buy" in (await toast.first.get_attribute("class") or "")
    await row.wait_for(state="detached")
    assert rest_get(srv.url, f"/api/orders/{key}", alice)["status"] == "filled"

    # A stop-limit takes both prices; a sell stop sits below the last trade (now 60600).
    await page.select_option("#ticket select[name=order_type]", "stop_limit")
    await page.click("#ticket [data-side=sell]")
    assert await page.is_enabled("#ticket input[name=price]")
    sl_key = await page.text_content("#ticket [data-key]")
    await page.fill("#ticket input[name=stop_price]", "59000.00")
    await page.fill("#ticket input[name=price]", "58900.00")
    await page.click("#ticket button[name=submit]")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", sl_key
    )
    [resting] = rest_get(srv.url, "/api/orders", alice)
    assert (resting["order_type"], resting["price"], resting["stop_price"]) == (
        "stop_limit",
        "58900.00",
        "59000.00",
    )

    # Toasts are for fills the trader has not seen: a reload shows the history, no toast.
    await page.reload()
    await opened.until("() => window.tickwire && window.tickwire.orders?.ready")
    await opened.until("() => window.tickwire.orders.tracker.fills.length === 1")
    assert await page.locator("#toasts .toast").count() == 0
    assert opened.errors == []
