"""The client never lies about state: live market data, drops, resume, resync.

A real server runs in the test; faults are injected at the transport (a TCP proxy that cuts
connections) or, for the corrupted delta, in the client's own processing hook.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from itertools import pairwise
from typing import Any

from client_tui.app import TickwireApp
from shared.values import to_units

SYM = "BTC-USD"


def consecutive(ids: list[int]) -> bool:
    return all(b == a + 1 for a, b in pairwise(ids))


async def test_screen_fills_with_live_data(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory(sim_rate=30.0)
    app = TickwireApp(srv.url, "alice", "sse")
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(
            pilot,
            lambda: (
                all(
                    m.trades and m.ticker and m.seq is not None for m in app.market.symbols.values()
                )
                and app.conn.order_state == "live"
                and app.conn.rtt_ms is not None
            ),
            timeout=60,
            what="trades, tickers and books for every symbol",
        )
        await pilot.pause(0.2)
        text = helpers.screen_text(app)
        m = app.market.symbols[SYM]
        assert len(app.market.symbols) >= 2
        for name, sm in app.market.symbols.items():
            assert name in text
            assert sm.ticker is not None
        # the ladder header shows the touch (bid below ask); the tape shows recent trades.
        # (The model may be a frame ahead of the screen, so compare with recent history.)
        touch = re.search(rf"{SYM} (\d+\.\d+) / (\d+\.\d+)", text)
        assert touch is not None and Decimal(touch[1]) < Decimal(touch[2])
        assert any(t["price"] in text for t in list(m.trades)[:10])
        assert "● live" in text and "book ✔ OK" in text and "resync 0" in text
        assert " alice " in text  # the account traded as is on screen (issue 17 #12)
        assert app.market.checksum_ok > 0 and app.market.checksum_bad == 0
        assert "STALE" not in text


async def test_order_socket_killed_with_order_in_flight(
    live_server_factory: Callable[..., Any], proxy_factory: Callable[[int], Any], helpers: Any
) -> None:
    srv = live_server_factory()
    mm = await helpers.login(srv.url, "mm")
    await helpers.rest_order(
        srv.url,
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
        srv.url,
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
    proxy = await proxy_factory(srv.port)
    app = TickwireApp(proxy.url, "alice", "sse", confirm_notional=None)
    app.tracker.prefix = "t-alice"
    app.conn.ping_interval = 3600  # no ping may take the place of the order frame
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(
            pilot,
            lambda: (
                app.conn.order_state == "live"
                and app.market.book_ok(SYM)
                and app.ladders.get(SYM) is not None
                and app.ladders[SYM].cursor is not None
            ),
        )
        await pilot.pause(0.3)  # the first ping has been answered
        proxy.lose_next_order_reply()
        await pilot.press("down", "b", "enter")
        # the order reached the server, its ack was lost with the connection
        await helpers.wait_for(pilot, lambda: proxy.orders_cut == 1, what="the cut")
        await helpers.wait_for(
            pilot,
            lambda: (
                app.conn.order_reconnects >= 1
                and app.conn.order_state == "live"
                and app.tracker.in_flight() == 0
                and app.tracker.orders["t-alice-1"].status == "open"
            ),
            what="reconnect, resume and the re-sent order answered",
        )
        alice = await helpers.login(srv.url, "alice")
        orders = await helpers.server_orders(srv.url, alice)
        assert [o["client_order_id"] for o in orders] == ["t-alice-1"]  # held once
        assert [o.client_order_id for o in app.tracker.open_orders()] == ["t-alice-1"]
        text = helpers.screen_text(app).split("Open orders")[-1]
        assert text.count("t-alice-1") == 1  # the trader sees it exactly once
        # one ack in alice's execution stream: the retry was a duplicate, not a new order
        assert app.tracker.last_exec_seq == 1


async def test_sse_drop_resumes_without_gap(
    live_server_factory: Callable[..., Any], proxy_factory: Callable[[int], Any], helpers: Any
) -> None:
    srv = live_server_factory(sim_rate=30.0)
    proxy = await proxy_factory(srv.port)
    app = TickwireApp(proxy.url, "alice", "sse")
    async with app.run_test(size=(160, 48)) as pilot:
        m = app.market.symbols
        await helpers.wait_for(pilot, lambda: SYM in m and len(m[SYM].trades) >= 3, timeout=60)
        for _ in range(2):
            events_before = app.market.events
            assert proxy.cut_sse() == 1
            await helpers.wait_for(pilot, lambda: app.conn.md_state == "reconnecting")
            await helpers.wait_for(
                pilot,
                lambda n=events_before: app.conn.md_state == "live" and app.market.events > n + 20,
                timeout=60,
                what="resumed stream",
            )
        assert app.conn.md_reconnects == 2
        assert app.market.resyncs == 0 and app.market.resets == 0
        assert app.market.checksum_bad == 0
        # every delta after the drops matched its checksum and the tapes have no hole and
        # no duplicate: resume was exact
        for sm in m.values():
            ids = [int(t["trade_id"]) for t in reversed(sm.trades)]
            assert consecutive(ids), (sm.info.symbol, ids)
            assert sm.seq is not None and sm.compute_checksum() == sm.checksum


async def test_corrupted_delta_triggers_resync(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory(sim_rate=30.0)
    app = TickwireApp(srv.url, "alice", "sse")
    corrupted: list[dict[str, Any]] = []

    def corrupt_once(event: str, data: dict[str, Any]) -> dict[str, Any]:
        # corrupt a level the checksum covers (the 10 best bids): a batched delta also lists
        # deep levels, whose corruption no checksum can see
        if event != "book" or corrupted or not data["bids"]:
            return data
        m = app.market.symbols.get(data["symbol"])
        if m is None or len(m.bids) < 10:
            return data
        tenth = sorted(m.bids, reverse=True)[9]
        pd = m.info.price_decimals
        for i, (price, qty) in enumerate(data["bids"]):
            if to_units(price, pd) > tenth and qty != "0":
                wrong = qty[:-1] + ("1" if qty[-1] != "1" else "2")  # still a valid decimal
                bids = [*data["bids"][:i], [price, wrong], *data["bids"][i + 1 :]]
                bad = {**data, "bids": bids}
                corrupted.append(bad)
                return bad
        return data

    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(pilot, lambda: app.market.checksum_ok > 5, timeout=60)
        app.conn.md_filter = corrupt_once
        await helpers.wait_for(pilot, lambda: app.market.resyncs == 1, timeout=60, what="resync")
        assert app.market.checksum_bad == 1
        sym = corrupted[0]["symbol"]
        # fresh snapshots, then checked deltas again
        ok_before = app.market.checksum_ok
        await helpers.wait_for(
            pilot,
            lambda: app.market.book_ok(sym) and app.market.checksum_ok > ok_before + 5,
            timeout=60,
        )
        assert app.market.resyncs == 1 and app.market.checksum_bad == 1
        await pilot.pause(0.3)
        assert "resync 1" in helpers.screen_text(app)


async def test_a_dead_url_says_it_cannot_be_reached(helpers: Any) -> None:
    """A URL nobody answers used to show only "reconnecting" (issue 17 #12)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = TickwireApp(url, "alice", "sse")
    async with app.run_test(size=(160, 48)) as pilot:
        await helpers.wait_for(
            pilot,
            lambda: f"cannot reach {url}" in helpers.screen_text(app),
            timeout=30,
            what="the cannot-reach banner",
        )
