"""Live, browser: the replay bar appears only on a replaying server and drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from ..conftest import LiveServer  # type: ignore[misc]  # the root conftest
from .conftest import sample
from .live import start_replay

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
AAPL = (
    "lobster-aapl-2012-06-21-level10-subset",
    "AAPL_2012-06-21_34200000_57600000_message_10.csv",
)
WAIT_MS = 20_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.mark.browser
@pytest.mark.data
async def test_replay_bar_buttons_and_scrubber(browser: Browser, tmp_path: Path) -> None:
    path = sample(*AAPL)
    with start_replay([path], tmp_path, "--speed", "1", "--paused") as (srv, driver):
        clock = driver.player.clock
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        gets: list[str] = []
        page.on("request", lambda r: gets.append(r.url) if r.method == "GET" and "/api/replay" in r.url else None)  # fmt: skip
        await page.goto(srv.url + "/")
        bar = page.locator("#replay")
        await bar.wait_for(state="visible", timeout=WAIT_MS)
        assert await page.locator(".replay-toggle").inner_text() == "Resume"
        assert "13:30:00" in await page.locator(".replay-clock").inner_text()
        await page.locator(".replay-toggle").click()
        await page.wait_for_function("!window.tickwire.replay.state.status.paused", timeout=WAIT_MS)
        assert not clock.paused
        await page.locator(".replay-faster").click()
        await page.wait_for_function(
            "window.tickwire.replay.state.status.speed === '2'", timeout=WAIT_MS
        )
        assert clock.speed == 2.0
        await page.locator(".replay-toggle").click()
        await page.wait_for_function("window.tickwire.replay.state.status.paused", timeout=WAIT_MS)
        # the scrubber: set 30 s into the recording and release
        await page.locator(".replay-scrub").fill("30000")
        target = driver.source.start_ns + 30 * 10**9
        await page.wait_for_function(
            "window.tickwire.replay.state.status.clock_iso.includes('13:30:30')", timeout=WAIT_MS
        )
        assert clock.now() == target
        assert "13:30:30" in await page.locator(".replay-clock").inner_text()
        # candles up to 13:30:30 are drawn; a seek back to 13:30:10 redraws the chart from
        # there (it used to drop every candle older than the last one and freeze)
        at_30 = target // 10**9
        await page.wait_for_function(
            f"window.tickwire.chart.state.lastTime >= {at_30 - 5}", timeout=WAIT_MS
        )
        seeks = await page.evaluate("window.tickwire.store.counters.seeks ?? 0")
        await page.locator(".replay-scrub").fill("10000")
        await page.wait_for_function(
            "window.tickwire.replay.state.status.clock_iso.includes('13:30:10')", timeout=WAIT_MS
        )
        at_10 = (driver.source.start_ns + 10 * 10**9) // 10**9
        await page.wait_for_function(
            f"!window.tickwire.chart.state.loading"
            f" && window.tickwire.chart.state.lastTime <= {at_10}",
            timeout=WAIT_MS,
        )
        assert await page.evaluate("window.tickwire.store.counters.seeks") > seeks
        # the tape holds nothing from after the new clock
        newest = await page.evaluate(
            "(window.tickwire.store.trades.get(window.tickwire.ui.symbol) ?? [])[0]?.ts ?? 0"
        )
        assert newest <= driver.source.start_ns + 10 * 10**9
        # the bar followed the stream's status events; GET /api/replay was asked once
        assert await page.evaluate("window.tickwire.replay.state.updates") > 0
        assert len(gets) == 1, gets
        assert errors == []


@pytest.mark.browser
async def test_no_replay_bar_on_a_live_market(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    srv = live_server_factory()
    page = await browser.new_page()
    gets: list[str] = []
    page.on("request", lambda r: gets.append(r.url) if "/api/replay" in r.url else None)
    await page.goto(srv.url + "/")
    await page.wait_for_function("window.tickwire?.replay.state.probes >= 1", timeout=WAIT_MS)
    await page.wait_for_timeout(2500)  # it polled once a second: nothing more now
    assert len(gets) == 1, gets
    assert await page.locator("#replay").is_hidden()


KRAKEN = ("cryptofeed-kraken-book-2021-04-17", "KRAKEN.ws.50.0")


@pytest.mark.browser
@pytest.mark.data
async def test_book_only_recording_says_it_has_no_trades_and_keeps_8_decimals(
    browser: Browser, tmp_path: Path
) -> None:
    path = sample(*KRAKEN)
    with start_replay([path], tmp_path, "--speed", "max", data="k") as (srv, _driver):
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(srv.url + "/?symbol=ADA-XBT")
        await page.wait_for_function(
            "window.tickwire?.store.books.get('ADA-XBT')?.bestBid() != null", timeout=WAIT_MS
        )
        note = "this recording has no trades (book only)"
        await page.wait_for_function(
            f"document.querySelector('#tape').dataset.empty === {note!r}", timeout=WAIT_MS
        )
        assert note in await page.locator("#tape").inner_text()
        await page.wait_for_function(
            f"document.querySelector('#chart-stats').textContent === {note!r}", timeout=WAIT_MS
        )
        # the ladder's Total and the ticket's placeholders are in the symbol's own decimals
        spec = next(
            s for s in httpx.get(srv.url + "/api/symbols").json() if s["symbol"] == "ADA-XBT"
        )
        assert (spec["price_decimals"], spec["qty_decimals"]) == (9, 8)
        totals = [t for t in await page.locator("#book .ladder-row .total").all_inner_texts() if t]
        assert totals and all(len(t.split(".")[1]) == 8 for t in totals), totals
        price_hint = await page.get_attribute("#ticket input[name=price]", "placeholder")
        assert price_hint == "0." + "0" * 9
        assert errors == []
