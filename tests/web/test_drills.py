"""The fault switchboard in the real Chromium against a real server (issue 21, docs/drills.md).

Every drill is run the way a user runs it, by clicking its button in the side sheet, and its
outcome is checked twice: the page's verdict, and the server's own record over REST (one
order per key and the position it made, the throwaway account's double trade, the order the
dead-man's switch cancelled)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.web.conftest import SCREENSHOTS, OpenedPage, login, rest_get, rest_token

DRILL_MS = 30_000


async def run(opened: OpenedPage, name: str, shot: str = "") -> dict[str, Any]:
    """Click the drill's button and wait for its outcome; returns { ok, summary, facts }."""
    await opened.page.click(f'#drills [data-drill="{name}"]')
    await opened.until(
        "() => window.tickwire.drills.running === null && window.tickwire.drills.outcome",
        timeout=DRILL_MS,
    )
    outcome: dict[str, Any] = await opened.js("() => window.tickwire.drills.outcome")
    shown = await opened.page.text_content("#drills [data-drill-outcome]")
    not_run = outcome["facts"].get("refused") or outcome["facts"].get("error")
    assert shown and shown.startswith(
        "PASS" if outcome["ok"] else "NOT RUN" if not_run else "FAIL"
    ), shown
    # the sheet as the user sees it after the drill (docs/img/drills/ holds copies of these)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await opened.page.locator("#drills").screenshot(
        path=str(SCREENSHOTS / f"drill-{shot or name}.png")
    )
    return outcome


async def open_drills(opened: OpenedPage) -> None:
    await opened.page.keyboard.press("d")
    await opened.until("() => !document.getElementById('drills').hidden")


def position(url: str, token: str, symbol: str) -> Decimal:
    account = rest_get(url, "/api/account", token)
    return sum(
        (Decimal(p["qty"]) for p in account["positions"] if p["symbol"] == symbol), Decimal(0)
    )


async def trader_page(srv: Any, open_page: Any, side: str = "bestAsk") -> tuple[OpenedPage, str]:
    """The page on ``srv`` logged in as "trader", once the shown symbol's book has a best
    ask (or ``side``); returns it and the trader's REST token."""
    opened = await open_page(f"{srv.url}/")
    await login(opened, "trader")
    await opened.until(
        f"() => window.tickwire.store.books.get(window.tickwire.ui.symbol)?.{side}()"
    )
    return opened, rest_token(srv.url, "trader")


async def test_order_drills_trade_once_and_the_keyless_resend_twice(
    live_server_factory: Any, open_page: Any
) -> None:
    srv = live_server_factory(drills=True, sim_rate=20.0)
    opened, token = await trader_page(srv, open_page)
    symbol = await opened.js("() => window.tickwire.ui.symbol")
    await open_drills(opened)
    for name in ("drop-before-send", "drop-after-send", "drop-after-fill", "ack-withheld"):
        before = position(srv.url, token, symbol)
        outcome = await run(opened, name)
        assert outcome["ok"], (name, outcome)
        # the server's record: one order of that key, its fills once, the position moved by them
        assert (
            Decimal(outcome["facts"]["serverFilled"]) == Decimal(outcome["facts"]["pageFilled"]) > 0
        )
        moved = position(srv.url, token, symbol) - before
        assert moved == Decimal(outcome["facts"]["positionMoved"]), (name, moved)
        assert moved >= Decimal(outcome["facts"]["serverFilled"]), (name, moved)
    facts = (await run(opened, "drop-after-send"))["facts"]
    assert facts["duplicate"] is True
    text = await opened.page.text_content("#drills [data-drill-timeline]")
    assert text and "duplicate=true" in text and "executions.resume" in text
    # ack withheld: the page reconciled through a resume of the execution stream
    await run(opened, "ack-withheld")
    text = await opened.page.text_content("#drills [data-drill-timeline]")
    assert text and "executions.resume" in text and "drill.set" in text
    # a resting order's withheld ack: nothing follows it, the ack timeout and a retry find it
    resting = await run(opened, "ack-withheld-resting")
    assert resting["ok"] and resting["facts"]["duplicate"] is True, resting
    assert resting["facts"]["waitedMs"] >= 2900 and resting["facts"]["retried"] >= 1
    await opened.until("() => window.tickwire.orders.tracker.openOrders().length === 0")
    assert rest_get(srv.url, "/api/orders", token) == []
    # without a key, the one intended order trades twice, on a throwaway account
    keyless = await run(opened, "no-key")
    assert keyless["ok"] and keyless["facts"]["traded"] == 2, keyless
    assert opened.errors == []
    await opened.page.screenshot(path=str(SCREENSHOTS / "drills-orders.png"))


async def test_ack_withheld_is_refused_without_drills(
    live_server_factory: Any, open_page: Any
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    opened, _token = await trader_page(srv, open_page)
    await open_drills(opened)
    outcome = await run(opened, "ack-withheld", shot="ack-withheld-refused")
    assert not outcome["ok"] and outcome["facts"]["refused"] and "--drills" in outcome["summary"]
    assert (await opened.page.text_content("#drills [data-drill-outcome]") or "").startswith(
        "NOT RUN"
    )


async def test_market_data_drills_on_every_transport(
    live_server_factory: Any, open_page: Any
) -> None:
    srv = live_server_factory(sim_rate=20.0)
    for transport in ("sse", "ws", "poll"):
        opened = await open_page(f"{srv.url}/?transport={transport}")
        await opened.until(
            "() => window.tickwire.store.books.get(window.tickwire.ui.symbol)?.bestBid()"
        )
        await open_drills(opened)
        drop = await run(opened, "md-drop")
        assert drop["ok"] and drop["facts"]["lost"] == 0 and drop["facts"]["doubled"] == 0, (
            transport,
            drop,
        )
        assert drop["facts"]["mode"] == transport and drop["facts"]["checked"] > 0
        dup = await run(opened, "md-duplicate")
        assert dup["ok"] and dup["facts"]["discarded"] == 1, (transport, dup)
        corrupt = await run(opened, "md-corrupt")
        assert corrupt["ok"], (transport, corrupt)
        resyncs = await opened.js(f"() => window.tickwire.feed.stats['{transport}'].resyncs")
        assert resyncs >= 1
        if transport == "sse":
            delay = await run(opened, "md-delay")
            assert delay["ok"], delay
            assert delay["facts"]["during"] - delay["facts"]["before"] >= 300
        assert opened.errors == []
        await opened.page.close()


async def test_deadman_countdown_and_cancel_at_expiry(
    live_server_factory: Any, open_page: Any
) -> None:
    srv = live_server_factory(drills=True, sim_rate=20.0)
    opened, token = await trader_page(srv, open_page, "bestBid")
    page = opened.page
    # armed from the ticket: the countdown is shown and heartbeats keep it from expiring
    await page.fill("#deadman input", "2")
    await page.click("#deadman [data-deadman-arm]")
    await opened.until("() => window.tickwire.orders.deadman()?.timeoutMs === 2000")
    await page.wait_for_timeout(2600)  # longer than the timeout: the pings kept it alive
    count = await page.text_content("#deadman [data-deadman-count]")
    assert count and count.endswith("(heartbeats keep it armed)"), count
    assert await opened.js("() => window.tickwire.orders.deadman().remainingMs") > 0
    await open_drills(opened)
    outcome = await run(opened, "deadman")
    assert outcome["ok"], outcome
    assert outcome["facts"]["reason"] == "deadman" and outcome["facts"]["firedAfter"] >= 1950
    assert rest_get(srv.url, "/api/orders", token) == []  # every open order was cancelled
    # the timeline can be copied (the page falls back to a selected text box without a clipboard)
    await page.click("#drills [data-drill-copy]")
    text = await page.input_value("#drills [data-drill-text]")
    assert text.startswith("tickwire drill: Dead-man") and "outcome: PASS" in text
    assert "reason=deadman" in text
    await page.screenshot(path=str(SCREENSHOTS / "drills-deadman.png"))
    assert opened.errors == []
