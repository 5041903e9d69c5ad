"""Race mode in Chromium against a real server: one extra stream per transport (WebSocket, SSE,
long poll, WebRTC) beside the live feed, live figures per transport, win shares summing to
100 %, and every race stream (and peer connection) closed on the server when the race stops."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from .conftest import SCREENSHOTS, OpenedPage
from .test_rtc import open_peers, wait_peers

pytestmark = pytest.mark.browser

Opener = Callable[..., Awaitable[OpenedPage]]
LANES = ("ws", "sse", "poll", "rtc")
_GAUGE = re.compile(r'^tickwire_connections\{transport="([a-z_]+)"\} ([0-9.e+-]+)$', re.M)


def open_streams(base_url: str) -> dict[str, float]:
    """The server's open-connection gauges by transport (`/metrics`)."""
    text = httpx.get(f"{base_url}/metrics").text
    return {name: float(value) for name, value in _GAUGE.findall(text)}


async def wait_streams(base_url: str, want: dict[str, float], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        seen = open_streams(base_url)
        if all(seen.get(name, 0.0) == value for name, value in want.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"open streams {seen}, expected {want}")
        await asyncio.sleep(0.1)


async def test_race_runs_every_transport_and_stop_closes_its_streams(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    # The live feed pinned to WebSocket, so the server's gauges tell race streams apart.
    opened = await open_page(f"{srv.url}/?transport=ws")
    await wait_streams(srv.url, {"ws_md": 1, "sse": 0})
    page = opened.page
    assert await page.get_attribute("#race-toggle", "aria-pressed") == "false"
    assert await page.is_hidden("#race")

    await page.click("#race-toggle")
    await opened.until(
        "(lanes) => { const s = window.tickwire.race.snapshot();"
        " return s.contested >= 20 && lanes.every((l) => s.lanes[l].messages > 0"
        " && s.lanes[l].latency.n > 0 && s.lanes[l].state === 'live'); }",
        list(LANES),
        timeout=60_000,  # WebRTC set-up is slow on a loaded machine
    )
    # One extra stream per transport is open on the server (the long poll's request may be
    # between two answers, so it is at most one).
    await wait_streams(srv.url, {"ws_md": 2, "sse": 1})
    assert open_streams(srv.url).get("poll", 0.0) <= 1
    # The race's peer (a busy machine may have a given-up attempt still waiting out its grace).
    assert open_peers(srv.url) >= 1
    assert await page.get_attribute("#race-toggle", "aria-pressed") == "true"

    snap = await opened.js("() => window.tickwire.race.snapshot()")
    assert snap["running"] is True
    total = 0.0
    for lane in LANES:
        s = snap["lanes"][lane]
        assert s["messages"] > 0 and s["bytes"] > 0 and s["bytesPerEvent"] > 0
        assert 0 <= s["latency"]["p50"] <= s["latency"]["p99"], s["latency"]
        assert s["rate"] > 0
        assert s["firstEventMs"] is not None and s["firstEventMs"] >= 0
        assert 0 <= s["share"] <= 100
        total += s["share"]
    assert abs(total - 100) < 1e-6, total
    assert sum(snap["lanes"][lane]["wins"] for lane in LANES) == snap["contested"]
    # The live feed went on undisturbed, on the transport it was pinned to.
    assert await opened.js("() => window.tickwire.feed.current") == "ws"

    # The table shows the same: a row per transport, percentages that add up.
    await opened.until(
        "() => document.querySelectorAll('#race-table tr').length === 4"
        " && [...document.querySelectorAll('#race-table td.share')].every((c) => c.dataset.share !== '')"
    )
    shares = await opened.js(
        "() => [...document.querySelectorAll('#race-table td.share')].map((c) => Number(c.dataset.share))"
    )
    assert abs(sum(shares) - 100) < 0.01, shares
    rows = await opened.js(
        "() => [...document.querySelectorAll('#race-table tr')].map((r) => r.dataset.transport)"
    )
    assert rows == list(LANES)
    # one sentence per lane says what it is; this page is HTTP/1.1, so SSE has its own connection
    notes = await opened.js(
        "() => Object.fromEntries([...document.querySelectorAll('#race [data-race-lanes] li')]"
        ".map((li) => [li.dataset.transport, li.textContent]))"
    )
    assert sorted(notes) == sorted(LANES) and all(notes.values())
    assert notes["sse"].startswith("SSE over HTTP/1.1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#connection").scroll_into_view_if_needed()
    await page.locator("#connection").screenshot(
        path=str(SCREENSHOTS / "race-panel.png"), timeout=60_000
    )
    await page.screenshot(
        path=str(SCREENSHOTS / "race-desktop.png"), full_page=True, timeout=60_000
    )

    # Stop: every race stream closes on the server; the live WebSocket stays.
    await page.click("#race-toggle")
    await wait_streams(srv.url, {"ws_md": 1, "sse": 0, "poll": 0})
    await wait_peers(srv.url, 0)
    stopped = await opened.js("() => window.tickwire.race.snapshot()")
    assert stopped["running"] is False
    assert all(stopped["lanes"][lane]["state"] == "closed" for lane in LANES)
    messages = {lane: stopped["lanes"][lane]["messages"] for lane in LANES}
    # Nothing arrives on a stopped race while the market keeps moving.
    before = await opened.js("() => window.tickwire.store.counters.events")
    await opened.until("(n) => window.tickwire.store.counters.events > n + 20", before)
    after = await opened.js("() => window.tickwire.race.snapshot()")
    assert {lane: after["lanes"][lane]["messages"] for lane in LANES} == messages
    assert await page.get_attribute("#race-toggle", "aria-pressed") == "false"
    assert await page.is_visible("#race"), "the stopped race keeps its figures on screen"
    assert opened.errors == []


async def test_race_started_and_stopped_repeatedly_leaves_no_stream(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened = await open_page(f"{srv.url}/?transport=sse")
    await wait_streams(srv.url, {"sse": 1, "ws_md": 0})
    for _ in range(5):
        await opened.page.click("#race-toggle")
        await opened.until(
            "() => Object.values(window.tickwire.race.snapshot().lanes).every((l) => l.messages > 0)"
        )
        await opened.page.click("#race-toggle")
    await wait_streams(srv.url, {"sse": 1, "ws_md": 0, "poll": 0})
    await wait_peers(srv.url, 0)
    assert opened.errors == []
