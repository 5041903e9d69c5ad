"""The fault drills (issue 21) driven in the real TUI against a real server.

Each drill runs from the drill screen (``F``) on the app's own connections; the outcome the
screen shows is checked, and the test checks the server's record again itself (orders and
positions over REST, with its own HTTP client). Liquidity for the order drills is seeded by
a second account, so marketable orders fill deterministically on a quiet market.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from client_tui.app import TickwireApp
from client_tui.screens.drills import DrillsScreen

SYM = "BTC-USD"
FAST = {"hold_s": 0.5, "deadman_ms": 1000, "md_hold_s": 0.4, "md_delay_s": 0.3,
        "md_delay_for_s": 1.2}  # fmt: skip


async def seed_book(helpers: Any, url: str) -> None:
    mm = await helpers.login(url, "mm")
    for key, side, price in (("mm-bid", "buy", "59990.00"), ("mm-ask", "sell", "60010.00")):
        await helpers.rest_order(url, mm, {"client_order_id": key, "symbol": SYM, "side": side,
                                           "order_type": "limit", "price": price,
                                           "qty": "1.0000"})  # fmt: skip


async def account(url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        resp = await http.get("/api/account", headers={"Authorization": f"Bearer {token}"})
        resp.raise_for_status()
        return dict(resp.json())


def position(acct: dict[str, Any]) -> Decimal:
    return sum((Decimal(p["qty"]) for p in acct["positions"] if p["symbol"] == SYM), Decimal(0))


def make_app(url: str, tmp_path: Path, transport: str = "sse") -> TickwireApp:
    app = TickwireApp(url, "alice", transport, confirm_notional=None, bell=False)
    app.drill_options = dict(FAST)
    app.drill_dir = tmp_path
    app.conn.ack_timeout_s = 0.5
    return app


async def open_drills(pilot: Any, app: TickwireApp, helpers: Any) -> DrillsScreen:
    await helpers.wait_for(
        pilot,
        lambda: app.conn.orders_live and app.market.book_ok(SYM) and app.symbol == SYM,
        timeout=30,
        what="the app live on BTC-USD",
    )
    await pilot.press("F")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DrillsScreen)
    return screen


async def run(pilot: Any, screen: DrillsScreen, name: str, helpers: Any) -> Any:
    assert screen.start(name)
    await helpers.wait_for(pilot, lambda: screen.running is None and screen.timeline.outcome,
                           timeout=30, what=f"the outcome of {name}")  # fmt: skip
    await pilot.pause(0.15)  # one redraw of the screen
    outcome = screen.timeline.outcome
    assert outcome is not None
    return outcome


async def test_order_drills_trade_once_and_the_keyless_one_twice(
    live_server_factory: Callable[..., Any], helpers: Any, tmp_path: Path
) -> None:
    srv = live_server_factory(drills=True)
    await seed_book(helpers, srv.url)
    app = make_app(srv.url, tmp_path)
    alice = await helpers.login(srv.url, "alice")
    start = position(await account(srv.url, alice))  # demo accounts start with holdings
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_drills(pilot, app, helpers)
        for step, name in enumerate(
            ("drop_before_send", "drop_after_send", "drop_after_fill", "ack_lost_fill"), 1
        ):
            outcome = await run(pilot, screen, name, helpers)
            text = screen.timeline.to_text()
            assert outcome.status == "PASS", text
            assert "traded once" in outcome.summary and "duplicate:true" in outcome.summary
            assert "duplicate=true" in text  # the server's answer, on the wire
            # the server's own record, read here: one more min-qty buy each time, no more
            assert position(await account(srv.url, alice)) - start == Decimal("0.0001") * step, text
            shown = helpers.screen_text(app)
            assert "PASS" in shown and "traded once" in shown
        assert app.conn.order_reconnects == 3  # one cut in each drop drill
        assert "exec_seq" in screen.timeline.to_text() and "executions.resume" in text
        keys = [o["client_order_id"] for o in await helpers.server_orders(srv.url, alice)]
        assert keys == []  # all IOC: nothing rests

        outcome = await run(pilot, screen, "no_key", helpers)
        assert outcome.status == "PASS", screen.timeline.to_text()
        assert outcome.facts["traded"] == 2
        demo = await helpers.login(srv.url, outcome.facts["account"])
        assert position(await account(srv.url, demo)) - start == Decimal("0.0002")  # twice
        assert position(await account(srv.url, alice)) - start == Decimal("0.0004")  # untouched

        outcome = await run(pilot, screen, "ack_lost_resting", helpers)
        assert outcome.status == "PASS", screen.timeline.to_text()
        assert app.conn.retried >= 1 and outcome.facts["duplicate"] is True
        await helpers.wait_for(pilot, lambda: not app.conn.tracker.in_flight(), what="cancel")
        assert await helpers.server_orders(srv.url, alice) == []  # the drill cleaned up

        # copy and save
        await pilot.press("y")
        await pilot.press("w")
        await pilot.pause(0.3)
        saved = list(tmp_path.glob("tickwire-drill-ack_lost_resting-*.txt"))
        assert len(saved) == 1
        body = saved[0].read_text()
        assert body.startswith("tickwire drill: Ack lost, order resting")
        assert "outcome: PASS" in body and "wire ↑" in body and "server" in body
        assert app.clipboard == body
        assert "saved to" in helpers.screen_text(app)  # the path follows (wrapped)


async def test_ack_drill_says_how_to_enable_the_hook(
    live_server_factory: Callable[..., Any], helpers: Any, tmp_path: Path
) -> None:
    srv = live_server_factory()  # no --drills
    await seed_book(helpers, srv.url)
    app = make_app(srv.url, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_drills(pilot, app, helpers)
        outcome = await run(pilot, screen, "ack_lost_fill", helpers)
        assert outcome.status == "NOT RUN" and "--drills" in outcome.summary
        assert "NOT RUN" in helpers.screen_text(app)
        alice = await helpers.login(srv.url, "alice")
        orders = await helpers.server_orders(srv.url, alice)
        assert orders == [] and not app.conn.tracker.orders  # nothing was sent


async def test_deadman_cancels_at_expiry_and_the_cancel_comes_by_resume(
    live_server_factory: Callable[..., Any], helpers: Any, tmp_path: Path
) -> None:
    srv = live_server_factory()
    await seed_book(helpers, srv.url)
    app = make_app(srv.url, tmp_path)
    alice = await helpers.login(srv.url, "alice")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_drills(pilot, app, helpers)
        # armed from the screen: the countdown shows, and heartbeats keep it alive
        await pilot.press("a", "2", "enter")
        await helpers.wait_for(pilot, lambda: app.conn.deadman_ms == 2000, what="armed")
        await pilot.pause(2.5)  # longer than the timeout: a live connection is not cancelled
        left = app.conn.deadman_left_s()
        assert left is not None and left > 1.0
        assert "dead-man" in helpers.screen_text(app)
        await pilot.press("a", "backspace", "0", "enter")
        await helpers.wait_for(pilot, lambda: app.conn.deadman_ms == 0, what="disarmed")

        outcome = await run(pilot, screen, "deadman", helpers)
        text = screen.timeline.to_text()
        assert outcome.status == "PASS", text
        assert outcome.facts["reason"] == "deadman"
        assert "reason=deadman" in text and "executions.resume" in text
        assert await helpers.server_orders(srv.url, alice) == []  # every open order cancelled
        key = next(iter(app.conn.tracker.orders))
        assert app.conn.tracker.orders[key].reason == "deadman"
        assert app.conn.deadman_ms == 0  # the drill put the switch back as it was


async def test_market_data_drills_over_sse(
    live_server_factory: Callable[..., Any], helpers: Any, tmp_path: Path
) -> None:
    srv = live_server_factory(sim_rate=30.0)
    app = make_app(srv.url, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_drills(pilot, app, helpers)
        for name in ("md_drop", "md_duplicate", "md_corrupt", "md_delay"):
            outcome = await run(pilot, screen, name, helpers)
            assert outcome.status == "PASS", screen.timeline.to_text()
            if name == "md_drop":
                assert outcome.facts["lost"] == 0 and outcome.facts["doubled"] == 0
                assert outcome.facts["checked"] > 0
            if name == "md_duplicate":
                assert app.conn.md_duplicates == 1
            if name == "md_corrupt":
                assert app.market.resyncs == 1 and app.market.checksum_bad == 1
        assert app.market.checksum_bad == 1  # only the corrupted delta ever failed


async def test_market_data_drop_over_ws_and_poll(
    live_server_factory: Callable[..., Any], helpers: Any, tmp_path: Path
) -> None:
    srv = live_server_factory(sim_rate=30.0)
    for transport in ("ws", "poll"):
        app = make_app(srv.url, tmp_path, transport)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_drills(pilot, app, helpers)
            outcome = await run(pilot, screen, "md_drop", helpers)
            assert outcome.status == "PASS", screen.timeline.to_text()
            assert outcome.facts["mode"] == transport and outcome.facts["lost"] == 0
