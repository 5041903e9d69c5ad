"""The browser UI against a real tickwire server: loading, live data, book checksum, order
entry through the ticket, cancel, fills into positions, and screenshots for review."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    OpenedPage,
    login,
    rest_get,
    rest_order,
    rest_token,
)

pytestmark = pytest.mark.browser

Opener = Callable[..., Awaitable[OpenedPage]]


async def test_page_loads_live_data_and_book_checksum_matches(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened = await open_page(srv.url)
    # Wait for the first market data, then the ticker and the chart must move within 2 s.
    await opened.until("() => (window.tickwire.store.counters.byEvent.ticker ?? 0) > 0")
    before = await opened.js(
        "() => ({ticker: window.tickwire.store.counters.byEvent.ticker, chart: window.tickwire.chart.state.updates})"
    )
    await opened.until(
        "(b) => window.tickwire.store.counters.byEvent.ticker > b.ticker && window.tickwire.chart.state.updates > b.chart",
        before,
        timeout=2000,
    )
    symbol = await opened.js("() => window.tickwire.ui.symbol")
    # The selected symbol shows a last price once its first trade is in (the tickers counted
    # above may all be other symbols' on a loaded machine).
    selector = f'.tick[data-symbol="{symbol}"] .tick-last'
    await opened.until(
        "(sel) => { const t = document.querySelector(sel)?.textContent; return t && t !== '—'; }",
        selector,
        timeout=15000,
    )
    last_text = await opened.page.text_content(selector)
    assert last_text and last_text != "—"

    # Every delta was checked against the server's checksum on arrival...
    book = await opened.js(
        "(s) => { const b = window.tickwire.store.books.get(s); "
        "return {synced: b.synced, mine: b.checksum(), theirs: b.lastChecksum, bad: window.tickwire.store.counters.checksumBad, ok: window.tickwire.store.counters.checksumOk}; }",
        symbol,
    )
    assert book["synced"] and book["mine"] == book["theirs"]
    assert book["bad"] == 0 and book["ok"] > 0
    # ...and the page's book equals the server's REST snapshot at the same seq.
    matched = False
    for _ in range(50):
        rest = rest_get(srv.url, f"/api/book/{symbol}")
        page_book = await opened.js(
            "(s) => { const b = window.tickwire.store.books.get(s); return {seq: b.seq, crc: b.checksum()}; }",
            symbol,
        )
        if page_book["seq"] < rest["seq"]:
            try:
                await opened.until(
                    "(a) => window.tickwire.store.books.get(a[0]).seq >= a[1]",
                    [symbol, rest["seq"]],
                    timeout=2000,
                )
            except Exception:
                continue
            page_book = await opened.js(
                "(s) => { const b = window.tickwire.store.books.get(s); return {seq: b.seq, crc: b.checksum()}; }",
                symbol,
            )
        if page_book["seq"] == rest["seq"]:
            assert page_book["crc"] == rest["checksum"]
            matched = True
            break
    assert matched, "never caught the page and the server at the same book seq"
    assert opened.errors == []


async def test_ticket_order_cancel_fill_and_positions(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory()  # quiet market: only our orders move the book
    opened = await open_page(srv.url + "/?symbol=BTC-USD")
    page = opened.page
    await login(opened, "alice")
    alice = rest_token(srv.url, "alice")

    # A limit buy through the ticket: the key shown is the key the server holds.
    key = await page.text_content("#ticket [data-key]")
    await page.select_option("#ticket select[name=order_type]", "limit")
    await page.fill("#ticket input[name=price]", "50000.00")
    await page.fill("#ticket input[name=qty]", "0.5000")
    await page.click("#ticket button[name=submit]")
    row = page.locator(f'#open-orders tr[data-client-order-id="{key}"]')
    await row.wait_for()
    await opened.until("(k) => window.tickwire.orders.tracker.orders.get(k).status === 'open'", key)
    server_orders = rest_get(srv.url, "/api/orders", alice)
    assert [o["client_order_id"] for o in server_orders] == [key]
    assert server_orders[0]["price"] == "50000.00" and server_orders[0]["side"] == "buy"
    # The order rests on the book, and the page's book checksum is the server's.
    await opened.until(
        "() => window.tickwire.store.books.get('BTC-USD').bestBid()?.[0] === '50000.00'"
    )
    rest_book = rest_get(srv.url, "/api/book/BTC-USD")
    assert await opened.js("() => window.tickwire.checksum('BTC-USD')") == rest_book["checksum"]
    assert "50000.00" in (await page.text_content("#book") or "")

    # Cancel from the open-orders table.
    await row.locator("button.cancel").click()
    await row.wait_for(state="detached")
    assert rest_get(srv.url, "/api/orders", alice) == []
    assert rest_get(srv.url, f"/api/orders/{key}", alice)["status"] == "canceled"

    # A quantity off the lot grid is caught in the page: nothing is sent, the key is kept.
    result = page.locator("#ticket [data-result]")
    kept = await page.text_content("#ticket [data-key]")
    await page.fill("#ticket input[name=qty]", "0.00001")
    await page.click("#ticket button[name=submit]")
    await result.filter(has_text="Not sent").wait_for()
    assert "[INVALID_QTY]" in (await result.text_content() or "")
    assert await page.text_content("#ticket [data-key]") == kept
    assert await opened.js("() => window.tickwire.orders.tracker.orders.size") == 1
    # What only the server knows (the balance) comes back as its reject, in words.
    await page.fill("#ticket input[name=qty]", "90000.0000")
    await page.click("#ticket button[name=submit]")
    await result.filter(has_text="INSUFFICIENT_FUNDS").wait_for()
    assert "Not enough balance" in (await result.text_content() or "")
    assert rest_get(srv.url, "/api/orders", alice) == []

    # A resting sell from the page, taken by bob over REST: the fill reaches fills and positions.
    await page.click("#ticket [data-side=sell]")
    await page.fill("#ticket input[name=price]", "60000.00")
    await page.fill("#ticket input[name=qty]", "0.2500")
    sell_key = await page.text_content("#ticket [data-key]")
    await page.click("#ticket button[name=submit]")
    await page.locator(f'#open-orders tr[data-client-order-id="{sell_key}"]').wait_for()
    await page.click("[data-tab=positions]")
    await opened.until(
        "() => document.querySelector('#positions tr[data-symbol=\"BTC-USD\"]') !== null"
    )
    qty_before = await page.text_content('#positions tr[data-symbol="BTC-USD"] td:nth-child(2)')
    bob = rest_token(srv.url, "bob")
    taken = rest_order(
        srv.url,
        bob,
        {
            "client_order_id": "bob-take-1",
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "limit",
            "price": "60000.00",
            "qty": "0.2500",
            "tif": "ioc",
        },
    )
    assert taken.status_code == 201, taken.text
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k).status === 'filled'", sell_key
    )
    await opened.until("() => window.tickwire.orders.tracker.fills.length === 1")
    assert await page.text_content("#count-fills") == "1"
    account = rest_get(srv.url, "/api/account", alice)
    btc = next(p for p in account["positions"] if p["symbol"] == "BTC-USD")
    assert btc["qty"] == "99.7500" and qty_before == "100.0000"
    await opened.until(
        "() => document.querySelector('#positions tr[data-symbol=\"BTC-USD\"] td:nth-child(2)').textContent === '99.7500'"
    )
    realized = await page.text_content('#positions tr[data-symbol="BTC-USD"] td:nth-child(6)')
    assert realized == btc["realized_pnl"]
    assert (await page.text_content("#pnl-total") or "").startswith("P&L")
    assert opened.errors == []


async def test_screenshots_desktop_and_phone(live_server_factory: Any, open_page: Opener) -> None:
    srv = live_server_factory(sim_rate=20.0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        opened = await open_page(srv.url, viewport)
        await login(opened, f"viewer-{name}")
        # Let the tape, the chart and the panel fill in before the picture.
        await opened.until("() => (window.tickwire.store.counters.byEvent.trade ?? 0) >= 20")
        await opened.until("() => window.tickwire.chart.state.updates >= 10")
        path = SCREENSHOTS / f"web-{name}.png"
        await opened.page.screenshot(path=str(path), full_page=name == "phone")
        assert path.stat().st_size > 10_000
        assert opened.errors == []
        await opened.page.close()


async def test_keyboard_shortcuts_and_chart_interval(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory()
    opened = await open_page(srv.url + "/?symbol=SOL-USD")
    page = opened.page
    await login(opened, "dave")
    dave = rest_token(srv.url, "dave")
    await page.fill("#ticket input[name=price]", "100.000")
    await page.fill("#ticket input[name=qty]", "2.00")
    await page.locator("body").click(position={"x": 5, "y": 5})  # shortcuts are off while typing
    first = await page.text_content("#ticket [data-key]")
    await page.keyboard.press("b")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", first
    )
    second = await page.text_content("#ticket [data-key]")
    await page.fill("#ticket input[name=price]", "200.000")
    await page.locator("body").click(position={"x": 5, "y": 5})
    await page.keyboard.press("s")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", second
    )
    sides = {o["client_order_id"]: o["side"] for o in rest_get(srv.url, "/api/orders", dave)}
    assert sides == {first: "buy", second: "sell"}
    await page.keyboard.press("c")  # cancels the newest open order
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k).status === 'canceled'", second
    )
    assert [o["client_order_id"] for o in rest_get(srv.url, "/api/orders", dave)] == [first]
    await page.keyboard.press("x")  # cancels everything
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k).status === 'canceled'", first
    )
    assert rest_get(srv.url, "/api/orders", dave) == []
    # The chart switches to 1-minute candles and loads their history.
    await page.click("#interval [data-interval='1m']")
    await opened.until(
        "() => window.tickwire.chart.state.interval === '1m' && !window.tickwire.chart.state.loading"
    )
    await page.keyboard.press("2")  # the second symbol
    await opened.until("() => window.tickwire.ui.symbol === 'ETH-USD'")
    assert await page.text_content("#chart-title") == "ETH-USD"
    assert opened.errors == []


async def test_an_unknown_transport_in_the_url_is_said_so(
    live_server_factory: Any, open_page: Opener
) -> None:
    """``?transport=bogus`` used to become WebSocket without a word (issue 17 #9)."""
    srv = live_server_factory(sim_rate=5.0)
    opened = await open_page(srv.url + "/?transport=bogus")
    await opened.until("() => !document.querySelector('#url-notice').hidden")
    note = await opened.js("() => document.querySelector('#url-notice').textContent")
    assert 'unknown transport "bogus"' in note and "ws, sse, poll" in note
    assert await opened.js("() => window.tickwire.feed.forced") is None
    await opened.until("() => window.tickwire.feed.current !== null")
    good = await open_page(srv.url + "/?transport=poll")
    await good.until("() => window.tickwire.feed.current === 'poll'")
    assert await good.js("() => document.querySelector('#url-notice').hidden") is True


async def test_desktop_layout_fits_1600x1000_and_depth_clips_a_far_order(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened = await open_page(srv.url + "/?symbol=BTC-USD", {"width": 1600, "height": 1000})
    page = opened.page
    await login(opened, "layout")
    await page.click("#race-toggle")
    await opened.until("() => document.querySelectorAll('#race-table tr').length >= 3")
    # Nothing below the fold: the page does not scroll, and every panel, the race table's
    # rows and the key footer lie inside the viewport.
    assert await opened.js("() => document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    boxes = await opened.js(
        """() => [...document.querySelectorAll(
              '.panel, .help, #race-table tr, #conn-table tr, #book .ladder-spread')]
            .map((e) => { const r = e.getBoundingClientRect();
                          return [e.className || e.tagName, r.top, r.bottom, r.height]; })"""
    )
    for name, top, bottom, height in boxes:
        assert height > 0 and top >= 0 and bottom <= 1000 + 0.5, (name, top, bottom)
    # The book shows levels on both sides of the spread in the room it has.
    assert await page.locator("#book .ladder-row.buy .price:not(:empty)").count() >= 8
    assert await page.locator("#book .ladder-row.sell .price:not(:empty)").count() >= 8
    await opened.until("() => window.tickwire.depth.hi !== null")
    # One bid far under the market: the depth chart leaves it out instead of squashing
    # the book into a few pixels, and says so.
    token = rest_token(srv.url, "far")
    response = rest_order(
        srv.url,
        token,
        {
            "client_order_id": "far-1",
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "limit",
            "price": "100.00",
            "qty": "0.0100",
        },
    )
    assert response.status_code in (200, 201), response.text
    await opened.until(
        "() => window.tickwire.store.books.get('BTC-USD').levels('bids', 40)"
        ".some(([p]) => p === '100.00')"
    )
    await opened.until("() => window.tickwire.depth.clipped >= 1")
    lo, hi = await opened.js("() => [window.tickwire.depth.lo, window.tickwire.depth.hi]")
    assert lo > 50_000 and hi - lo < 5_000, (lo, hi)
    assert opened.errors == []
