"""Order-entry drills: the order socket dropped at three moments, the keyless resend, the
withheld ack (after a fill, and on a resting order) and the dead-man's switch.

Exports the drill coroutines ``drop_before_send``, ``drop_after_send``, ``drop_after_fill``,
``no_key``, ``ack_lost_fill``, ``ack_lost_resting`` and ``deadman``, each
``(ctx) -> Outcome`` (see ``client_tui.drills.base``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from client_tui.drills.base import (
    DrillContext,
    DrillError,
    DrillNotRun,
    fill_keys,
    logged,
    marketable_price,
    next_down,
    order_request,
    passive_price,
    position_units,
    resend_same_key,
    send_order,
    traded_once,
    wait_for,
    wait_frame,
)
from client_tui.model.timeline import CLIENT, DOWN, SERVER, UP, Outcome, describe
from shared.values import to_units

__all__ = [
    "ack_lost_fill", "ack_lost_resting", "deadman", "drop_after_fill", "drop_after_send",
    "drop_before_send", "no_key",
]  # fmt: skip


async def _ready(ctx: DrillContext) -> None:
    try:
        await wait_for(lambda: ctx.conn.orders_live, "the order socket to be live", ctx.wait_s)
    except DrillError as exc:
        raise DrillNotRun(str(exc)) from None


def _answered(ctx: DrillContext, key: str) -> Any:
    order = ctx.conn.tracker.orders.get(key)
    return order if order is not None and order.status != "pending" else None


async def _with_duplicate(ctx: DrillContext, req: dict[str, Any], result: Outcome) -> Outcome:
    """Resend ``req`` with its key; the outcome also needs the server's ``duplicate: true``
    naming the same order."""
    order = ctx.conn.tracker.orders[req["client_order_id"]]
    dup = await resend_same_key(ctx, req)
    same = dup.get("type") == "order.ack" and dup.get("duplicate") is True
    same = same and dup.get("order_id") == order.order_id
    if not same:
        return Outcome.check(False, f"the resend was not a duplicate of the order: {describe(dup)}")
    return Outcome.check(
        result.ok,
        f"{result.summary}; the resend was answered duplicate:true, status {dup.get('status')}",
        **result.facts,
        duplicate=True,
    )


async def drop_before_send(ctx: DrillContext) -> Outcome:
    """Cut, then send while down: the order waits and goes out after the resume."""
    with logged(ctx):
        await _ready(ctx)
        price = marketable_price(ctx.market)
        fills, pos = fill_keys(ctx), await position_units(ctx)
        ctx.conn.cut_orders(ctx.hold_s)
        ctx.log(CLIENT, f"cut the order connection (held down {ctx.hold_s:g} s)")
        req = order_request(ctx, price, "ioc")
        went = await send_order(ctx, req)
        ctx.log(CLIENT, "sent now" if went else "the socket is down: the order waits in the "
                "client, to go out after the reconnect and resume, with its key")  # fmt: skip
        await wait_for(lambda: _answered(ctx, req["client_order_id"]), "the order's answer",
                       ctx.wait_s + ctx.hold_s)  # fmt: skip
        result = await traded_once(ctx, req, fills, pos)
        return await _with_duplicate(ctx, req, result)


async def drop_after_send(ctx: DrillContext) -> Outcome:
    """Send, then cut before the ack is read: the resume tells what happened."""
    with logged(ctx):
        await _ready(ctx)
        price = marketable_price(ctx.market)
        fills, pos = fill_keys(ctx), await position_units(ctx)
        req = order_request(ctx, price, "ioc")
        key = req["client_order_id"]
        ctx.conn.faults.cut_orders_on = lambda m: (
            "lose" if m.get("client_order_id") == key else None
        )
        await send_order(ctx, req)
        await wait_for(lambda: ctx.conn.faults.cut_orders_on is None, "the cut", ctx.wait_s)
        ctx.log(CLIENT, "cut the order connection before the ack was read: did it trade?")
        await wait_for(lambda: _answered(ctx, key), "the order's state after the reconnect",
                       ctx.wait_s)  # fmt: skip
        order = ctx.conn.tracker.orders[key]
        ctx.log(CLIENT, f"the resume told the client: {key} {order.status}")
        result = await traded_once(ctx, req, fills, pos)
        return await _with_duplicate(ctx, req, result)


async def drop_after_fill(ctx: DrillContext) -> Outcome:
    """Cut right after the first fill is applied: the resume must not apply it again."""
    with logged(ctx):
        await _ready(ctx)
        price = marketable_price(ctx.market)
        fills, pos = fill_keys(ctx), await position_units(ctx)
        req = order_request(ctx, price, "ioc")
        key = req["client_order_id"]

        def on_fill(m: dict[str, Any]) -> str | None:
            return (
                "after"
                if m.get("type") == "order.fill" and m.get("client_order_id") == key
                else None
            )

        ctx.conn.faults.cut_orders_on = on_fill
        reconnects = ctx.conn.order_reconnects
        await send_order(ctx, req)
        await wait_for(lambda: ctx.conn.faults.cut_orders_on is None, "the fill", ctx.wait_s)
        ctx.log(CLIENT, "cut the order connection right after the fill")
        await wait_for(lambda: ctx.conn.order_reconnects > reconnects and ctx.conn.orders_live,
                       "the reconnect and resume", ctx.wait_s)  # fmt: skip
        result = await traded_once(ctx, req, fills, pos)
        return await _with_duplicate(ctx, req, result)


async def no_key(ctx: DrillContext) -> Outcome:
    """A client without idempotency on a throwaway account: send, cut, send a new key."""
    conn = ctx.conn
    account = "drill-" + secrets.token_hex(4)
    resp = await conn.http.post("/api/sessions", json={"account": account})
    resp.raise_for_status()
    token = str(resp.json()["token"])
    ctx.log(CLIENT, f"throwaway demo account {account} (yours, {conn.account}, is not touched)")
    m = ctx.market
    price = marketable_price(m)
    qty = m.info.qty(m.info.min_qty)
    before = await position_units(ctx, token)
    keys: list[str] = []
    for attempt in ("first send", "resend after the reconnect"):
        key = f"{account}-{len(keys) + 1}"  # a new key each time: no idempotency
        keys.append(key)
        order = {"op": "order.new", "req_id": len(keys), "client_order_id": key,
                 "symbol": ctx.symbol, "side": "buy", "order_type": "limit", "qty": qty,
                 "price": price, "tif": "ioc", "post_only": False}  # fmt: skip
        async with connect(f"{conn.ws_url}/ws?token={token}", proxy=None) as ws:
            await ws.recv()  # session
            await ws.send(orjson.dumps(order).decode())
            ctx.log(UP, f"{attempt}: {describe(order)}")
            if len(keys) == 1:
                # Wait until the server has it, then drop without reading the answer: this
                # client never learns that its order traded.
                await wait_for_order(ctx, key, token)
                ws.transport.abort()
                ctx.log(CLIENT, "connection dropped before the ack was read: did it trade? "
                        "The client cannot ask by key, so it sends again")  # fmt: skip
            else:
                answer = orjson.loads(await ws.recv())
                ctx.log(DOWN, describe(answer))
    orders = [await conn.rest_get(f"/api/orders/{k}", token) for k in keys]
    for o in orders:
        ctx.log(SERVER, f"GET /api/orders/{o['client_order_id']}: status={o['status']} "
                        f"filled_qty={o['filled_qty']}")  # fmt: skip
    qd = m.info.qty_decimals
    moved = await position_units(ctx, token) - before
    traded = sum(1 for o in orders if to_units(o["filled_qty"], qd) > 0)
    ctx.log(SERVER, f"{account}: {ctx.symbol} position moved {m.info.qty(moved)} (one order "
                    f"was {qty})")  # fmt: skip
    ok = traded == 2 and moved == 2 * m.info.min_qty
    return Outcome.check(
        ok,
        f"without a key the one intended order traded twice: {traded} orders, position "
        f"+{m.info.qty(moved)} (twice {qty})"
        if ok
        else f"expected two trades, saw {traded} (position moved {m.info.qty(moved)})",
        traded=traded,
        moved=m.info.qty(moved),
        account=account,
    )


async def wait_for_order(ctx: DrillContext, key: str, token: str) -> None:
    """Until ``GET /api/orders/{key}`` finds the order (the server has executed it)."""
    deadline = time.monotonic() + ctx.wait_s
    while time.monotonic() < deadline:
        try:
            await ctx.conn.rest_get(f"/api/orders/{key}", token)
            return
        except httpx.HTTPStatusError:
            await asyncio.sleep(0.02)
    raise DrillError(f"the server never held {key}")


async def _arm_withheld_ack(ctx: DrillContext) -> Outcome | None:
    """Ask the server to withhold this connection's next ack; None when armed, else the
    NOT RUN outcome saying why and how to enable it."""
    reply_f = next_down(ctx, lambda m: m.get("req_id") == "drill")
    if not await ctx.conn.send_extra(
        {"op": "drill", "req_id": "drill", "fault": "withhold_ack", "count": 1}
    ):
        reply_f.cancel()
        raise DrillError("the order socket is not live")
    reply = await wait_frame(ctx, reply_f, "the drill op's answer", ctx.wait_s)
    if reply.get("type") != "drill.set":
        ctx.log(CLIENT, "the server refused the fault hook")
        return Outcome.not_run(
            f"the server refused the withheld-ack hook ({reply.get('message', reply)}); "
            "start it with --drills (TICKWIRE_DRILLS=1; `make run` does)",
            refused=True,
        )
    ctx.log(SERVER, "armed: this connection's next ack will be withheld")
    return None


async def ack_lost_fill(ctx: DrillContext) -> Outcome:
    """The server withholds the ack of a marketable order: the fill shows an exec_seq gap
    and the client reconciles by ``executions.resume``; a retry by key is a duplicate."""
    with logged(ctx):
        await _ready(ctx)
        price = marketable_price(ctx.market)
        refused = await _arm_withheld_ack(ctx)
        if refused is not None:
            return refused
        fills, pos = fill_keys(ctx), await position_units(ctx)
        retried = ctx.conn.retried
        resumed = next_down(ctx, lambda m: m.get("type") == "executions.resumed")
        req = order_request(ctx, price, "ioc")
        await send_order(ctx, req)
        await wait_for(lambda: _answered(ctx, req["client_order_id"]),
                       "the order's state (resume or retry)",
                       ctx.wait_s + ctx.conn.ack_timeout_s)  # fmt: skip
        how = (
            "the ack timed out and the retry with the same key was answered"
            if ctx.conn.retried > retried
            else "the fill's exec_seq showed a gap: executions.resume replayed the withheld ack"
        )
        ctx.log(CLIENT, how)
        await wait_frame(ctx, resumed, "executions.resumed", ctx.wait_s)
        result = await traded_once(ctx, req, fills, pos)
        return await _with_duplicate(
            ctx, req, Outcome.check(result.ok, f"{result.summary}; {how}", **result.facts)
        )


async def ack_lost_resting(ctx: DrillContext) -> Outcome:
    """The ack of a resting order is withheld: nothing follows it, so only the ack timeout
    finds out; the retry with the same key is answered ``duplicate: true``."""
    conn = ctx.conn
    with logged(ctx):
        await _ready(ctx)
        price = passive_price(ctx.market)
        refused = await _arm_withheld_ack(ctx)
        if refused is not None:
            return refused
        retried = conn.retried
        req = order_request(ctx, price, "gtc")
        key = req["client_order_id"]
        dup_f = next_down(ctx, lambda m: m.get("type") == "order.ack"
                          and m.get("client_order_id") == key)  # fmt: skip
        sent = time.monotonic()
        await send_order(ctx, req)
        ack = await wait_frame(
            ctx, dup_f, "an answer after the retry", ctx.wait_s + conn.ack_timeout_s
        )
        waited = (time.monotonic() - sent) * 1000
        ctx.log(CLIENT, f"no ack for {waited:.0f} ms (ack timeout {conn.ack_timeout_s:g} s): "
                        f"sent again with the same key ({conn.retried - retried} retry)")  # fmt: skip
        server = await conn.rest_get(f"/api/orders/{key}")
        ctx.log(SERVER, f"GET /api/orders/{key}: status={server['status']} qty={server['qty']}")
        open_now = [o for o in await conn.rest_get("/api/orders") if o["client_order_id"] == key]
        ctx.log(SERVER, f"GET /api/orders: {len(open_now)} open order(s) with key {key}")
        await conn.send(conn.tracker.cancel(key))  # the drill's order does not stay
        ctx.log(CLIENT, f"cancel {key} (the drill leaves nothing on the book)")
        ok = (ack.get("duplicate") is True and conn.retried > retried
              and server["status"] == "open" and len(open_now) == 1
              and ack.get("order_id") == server["order_id"])  # fmt: skip
        return Outcome.check(
            ok,
            f"the ack timed out after {waited:.0f} ms; the retry with the same key was answered "
            "duplicate:true with the original order (one order on the server, then cancelled)"
            if ok
            else f"expected a duplicate answer to a retry: {describe(ack)}, server "
            f"{server['status']}, {len(open_now)} open",
            waited_ms=round(waited),
            duplicate=ack.get("duplicate") is True,
        )


async def deadman(ctx: DrillContext) -> Outcome:
    """A resting order, the switch armed, the socket cut past the timeout: the server cancels
    (reason deadman), and the cancel arrives through the resume after the reconnect."""
    conn = ctx.conn
    with logged(ctx):
        await _ready(ctx)
        previous = conn.deadman_ms
        timeout_ms = previous if 0 < previous <= 10_000 else ctx.deadman_ms
        req = order_request(ctx, passive_price(ctx.market), "gtc")
        key = req["client_order_id"]
        await send_order(ctx, req)
        await wait_for(lambda: (o := _answered(ctx, key)) and o.status == "open",
                       "the resting order's ack", ctx.wait_s)  # fmt: skip
        if previous != timeout_ms:
            set_f = next_down(ctx, lambda m: m.get("type") == "deadman.set")
            await conn.arm_deadman(timeout_ms)
            await wait_frame(ctx, set_f, "deadman.set", ctx.wait_s)
        ctx.log(CLIENT, f"dead-man's switch armed: {timeout_ms} ms; heartbeats (ping every "
                        f"{conn.heartbeat_s():.2f} s) keep it alive while connected")  # fmt: skip
        hold = timeout_ms / 1000 + 1.0
        canceled_f = next_down(ctx, lambda m: m.get("type") == "order.canceled"
                               and m.get("client_order_id") == key)  # fmt: skip
        last_sent = conn.last_sent_mono or time.monotonic()
        last_sent_wall = time.time() - (time.monotonic() - last_sent)
        conn.cut_orders(hold)
        ctx.log(CLIENT, f"cut the order connection and keep it down {hold:g} s: no heartbeat "
                        "reaches the server")  # fmt: skip
        try:
            msg = await wait_frame(ctx, canceled_f, "the cancel", hold + ctx.wait_s)
        finally:
            if previous != timeout_ms:
                await conn.arm_deadman(previous)
        server = await conn.rest_get(f"/api/orders/{key}")
        ctx.log(SERVER, f"GET /api/orders/{key}: status={server['status']}")
        fired = msg.get("ts", 0) / 1e9 - last_sent_wall if msg.get("ts") else None
        if fired is not None:
            ctx.log(SERVER, f"cancelled {fired * 1000:.0f} ms after the last frame the client "
                            f"sent (timeout {timeout_ms} ms)")  # fmt: skip
        ok = (msg.get("reason") == "deadman" and server["status"] == "canceled"
              and (fired is None or fired >= timeout_ms / 1000 - 0.05))  # fmt: skip
        return Outcome.check(
            ok,
            f"the server cancelled {key} (reason deadman) "
            + (f"{fired * 1000:.0f} ms after the last frame; " if fired is not None else "")
            + "the cancel arrived through the resume"
            if ok
            else f"not cancelled by the dead-man's switch: {server['status']} {describe(msg)}",
            reason=msg.get("reason"),
            status=server["status"],
        )
