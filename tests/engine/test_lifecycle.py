"""The order lifecycle transition table: legal moves, and illegal ones raise changing nothing."""

from __future__ import annotations

import pytest

from exchange.engine.errors import IllegalTransition
from exchange.engine.orders import (
    AMEND,
    CANCEL,
    CANCELED,
    FILL,
    FILL_ALL,
    FILLED,
    OPEN,
    PARTIALLY_FILLED,
    TRANSITIONS,
    Order,
)


def make(qty: int = 10) -> Order:
    return Order(1, "a", "c", "BTC-USD", True, "limit", 100, qty, "gtc", False, 0)


def test_table_shape() -> None:
    assert set(TRANSITIONS) == {OPEN, PARTIALLY_FILLED, FILLED, CANCELED}
    assert TRANSITIONS[FILLED] == {} and TRANSITIONS[CANCELED] == {}
    assert TRANSITIONS[OPEN][FILL] == PARTIALLY_FILLED
    assert TRANSITIONS[PARTIALLY_FILLED][FILL_ALL] == FILLED


def test_fills_move_through_states() -> None:
    order = make()
    order.fill(4)
    assert (order.status, order.filled, order.leaves) == (PARTIALLY_FILLED, 4, 6)
    order.transition(AMEND)
    assert order.status == PARTIALLY_FILLED
    order.fill(6)
    assert (order.status, order.filled, order.leaves) == (FILLED, 10, 0)


@pytest.mark.parametrize("event", [FILL, FILL_ALL, CANCEL, AMEND])
@pytest.mark.parametrize("terminal", [FILLED, CANCELED])
def test_terminal_states_refuse_everything(terminal: str, event: str) -> None:
    order = make()
    if terminal == FILLED:
        order.fill(10)
    else:
        order.transition(CANCEL)
    before = order.to_record()
    with pytest.raises(IllegalTransition):
        order.transition(event)
    assert order.to_record() == before


def test_overfill_raises_and_changes_nothing() -> None:
    order = make()
    order.fill(3)
    before = order.to_record()
    with pytest.raises(IllegalTransition):
        order.fill(8)
    with pytest.raises(IllegalTransition):
        order.fill(0)
    assert order.to_record() == before and order.leaves == 7
    order.transition(CANCEL)
    with pytest.raises(IllegalTransition):
        order.fill(1)
    assert order.filled == 3
