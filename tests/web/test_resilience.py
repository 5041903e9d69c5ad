"""The browser UI when connections fail: order socket closed with an order in flight,
WebSocket and SSE unavailable (fallback to SSE, then long polling), the force switch, and an
SSE stream killed by a server restart (resume with no gap), prices dimmed while the server is
down and the WebSocket taken again after it restarts, and the session kept across reloads."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, WebSocketRoute

from .conftest import OpenedPage, close_order_sockets, login, rest_get, rest_token

pytestmark = pytest.mark.browser

Opener = Callable[..., Awaitable[OpenedPage]]
ORDER_SOCKET = re.compile(r"/ws\?token=")
# What a browser logs by itself when a transport is refused or a server goes away.
NETWORK_NOISE = ("WebSocket connection to", "Failed to load resource", "net::ERR_", "EventSource")


def only_network_noise(errors: list[str]) -> bool:
    return all(any(noise in e for noise in NETWORK_NOISE) for e in errors)


async def wait_for_server_order(base_url: str, token: str, key: str) -> None:
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for _ in range(500):
            if (await client.get(f"/api/orders/{key}")).status_code == 200:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"server never got order {key}")


async def place_from_ticket(opened: OpenedPage, price: str, qty: str) -> str:
    page = opened.page
    key = await page.text_content("#ticket [data-key]")
    assert key
    await page.fill("#ticket input[name=price]", price)
    await page.fill("#ticket input[name=qty]", qty)
    await page.click("#ticket button[name=submit]")
    return key


async def test_order_socket_closed_with_order_in_flight_is_held_exactly_once(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory()
    token = rest_token(srv.url, "carol")
    sabotage: dict[str, Any] = {"mode": None, "tasks": []}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        holding = {"on": False}

        def from_page(message: str | bytes) -> None:
            if holding["on"]:
                return
            data = json.loads(message)
            mode = sabotage["mode"]
            if data.get("op") != "order.new" or mode is None:
                server.send(message)
                return
            # The order is in flight: from now on nothing reaches the page on this socket.
            sabotage["mode"] = None
            holding["on"] = True
            key = data["client_order_id"]

            async def close_when_ready() -> None:
                if mode == "server-got-it":
                    server.send(message)
                    await wait_for_server_order(srv.url, token, key)
                await close_order_sockets(srv.node)

            sabotage["tasks"].append(asyncio.get_running_loop().create_task(close_when_ready()))

        def from_server(message: str | bytes) -> None:
            if not holding["on"]:
                ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    opened = await open_page(srv.url + "/?symbol=ETH-USD")
    await opened.page.route_web_socket(ORDER_SOCKET, route)
    await login(opened, "carol")

    # 1. The server takes the order, then closes the socket before its ack reaches the page.
    sabotage["mode"] = "server-got-it"
    first = await place_from_ticket(opened, "2000.00", "1.0000")
    await asyncio.gather(*sabotage["tasks"])
    await opened.until("() => window.tickwire.orders.reconnects >= 1")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", first
    )
    assert await opened.js("() => window.tickwire.orders.resent") == 0, (
        "the replayed ack answered it"
    )
    # 2. The socket closes before the order reaches the server: the page re-sends the same key.
    sabotage["mode"] = "lost-on-the-way"
    second = await place_from_ticket(opened, "2001.00", "1.0000")
    await asyncio.gather(*sabotage["tasks"])
    await opened.until("() => window.tickwire.orders.reconnects >= 2")
    await opened.until(
        "(k) => window.tickwire.orders.tracker.orders.get(k)?.status === 'open'", second
    )

    server_orders = rest_get(srv.url, "/api/orders", token)
    assert sorted(o["client_order_id"] for o in server_orders) == sorted([first, second])
    client = await opened.js(
        "() => { const o = window.tickwire.orders; return {reconnects: o.reconnects, resent: o.resent, "
        "n: o.tracker.orders.size, seq: o.tracker.lastExecSeq}; }"
    )
    assert client["reconnects"] >= 2
    assert client["resent"] >= 1, "the lost order was sent again"
    assert client["n"] == 2
    assert client["seq"] == rest_get(srv.url, "/api/account", token)["latest_exec_seq"] == 2
    assert await opened.page.locator("#open-orders tr[data-client-order-id]").count() == 2
    assert only_network_noise(opened.errors), opened.errors


async def test_fallback_to_sse_then_long_polling(
    live_server_factory: Any, open_page: Opener, tmp_path: Path
) -> None:
    no_ws = live_server_factory(sim_rate=20.0, transports=("sse", "poll"), data_dir=tmp_path / "a")
    codings: list[str | None] = []

    async def watch_streams(page: Any) -> None:
        def seen(response: Any) -> None:
            if "/md/stream" in response.url:
                codings.append(response.headers.get("content-encoding"))

        page.on("response", seen)

    opened = await open_page(no_ws.url, setup=watch_streams)
    assert await opened.js("() => window.tickwire.feed.current") == "sse"
    await opened.until("() => window.tickwire.feed.stats.sse.messages > 20")
    # Chromium's EventSource takes the stream gzip-compressed, and the book it builds holds
    assert codings and set(codings) == {"gzip"}, codings
    await opened.until("() => window.tickwire.store.counters.checksumOk > 0")
    book = await opened.js(
        "() => { const b = window.tickwire.store.books.get(window.tickwire.ui.symbol); "
        "return {synced: b.synced, mine: b.checksum(), theirs: b.lastChecksum, "
        "bad: window.tickwire.store.counters.checksumBad}; }"
    )
    assert book["synced"] and book["mine"] == book["theirs"] and book["bad"] == 0, book
    await opened.until("() => document.querySelector('#conn-current').textContent === 'SSE'")
    stats = await opened.js("() => window.tickwire.feed.snapshot().stats")
    assert stats["ws"]["state"] == "failed" and stats["ws"]["messages"] == 0
    assert (
        await opened.page.text_content('#conn-table tr[data-transport="ws"] td.state') == "failed"
    )
    assert only_network_noise(opened.errors), opened.errors
    await opened.page.close()

    poll_only = live_server_factory(sim_rate=20.0, transports=("poll",), data_dir=tmp_path / "b")
    opened = await open_page(poll_only.url)
    assert await opened.js("() => window.tickwire.feed.current") == "poll"
    await opened.until("() => window.tickwire.feed.stats.poll.messages > 20")
    await opened.until("() => document.querySelector('#conn-current').textContent === 'Long poll'")
    stats = await opened.js("() => window.tickwire.feed.snapshot().stats")
    assert stats["ws"]["state"] == "failed" and stats["sse"]["state"] == "failed"
    symbol = await opened.js("() => window.tickwire.ui.symbol")
    assert await opened.js("(s) => window.tickwire.store.books.get(s).synced", symbol)
    assert only_network_noise(opened.errors), opened.errors


async def test_force_switch_resumes_across_transports(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened = await open_page(srv.url)
    await opened.until("() => window.tickwire.feed.stats.ws.messages > 20")
    for mode, label in (
        ("sse", "SSE (forced)"),
        ("poll", "Long poll (forced)"),
        ("ws", "WebSocket (forced)"),
    ):
        await opened.page.click(f'#force input[value="{mode}"]', force=True)
        await opened.until("(m) => window.tickwire.feed.current === m", mode)
        await opened.until("(m) => window.tickwire.feed.stats[m].messages > 10", mode)
        await opened.until(
            "(l) => document.querySelector('#conn-current').textContent === l", label
        )
    counters = await opened.js("() => window.tickwire.store.counters")
    stats = await opened.js("() => window.tickwire.feed.snapshot().stats")
    # Each switch resumed from the last id the previous transport delivered: no reset, no gap.
    assert stats["sse"]["resumes"] == 1 and stats["poll"]["resumes"] == 1
    assert counters["resets"] == 0 and counters["tradeGaps"] == 0 and counters["checksumBad"] == 0
    assert counters["resyncs"] == 0
    assert opened.errors == []


async def test_killed_sse_stream_resumes_with_no_gap(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened = await open_page(srv.url + "/?transport=sse")
    await opened.until("() => (window.tickwire.store.counters.byEvent.trade ?? 0) >= 10")
    before = await opened.js("() => window.tickwire.store.counters.byEvent.trade")
    # Kill the stream: stop the server, start it again on the same port and data directory.
    srv.stop()
    live_server_factory(port=srv.port, data_dir=srv.settings.data_dir, sim_rate=20.0)
    await opened.until("() => window.tickwire.feed.stats.sse.resumes >= 1")
    await opened.until("(n) => window.tickwire.store.counters.byEvent.trade >= n + 10", before)
    counters = await opened.js("() => window.tickwire.store.counters")
    sse = await opened.js("() => window.tickwire.feed.snapshot().stats.sse")
    assert sse["resets"] == 0, "the server had the history: resume must be exact"
    assert counters["resets"] == 0
    assert counters["tradeGaps"] == 0, "a trade id was skipped"
    assert counters["resyncs"] == 0 and counters["checksumBad"] == 0, "the book needed a resync"
    assert only_network_noise(opened.errors), opened.errors


async def test_lost_book_delta_is_detected_and_resynced(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    state: dict[str, Any] = {"books": 0, "dropped": None}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            data = json.loads(message)
            if data.get("type") == "md.book" and data["data"]["symbol"] == "BTC-USD":
                state["books"] += 1
                if state["books"] == 15 and state["dropped"] is None:
                    state["dropped"] = data["data"]["seq"]
                    return  # lost on the way: the next delta does not follow
            ws.send(message)

        server.on_message(from_server)

    async def setup(page: Page) -> None:
        await page.route_web_socket(re.compile(r"/ws/md(\?.*)?$"), route)

    opened = await open_page(srv.url + "/?symbol=BTC-USD&transport=ws", setup=setup)
    await opened.until("() => window.tickwire.store.counters.resyncs >= 1")
    assert state["dropped"] is not None
    # The book was rebuilt from the REST snapshot and follows the stream again.
    await opened.until(
        "(s) => { const b = window.tickwire.store.books.get('BTC-USD'); return b.synced && b.seq > s; }",
        state["dropped"],
    )
    await opened.until(
        "() => { const b = window.tickwire.store.books.get('BTC-USD'); return b.checksum() === b.lastChecksum; }"
    )
    counters = await opened.js("() => window.tickwire.store.counters")
    assert counters["resyncs"] == 1 and counters["checksumBad"] == 0
    assert await opened.js("() => window.tickwire.feed.stats.ws.resyncs") == 1
    await opened.until(
        "() => document.querySelector('#conn-table tr[data-transport=\"ws\"] td:nth-child(11)').textContent === '1'"
    )
    assert opened.errors == []


async def test_server_restart_dims_prices_and_goes_back_to_websocket(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened = await open_page(srv.url)
    await opened.until("() => window.tickwire.feed.current === 'ws'")
    assert not await opened.js("() => document.body.classList.contains('md-down')")
    srv.stop()
    # Down for more than a moment: the prices on the page are dimmed, the panel says so.
    await opened.until("() => document.body.classList.contains('md-down')")
    await opened.until("() => getComputedStyle(document.getElementById('book')).opacity < 0.5")
    await opened.until(
        "() => /down for \\d+ s/.test(document.querySelector('#conn-current').textContent)"
    )
    # Long enough for the WebSocket's own retries to give up: the feed falls back.
    await opened.until("() => window.tickwire.feed.stats.ws.failures >= 4")
    live_server_factory(port=srv.port, data_dir=srv.settings.data_dir, sim_rate=20.0)
    # Back up: the page does not stay on a fallback but tries the WebSocket again (2 s, then
    # doubling), well before the old fixed 30 s.
    await opened.until(
        "() => window.tickwire.feed.current === 'ws' && window.tickwire.feed.upgrades >= 1"
        " || window.tickwire.feed.current === 'ws' && window.tickwire.feed.stats.ws.state === 'live'",
        timeout=15_000,
    )
    await opened.until("() => !document.body.classList.contains('md-down')")
    await opened.until("() => window.tickwire.feed.stats.ws.messages > 5")
    assert only_network_noise(opened.errors), opened.errors


async def test_reload_keeps_the_session_until_it_expires_or_logout(
    live_server_factory: Any, open_page: Opener
) -> None:
    srv = live_server_factory()
    opened = await open_page(srv.url)
    page = opened.page
    await login(opened, "dora")
    stored = await opened.js("() => JSON.parse(localStorage.getItem('tickwire.session'))")
    assert stored["account"] == "dora" and stored["expiresAtMs"] > 0
    await page.reload()
    # No typing: the stored session logs in and the order socket comes up.
    await opened.until(
        "() => window.tickwire && window.tickwire.orders && window.tickwire.orders.ready"
    )
    assert await page.text_content("#login-who") == "dora"
    assert await page.is_hidden("#login-form")
    # Log out: forgotten, and a reload shows the form.
    await page.click("#logout")
    assert await page.is_visible("#login-form")
    assert await opened.js("() => localStorage.getItem('tickwire.session')") is None
    await page.reload()
    await opened.until("() => window.tickwire && window.tickwire.feed.current !== null")
    assert await page.is_visible("#login-form")
    assert await opened.js("() => window.tickwire.orders") is None
    # An expired session or a token the server refuses is not used.
    for session, message in (
        ({"account": "dora", "token": stored["token"], "expiresAtMs": 1000}, ""),
        (
            {"account": "dora", "token": "not-a-token", "expiresAtMs": 9e15},
            "session no longer valid",
        ),
    ):
        await opened.js(
            "(s) => localStorage.setItem('tickwire.session', JSON.stringify(s))", session
        )
        await page.reload()
        await opened.until("() => window.tickwire && window.tickwire.feed.current !== null")
        await page.wait_for_timeout(300)  # the restore's GET /api/account has answered
        assert await page.is_visible("#login-form"), session
        assert await opened.js("() => window.tickwire.orders") is None
        assert message in (await page.text_content("#login-form [data-error]") or "")
        assert await opened.js("() => localStorage.getItem('tickwire.session')") is None
