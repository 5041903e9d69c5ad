"""The ticket's stop price: its default and the check that mirrors the server's."""

from __future__ import annotations

from client_tui.model.stops import ORDER_TYPES, default_stop, stop_problem


def fmt(units: int) -> str:
    return f"{units / 100:.2f}"


def test_default_stop_is_the_cursor_on_the_accepted_side_else_one_tick_past_the_last() -> None:
    assert ORDER_TYPES == ("limit", "market", "stop", "stop_limit")
    assert default_stop("buy", 10_050, 10_000, 1) == 10_050
    assert default_stop("buy", 9_950, 10_000, 1) == 10_001
    assert default_stop("buy", 10_000, 10_000, 1) == 10_001  # at the last trade: refused
    assert default_stop("sell", 9_950, 10_000, 1) == 9_950
    assert default_stop("sell", 10_050, 10_000, 1) == 9_999
    assert default_stop("sell", None, 10_000, 1) == 9_999
    assert default_stop("buy", 10_050, None, 1) == 10_050  # no trade yet: the cursor
    assert default_stop("buy", None, None, 1) is None


def test_stop_problem_says_what_the_server_says() -> None:
    # exchange.engine.engine.Engine._new_stop: stop <= last (buy) / stop >= last (sell)
    assert stop_problem("buy", 10_001, 10_000, fmt) is None
    assert stop_problem("buy", 10_000, 10_000, fmt) == (
        "a buy stop's stop_price must be above the last trade (100.00)"
    )
    assert stop_problem("sell", 9_999, 10_000, fmt) is None
    assert stop_problem("sell", 10_000, 10_000, fmt) == (
        "a sell stop's stop_price must be below the last trade (100.00)"
    )
    assert stop_problem("buy", 1, None, fmt) is None  # nothing traded: any stop price
