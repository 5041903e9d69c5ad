"""Market makers: ladders of resting limit orders around the fair value.

Exports ``MakerParams`` and ``MarketMaker``. Internal to ``exchange.sim``.

A maker quotes ``levels`` prices per side on a fixed grid (``step_bps`` apart, aligned to
absolute multiples of the step) starting ``half_spread_bps`` from its inventory-skewed fair
value. When the fair value moves it re-prices only the orders whose grid price fell out of the
ladder (one ``ReplaceOrder`` per grid step moved), so churn follows the price, not the clock.
The side moving away from the other is processed first, so a maker's new bid never meets its
own stale ask (which the engine would cancel as a self-trade).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from exchange.engine.types import CancelOrder, Command, NewOrder, OrderView, ReplaceOrder
from exchange.sim.common import IdSource, SymbolContext
from exchange.sim.view import MarketView

__all__ = ["MakerParams", "MarketMaker"]


@dataclass(frozen=True, slots=True)
class MakerParams:
    half_spread_bps: float
    step_bps: float
    levels: int
    level_notional: float  # mean notional per level, quote currency
    react_rate: float  # reactions per second (each one re-syncs the ladders)
    max_inventory_notional: float = 2_000_000.0  # skew reaches one half-spread here


@dataclass(slots=True)
class _Quote:
    cid: str
    side: str
    price: int
    qty: int


@dataclass(slots=True)
class _Ladder:
    quotes: dict[str, _Quote] = field(default_factory=dict)
    order_ids: dict[str, str] = field(default_factory=dict)  # cid -> engine order id
    last_bid_top: int | None = None


class MarketMaker:
    """One maker account quoting every symbol. Call ``step`` per symbol, feed its fills."""

    def __init__(self, name: str, account: str, params: MakerParams, ids: IdSource) -> None:
        self.name = name
        self.account = account
        self.params = params
        self._ids = ids
        self._ladders: dict[str, _Ladder] = {}
        self.position: dict[str, int] = {}

    def on_accepted(self, order: OrderView) -> None:
        ladder = self._ladders.get(order.symbol)
        if ladder is not None and order.client_order_id in ladder.quotes:
            ladder.order_ids[order.client_order_id] = order.order_id

    def on_fill(self, symbol: str, side: str, qty: int) -> None:
        self.position[symbol] = self.position.get(symbol, 0) + (qty if side == "buy" else -qty)

    def step(
        self, ctx: SymbolContext, dt: float, now_ns: int, view: MarketView, rng: random.Random
    ) -> list[Command]:
        ladder = self._ladders.setdefault(ctx.symbol, _Ladder())
        # React at random times (Poisson clock), always when nothing is quoted yet.
        if ladder.quotes and rng.random() >= 1.0 - math.exp(-self.params.react_rate * dt):
            return []
        out: list[Command] = []
        live = self._sync(ctx, ladder, view, now_ns, out)
        bid_top, ask_top, step = self._targets(ctx)
        moving_up = ladder.last_bid_top is None or bid_top >= ladder.last_bid_top
        ladder.last_bid_top = bid_top
        bids = [bid_top - i * step for i in range(self.params.levels) if bid_top - i * step > 0]
        asks = [ask_top + i * step for i in range(self.params.levels)]
        asks = [p for p in asks if p <= ctx.spec.max_price]
        order = (("sell", asks), ("buy", bids)) if moving_up else (("buy", bids), ("sell", asks))
        for side, prices in order:
            self._requote(ctx, ladder, side, prices, live, now_ns, rng, out)
        return out

    # ------------------------------------------------------------------ internals

    def _sync(
        self, ctx: SymbolContext, ladder: _Ladder, view: MarketView, now_ns: int, out: list[Command]
    ) -> dict[str, OrderView]:
        """Match tracked quotes with the open orders; forget gone ones, cancel unknown ones."""
        opens = list(view.open_orders(self.account, ctx.symbol))
        by_cid = {o.client_order_id: o for o in opens}
        by_oid = {o.order_id: o for o in opens}
        live: dict[str, OrderView] = {}
        quotes: dict[str, _Quote] = {}
        order_ids: dict[str, str] = {}
        matched: set[str] = set()
        for cid, q in ladder.quotes.items():
            o = by_cid.get(cid)
            if o is None and cid in ladder.order_ids:
                o = by_oid.get(ladder.order_ids[cid])
            if o is None or o.order_id in matched:
                continue  # filled or canceled
            # Track the order as the engine has it: a refused replace left the old key and price.
            matched.add(o.order_id)
            q.cid = o.client_order_id
            q.price = q.price if o.price is None else o.price
            quotes[q.cid] = q
            order_ids[q.cid] = o.order_id
            live[q.cid] = o
        ladder.quotes, ladder.order_ids = quotes, order_ids
        for o in opens:  # left over from an earlier run, or lost track of: take it down
            if o.order_id not in matched:
                out.append(CancelOrder(self.account, order_id=o.order_id, ts=now_ns))
        return live

    def _targets(self, ctx: SymbolContext) -> tuple[int, int, int]:
        p = self.params
        step = ctx.grid(p.step_bps)
        half = max(ctx.bps(p.half_spread_bps), ctx.spec.tick_size / 2)
        spec = ctx.spec
        inv_qty = self.position.get(ctx.symbol, 0) / 10**spec.qty_decimals
        inv_notional = inv_qty * ctx.fair / 10**spec.price_decimals
        skew = -half * max(-1.0, min(1.0, inv_notional / p.max_inventory_notional))
        center = ctx.fair + skew
        bid_top = math.floor((center - half) / step) * step
        ask_top = math.ceil((center + half) / step) * step
        if ask_top <= bid_top:
            ask_top = bid_top + step
        return int(bid_top), int(ask_top), step

    def _requote(
        self,
        ctx: SymbolContext,
        ladder: _Ladder,
        side: str,
        prices: list[int],
        live: dict[str, OrderView],
        now_ns: int,
        rng: random.Random,
        out: list[Command],
    ) -> None:
        wanted = set(prices)
        kept: set[int] = set()
        stale: list[_Quote] = []
        for q in ladder.quotes.values():
            if q.side != side:
                continue
            if q.price in wanted and q.price not in kept:
                kept.add(q.price)
            else:
                stale.append(q)
        # Farthest stale order moves first; it goes to the missing price nearest the touch.
        stale.sort(key=lambda q: q.price, reverse=(side == "sell"))
        missing = [p for p in prices if p not in kept]
        for price in missing:
            if stale:
                q = stale.pop(0)
                view = live.get(q.cid)
                cid = self._ids.next(ctx.symbol)
                del ladder.quotes[q.cid]
                old_oid = ladder.order_ids.pop(q.cid, None)
                if view is not None and view.filled_qty == 0:
                    out.append(
                        ReplaceOrder(
                            self.account, cid, q.cid, price=ctx.price_str(price), ts=now_ns
                        )
                    )
                    ladder.quotes[cid] = _Quote(cid, side, price, q.qty)
                    if old_oid is not None:
                        ladder.order_ids[cid] = old_oid
                    continue
                out.append(CancelOrder(self.account, client_order_id=q.cid, ts=now_ns))
                self._new(ctx, ladder, side, price, now_ns, rng, out, cid)
            else:
                self._new(ctx, ladder, side, price, now_ns, rng, out, self._ids.next(ctx.symbol))
        for q in stale:
            del ladder.quotes[q.cid]
            ladder.order_ids.pop(q.cid, None)
            out.append(CancelOrder(self.account, client_order_id=q.cid, ts=now_ns))

    def _new(
        self,
        ctx: SymbolContext,
        ladder: _Ladder,
        side: str,
        price: int,
        now_ns: int,
        rng: random.Random,
        out: list[Command],
        cid: str,
    ) -> None:
        # Deeper levels are bigger; sizes vary so the book does not look machine-made.
        depth = abs(price - ctx.fair) / max(1.0, ctx.bps(1.0))
        notional = self.params.level_notional * (1.0 + 0.3 * depth) * rng.uniform(0.4, 1.6)
        qty = ctx.qty_for_notional(notional)
        ladder.quotes[cid] = _Quote(cid, side, price, qty)
        out.append(
            NewOrder(
                self.account,
                cid,
                ctx.symbol,
                side,
                "limit",
                ctx.qty_str(qty),
                price=ctx.price_str(price),
                tif="gtc",
                ts=now_ns,
            )
        )
