"""What every drill needs: its context, waits, the wire log, prices and the server's record.

Exports ``DrillContext``, ``DrillError``, ``DrillNotRun``, ``wait_for``, ``logged``, ``next_down``,
``marketable_price``, ``passive_price``, ``position_units``, ``send_order`` and
``traded_once``.

Contract: a drill runs on the app's own ``Connection`` (its loop, its sockets). A step
that cannot happen raises ``DrillError`` (the runner turns it into a FAIL, or NOT RUN
when it never started); the outcome is decided from what the server says over REST, not
from the client's own belief.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from client_tui.connection import Connection
from client_tui.model.market import SymbolMarket
from client_tui.model.timeline import CLIENT, DOWN, SERVER, UP, Outcome, Timeline, describe
from shared.values import to_units

__all__ = [
    "DrillContext", "DrillError", "DrillNotRun", "logged", "marketable_price", "next_down", "passive_price",
    "position_units", "send_order", "traded_once", "wait_for",
]  # fmt: skip

#: Ticks through the best ask a drill's buy is priced at: it trades at once, however the
#: simulated market moves meanwhile.
CROSS_TICKS = 20
_QUIET = frozenset({"ping", "pong"})


class DrillError(Exception):
    """A step of the drill could not happen (timed out, the server answered wrong ...)."""


class DrillNotRun(DrillError):
    """The drill could not start (no book to trade against, not connected ...)."""


@dataclass
class DrillContext:
    """The drill's world: the app's connection (and through it the models), the symbol the
    order drills trade, the timeline, and the timings (short in tests)."""

    conn: Connection
    symbol: str
    timeline: Timeline
    wait_s: float = 8.0
    #: how long a cut order socket stays down in the "drop before send" drill
    hold_s: float = 1.0
    #: the dead-man drill's timeout when the trader has armed none (or a long one)
    deadman_ms: int = 2000
    md_hold_s: float = 0.5
    md_delay_s: float = 0.4
    md_delay_for_s: float = 3.0

    @property
    def market(self) -> SymbolMarket:
        m = self.conn.market.symbols.get(self.symbol)
        if m is None:
            raise DrillNotRun(f"no symbol {self.symbol!r} yet: wait for the market data")
        return m

    def log(self, source: str, text: str) -> None:
        self.timeline.log(source, text)


async def wait_for(pred: Callable[[], Any], what: str, timeout: float = 8.0) -> Any:
    """``pred()``'s first truthy value, checked every 20 ms; ``DrillError`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if loop.time() > deadline:
            raise DrillError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def logged(ctx: DrillContext) -> Iterator[None]:
    """Log every order-socket frame (pings, pongs and market data left out) while inside."""

    def tap(direction: str, msg: dict[str, Any]) -> None:
        kind = str(msg.get("type") or msg.get("op") or "")
        if kind in _QUIET or kind.startswith("md."):
            return
        ctx.log(UP if direction == "up" else DOWN, describe(msg))

    ctx.conn.wire_taps.append(tap)
    try:
        yield
    finally:
        ctx.conn.wire_taps.remove(tap)


def next_down(ctx: DrillContext, pred: Callable[[dict[str, Any]], bool]) -> asyncio.Future[Any]:
    """A future for the next frame read from the order socket that ``pred`` accepts."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def tap(direction: str, msg: dict[str, Any]) -> None:
        if direction == "down" and not fut.done() and pred(msg):
            fut.set_result(msg)

    ctx.conn.wire_taps.append(tap)
    fut.add_done_callback(lambda _: ctx.conn.wire_taps.remove(tap))
    return fut


async def wait_frame(ctx: DrillContext, fut: asyncio.Future[Any], what: str, timeout: float) -> Any:
    """The frame ``fut`` (from ``next_down``) resolves to; ``DrillError`` after ``timeout``."""
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except TimeoutError:
        fut.cancel()
        raise DrillError(f"timed out waiting for {what}") from None


def marketable_price(m: SymbolMarket) -> str:
    """A buy limit ``CROSS_TICKS`` or 0.5 % through the best ask, whichever is more: it
    trades at once even when the client's book lags the engine's by a few moves."""
    if m.best_ask is None:
        raise DrillNotRun(f"no ask in the {m.info.symbol} book to trade against")
    half_percent = -(-m.best_ask // 200)  # ceil(ask / 200), in price units
    ticks = max(CROSS_TICKS, -(-half_percent // m.info.tick))
    return m.info.price(m.best_ask + ticks * m.info.tick)


def passive_price(m: SymbolMarket) -> str:
    """A buy limit about 10 % under the best bid (or ask): it rests."""
    ref = m.best_bid if m.best_bid is not None else m.best_ask
    if ref is None:
        raise DrillNotRun(f"the {m.info.symbol} book is empty: no price to rest at")
    units = ref * 9 // 10
    return m.info.price(max(m.info.tick, units - units % m.info.tick))


async def position_units(ctx: DrillContext, token: str | None = None) -> int:
    """The account's position in the drill's symbol, in quantity units (``GET /api/account``)."""
    body = await ctx.conn.rest_get("/api/account", token)
    for p in body.get("positions", []):
        if p.get("symbol") == ctx.symbol:
            return to_units(str(p.get("qty", "0")), ctx.market.info.qty_decimals)
    return 0


def order_request(ctx: DrillContext, price: str, tif: str) -> dict[str, Any]:
    """A buy of the symbol's smallest quantity, tracked by the ``OrderTracker`` (key first)."""
    m = ctx.market
    return ctx.conn.tracker.new_order(ctx.symbol, "buy", "limit", m.info.qty(m.info.min_qty),
                                      price, tif)  # fmt: skip


async def send_order(ctx: DrillContext, req: dict[str, Any]) -> bool:
    """Hand the request to the connection (it goes now, or after the next resume)."""
    ctx.log(CLIENT, f"order {req['client_order_id']}: buy {req['qty']} {req['symbol']} @ "
                    f"{req['price']} {req['tif'].upper()}")  # fmt: skip
    return await ctx.conn.send(req)


def fill_keys(ctx: DrillContext) -> set[tuple[Any, str]]:
    """(trade id, key) of every fill the client has applied (to tell a drill's own)."""
    return {(f.trade_id, f.client_order_id) for f in ctx.conn.tracker.fills}


async def resend_same_key(ctx: DrillContext, req: dict[str, Any]) -> dict[str, Any]:
    """Send ``order.new`` again with the same key (as a client unsure it went out would) and
    return the server's answer."""
    ctx.log(CLIENT, f"resend order.new with the same key {req['client_order_id']}")
    answer = next_down(ctx, lambda m: m.get("req_id") == "drill-resend")
    if not await ctx.conn.send_extra({**req, "req_id": "drill-resend"}):
        answer.cancel()
        raise DrillError("the order socket is not live: could not resend")
    return dict(await wait_frame(ctx, answer, "the answer to the resend", ctx.wait_s))


async def traded_once(
    ctx: DrillContext, req: dict[str, Any], fills_before: set[tuple[Any, str]], pos_before: int
) -> Outcome:
    """The server's record of ``req``'s key: one order of the quantity asked, its filled
    quantity equal to the fills the client applied (unique trade ids), and the position
    moved by exactly the fills of the drill's window."""
    conn, key = ctx.conn, req["client_order_id"]
    qd = ctx.market.info.qty_decimals
    await wait_for(lambda: conn.orders_live and not conn.tracker.in_flight(),
                   "every request answered", ctx.wait_s)  # fmt: skip
    server = await conn.rest_get(f"/api/orders/{key}")
    ctx.log(SERVER, f"GET /api/orders/{key}: status={server['status']} qty={server['qty']} "
                    f"filled_qty={server['filled_qty']}")  # fmt: skip
    window = [f for f in conn.tracker.fills if (f.trade_id, f.client_order_id) not in fills_before]
    mine = [f for f in window if f.client_order_id == key]
    client_filled = sum(to_units(f.qty, qd) for f in mine)
    expected = sum(
        to_units(f.qty, qd) * (-1 if f.side == "sell" else 1)
        for f in window
        if f.symbol == ctx.symbol
    )
    moved = await position_units(ctx) - pos_before
    info = ctx.market.info
    ctx.log(SERVER, f"GET /api/account: {ctx.symbol} position moved {info.qty(moved)} "
                    f"(the client applied {len(mine)} fill(s) of {key})")  # fmt: skip
    ok = (
        to_units(server["qty"], qd) == to_units(req["qty"], qd)
        and to_units(server["filled_qty"], qd) == client_filled > 0
        and len({f.trade_id for f in mine}) == len(mine)
        and moved == expected
    )
    if ok:
        summary = (f"traded once: one order {key}, filled {server['filled_qty']} in "
                   f"{len(mine)} fill(s), position +{info.qty(moved)}")  # fmt: skip
    else:
        summary = (f"NOT once: server filled {server['filled_qty']}, client applied "
                   f"{info.qty(client_filled)} in {len(mine)} fill(s), position moved "
                   f"{info.qty(moved)}")  # fmt: skip
    return Outcome.check(ok, summary, server_filled=server["filled_qty"], fills=len(mine),
                         moved=info.qty(moved))  # fmt: skip
