"""The ladder (DOM) model: rows, bucketing, touch, cursor and recentering."""

from __future__ import annotations

from client_tui.model.ladder import LadderState, build_ladder, choose_step


def test_rows_are_one_tick_each_with_sizes_and_touch() -> None:
    bids = {9998: 5, 9997: 7}
    asks = {10001: 3, 10003: 9}
    view = build_ladder(bids, asks, center=10000, step=1, rows=7, own_buy={9997: 2})
    assert [r.price for r in view.rows] == [10003, 10002, 10001, 10000, 9999, 9998, 9997]
    by_price = {r.price: r for r in view.rows}
    assert by_price[10001].ask_qty == 3 and by_price[10001].best_ask
    assert by_price[9998].bid_qty == 5 and by_price[9998].best_bid
    assert by_price[9997].own_buy == 2 and by_price[9997].bid_qty == 7
    assert by_price[10002].bid_qty == 0 and by_price[10002].ask_qty == 0
    assert view.spread == 3
    assert view.mid_x2 == 19999  # mid 99.995 stays exact
    assert view.max_qty == 9


def test_bucketing_never_shows_a_better_price_than_rests() -> None:
    bids = {1003: 1, 1001: 2, 998: 4}
    asks = {1007: 1, 1009: 2}
    view = build_ladder(bids, asks, center=1005, step=5, rows=5)
    by_price = {r.price: r for r in view.rows}
    # bids go down to their row, asks up to theirs
    assert by_price[1000].bid_qty == 3 and by_price[1000].best_bid
    assert by_price[995].bid_qty == 4
    assert by_price[1010].ask_qty == 3 and by_price[1010].best_ask
    assert by_price[1005].ask_qty == 0 and by_price[1005].bid_qty == 0
    assert view.spread == 4  # from the real touch, not the rows


def test_choose_step_follows_level_spacing_on_a_1_2_5_grid() -> None:
    assert choose_step({}, {}, 1) == 1
    bids = {60000 - 25 * i: 1 for i in range(10)}
    asks = {60100 + 25 * i: 1 for i in range(10)}
    assert choose_step(bids, asks, 1) == 50
    assert choose_step({10: 1, 9: 1, 8: 1}, {12: 1, 13: 1}, 1) == 1
    assert choose_step({100: 1, 80: 1}, {}, 10) == 20


def test_state_follows_touch_unless_frozen_and_cursor_scrolls() -> None:
    st = LadderState(tick=1, rows=11)
    st.follow(100, 102)
    assert st.center == 101 and st.cursor == 101
    st.follow(101, 103)  # small move: no jitter
    assert st.center == 101
    st.frozen = True
    st.follow(200, 202)
    assert st.center == 101
    st.frozen = False
    st.follow(200, 202)
    assert st.center == 201
    st.move_cursor(-10)
    assert st.cursor == 191 and st.visible(191)
    st.move_cursor(-1)  # past the bottom: the window scrolls with the cursor
    assert st.cursor == 190 and st.visible(190)


def test_step_moves_cursor_on_the_row_grid() -> None:
    st = LadderState(tick=1, step=5, rows=11)
    st.recenter(1003)
    assert st.center == 1000
    st.move_cursor(2)
    assert st.cursor == 1010
