"""The ticket's size: preset steps on the lot grid, a small default, typing, confirmation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from client_tui.app import TickwireApp
from client_tui.model.sizing import default_size, step_size
from client_tui.screens import ConfirmScreen
from client_tui.widgets import OrderTicket

from .test_snapshots import seed


def test_steps_follow_the_lot_on_a_1_2_5_ladder() -> None:
    """Issue 17 #5: ``+``/``-`` stepped by 1 BTC and below 1 jumped to 0.0001, then 1.0001."""
    lot, min_qty = 1, 1  # 0.0001 BTC in units of 4 decimals
    seen = [1]
    for _ in range(7):
        seen.append(step_size(seen[-1], 1, lot, min_qty))
    assert seen == [1, 2, 5, 10, 20, 50, 100, 200]
    assert step_size(200, -3, lot, min_qty) == 20
    assert step_size(1, -1, lot, min_qty) == 1  # never below the smallest
    assert step_size(3, 1, lot, min_qty) == 5 and step_size(3, -1, lot, min_qty) == 2
    # a lot of 5 units and a minimum of 12 units: presets 15, 25, 50, 100, ...
    assert [step_size(0, n, 5, 12) for n in (1, 2, 3, 4)] == [15, 25, 50, 100]
    # default: the largest preset worth at most 1,000 at 60,000 (0.01 BTC = 600)
    assert default_size(1, 1, Decimal("60000"), 4, Decimal("1000")) == 100
    assert default_size(1, 1, None, 4, Decimal("1000")) == 1


async def test_ticket_default_steps_typing_and_one_confirmation(helpers: Any) -> None:
    app = TickwireApp(start_network=False, stale_after_s=1e9)
    async with app.run_test(size=(160, 48)) as pilot:
        seed(app)
        ticket = app.query_one(OrderTicket)
        await helpers.wait_for(pilot, lambda: ticket.qty == "0.0100", what="the default size")
        assert app.confirm_notional == Decimal("10000")
        await pilot.press("plus", "plus")
        assert ticket.qty == "0.0500"
        await pilot.press("minus", "minus", "minus", "minus")
        assert ticket.qty == "0.0020"
        # typed: e, the size, Enter; the keyboard goes back to the ladder
        await pilot.press("e")
        assert app.focused is not None and app.focused.id == "ticket-qty"
        await pilot.press(*"0.2", "enter")  # typing replaces the selected value
        await pilot.pause()
        assert ticket.qty == "0.2" and app.focused is not None and app.focused.id == "ladder"
        assert "0.2" in helpers.screen_text(app).split("Order ticket")[1]
        await pilot.press("E", *"59990.5", "enter")
        await pilot.pause()
        assert ticket.price == "59990.5"
        # 0.2 x 59990.5 = 11,998.10 is above 10,000: one confirmation, then it is sent
        await pilot.press("enter")
        await helpers.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "11,998.10" in helpers.screen_text(app)
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        before = len(app.tracker.orders)
        sent = [o for o in app.tracker.orders.values() if o.price == "59990.5"]
        assert [(o.qty, o.status) for o in sent] == [("0.2", "pending")]
        # off the grid: refused before anything is sent
        await pilot.press("e", *"0.00015", "enter", "enter")
        await pilot.pause()
        assert ticket.last_result == "not sent: size 0.00015 is not a multiple of 0.0001"
        assert len(app.tracker.orders) == before
