"""The browser UI served by ``tickwire serve --http2``: the page over HTTP/2 and TLS, its
market data live, its order socket (WSS) live and trading."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.gateway.test_h2 import H2Server


async def test_the_page_over_http2(browser: Browser, tmp_path: Path) -> None:
    srv = H2Server(tmp_path / "data")
    try:
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        response = await page.goto(f"{srv.url}/?transport=sse")
        assert response is not None and response.ok
        protocol = await page.evaluate(
            'performance.getEntriesByType("navigation")[0].nextHopProtocol'
        )
        assert protocol == "h2"
        await page.wait_for_function(
            "() => window.tickwire?.feed.current === 'sse'", timeout=20_000
        )
        await page.wait_for_function(
            "() => window.tickwire.store.counters.events > 5", timeout=20_000
        )
        await page.fill("#login-form input[name=account]", "h2-page")
        await page.click("#login-form button[type=submit]")
        await page.wait_for_function("() => window.tickwire.orders?.ready", timeout=20_000)
        await page.fill("#ticket input[name=price]", "1000")
        await page.fill("#ticket input[name=qty]", "0.01")
        await page.click("#ticket button[name=submit]")
        await page.wait_for_function(
            "() => [...window.tickwire.orders.tracker.orders.values()].some((o) => o.status === 'open')",
            timeout=20_000,
        )
        # the race's SSE lane rides this page's HTTP/2 connection, and the page says so
        await page.click("#race-toggle")
        await page.wait_for_function(
            "() => document.querySelector('#race-table tr[data-transport=sse] td')?.textContent === 'SSE (h2)'",
            timeout=20_000,
        )
        note = await page.text_content("#race [data-race-lanes] li[data-transport=sse]")
        assert note and note.startswith("SSE over HTTP/2")
        await page.click("#race-toggle")
        # the page's WebSocket market data over the same server
        await page.goto(f"{srv.url}/?transport=ws")
        await page.wait_for_function("() => window.tickwire?.feed.current === 'ws'", timeout=20_000)
        assert errors == []
        await context.close()
    finally:
        assert srv.stop() == 0
