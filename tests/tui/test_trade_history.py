"""The tape and the last price start with the trades printed before the TUI connected
and their candles (``GET /api/trades``, ``/api/candles``): on a quiet market the stream
brings none of them again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from client_tui.app import TickwireApp
from client_tui.connection import Connection
from client_tui.model.market import MarketState
from client_tui.model.orders import OrderTracker, Portfolio
from tests.replay.live import start_replay, write_trades_csv
from tests.tui.test_live_orders import SYM, ready, seed_book
from tests.tui.test_start_history import order

SPEC = {"symbol": SYM, "tick_size": "0.01", "lot_size": "0.0001", "min_qty": "0.0001",
        "price_decimals": 2, "qty_decimals": 4}  # fmt: skip


def trade(tid: int, price: str, symbol: str = SYM) -> dict[str, Any]:
    return {"symbol": symbol, "trade_id": tid, "price": price, "qty": "0.0100",
            "taker_side": "buy", "ts": tid}  # fmt: skip


def test_seed_merges_once_newest_first_and_skips_what_is_not_a_trade() -> None:
    market = MarketState()
    market.load_symbols([SPEC])
    m = market.symbols[SYM]
    assert market.apply("trade", trade(5, "60005.00")) is None  # the stream was first
    added = market.seed_trades(
        SYM,
        [trade(3, "60003.00"), trade(4, "60004.00"), trade(5, "60005.00"),
         trade(9, "1.00", "ETH-USD"), {"trade_id": "x"}, "junk", trade(6, "-1")],
    )  # fmt: skip
    assert added == 2
    assert [t["trade_id"] for t in m.trades] == [5, 4, 3]
    candle = {"symbol": SYM, "interval": "1s", "t": 10, "o": "1.00", "h": "2.00", "l": "1.00",
              "c": "2.00", "v": "0.1", "closed": True}  # fmt: skip
    bad = [{**candle, "t": "x"}, {**candle, "o": "-1"}, {**candle, "interval": "1h"}, None]
    assert market.seed_candles(SYM, "1s", [candle, *bad]) == 1
    assert market.seed_candles(SYM, "1s", [{**candle, "c": "9.00"}]) == 0, "the stream's wins"
    assert market.seed_candles(SYM, "5m", [candle]) == 0
    assert list(m.candles["1s"]) == [10] and m.candles["1s"][10]["c"] == "2.00"
    assert m.last_trade() == 6_000_500
    assert market.seed_trades(SYM, "not a list") == 0
    assert market.seed_trades("NOPE", [trade(1, "1.00")]) == 0
    assert [t["trade_id"] for t in m.trades] == [5, 4, 3]


async def test_a_restarted_tui_shows_the_last_trade_of_a_quiet_market(
    live_server_factory: Callable[..., Any], helpers: Any
) -> None:
    srv = live_server_factory()  # no simulator: nothing trades after the TUI starts
    await seed_book(helpers, srv.url)  # 59990.00 / 60010.00
    bob = await helpers.login(srv.url, "bob")
    await helpers.rest_order(srv.url, bob, order("bob-1", "buy", "0.1000"))  # at 60010.00
    app = TickwireApp(srv.url, "alice", "sse")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, helpers)
        m = app.market.symbols[SYM]
        await helpers.wait_for(pilot, lambda: m.last_trade() == 6_001_000, what="the history")
        assert len(m.trades) == 1 and m.trades[0]["price"] == "60010.00"
        await helpers.wait_for(
            pilot,
            lambda: "60010.00" in helpers.screen_text(app).split("Time & sales", 1)[1],
            what="the trade on the tape",
        )
        # the chart too: the candle of that trade, from GET /api/candles
        await helpers.wait_for(pilot, lambda: len(m.candles["1s"]) == 1, what="the candle")
        assert next(iter(m.candles["1s"].values()))["c"] == "60010.00"
        # (the chart redraws on its next tick, not with the model: wait for it)
        await helpers.wait_for(
            pilot,
            lambda: "waiting for candles" not in helpers.screen_text(app),
            what="the chart drawn from the loaded candle",
        )


async def test_after_a_replay_seek_the_tape_is_loaded_again_from_rest(tmp_path: Path) -> None:
    """A seek clears the tape and candles (they were of another time); the client then
    loads them again from REST, so a seek forward that played through the recording shows
    the trades it played (before, the tape stayed empty until the next trade)."""
    path = write_trades_csv(tmp_path / "trades.csv", 100)
    opts = ("--speed", "max", "--paused", "--checkpoint-every", "500")
    with start_replay([path], tmp_path, *opts) as (srv, driver):
        market = MarketState()
        conn = Connection(srv.url, "watcher", market=market, tracker=OrderTracker(),
                          portfolio=Portfolio(), post=lambda msg: None)  # fmt: skip
        runner = asyncio.create_task(conn.run_market())
        try:
            symbol = driver.source.symbols[0].symbol
            deadline = time.monotonic() + 20
            while market.replay is None and time.monotonic() < deadline:  # a first status
                await asyncio.sleep(0.05)
            assert market.replay is not None, "no replay status reached the client"
            to = driver.source.steps[20].ts  # forward from 0: played through
            async with httpx.AsyncClient(base_url=srv.url) as http:
                r = await http.post("/api/replay", json={"action": "seek", "to": to})
            assert r.status_code == 200
            m = market.symbols[symbol]
            while (market.history_clears == 0 or len(m.trades) < 21) and (
                time.monotonic() < deadline
            ):
                await asyncio.sleep(0.05)
            assert market.history_clears >= 1, "the seek did not clear the tape"
            assert len(m.trades) == 21, [t["trade_id"] for t in m.trades]
            assert [t["trade_id"] for t in m.trades][-1] == 1  # back to the first trade
        finally:
            await conn.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
