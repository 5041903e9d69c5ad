"""The simulated market: market makers, Poisson takers and momentum traders per symbol.

Exports ``SimConfig`` and ``Simulator``.

Contract:

* ``Simulator(symbols, seed, rate)`` is pure logic over ``random.Random(seed)``. Each ``step``
  advances the market model by exactly ``1 / rate`` seconds, whatever the wall clock says,
  so the command stream depends only on the seed, the rate and what the views answer (the
  same engine fed the same commands answers the same): not on timing, load or ``now_ns``,
  which only stamps the commands. It does no I/O and reads no clock.
* ``rate`` is the runner's steps per wall-clock second: the granularity, not the activity.
  At any rate the default market makes about 40 commands and 8 trades a second over the
  three default symbols (``SimConfig`` sets the activity: ``taker_rate``, makers, ...).
* Submit ``setup_commands()`` first (accounts with large balances, and a cancel-all that clears
  orders left by an earlier run), then call ``step(now_ns, view)`` ``rate`` times per second
  and submit what it returns, in order. Feed every event those submissions return to
  ``on_events`` (events for other accounts are ignored; feed each event once).
* Commands are the ones traders send (``OpenAccount``, ``NewOrder``, ``CancelOrder``,
  ``ReplaceOrder``, ``CancelAll``), always well-formed for the symbol (tick/lot grid, valid
  ``client_order_id``); they carry ``ts=now_ns``, which a sequencer may overwrite.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exchange.engine.types import (
    CancelAll,
    Command,
    Event,
    NewOrder,
    OpenAccount,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    SymbolSpec,
)
from exchange.sim.common import IdSource, SymbolContext, poisson
from exchange.sim.market_maker import MakerParams, MarketMaker
from exchange.sim.symbols import DEFAULT_FAIR_VALUES, DEFAULT_SYMBOLS, cash_decimals_for
from exchange.sim.view import MarketView
from shared.values import to_units

__all__ = ["SimConfig", "SimStats", "Simulator"]

#: Maker profiles: a tight small maker, a medium one, a wide deep one.
DEFAULT_MAKERS: tuple[MakerParams, ...] = (
    MakerParams(
        half_spread_bps=0.4, step_bps=0.25, levels=5, level_notional=25_000, react_rate=4.0
    ),
    MakerParams(half_spread_bps=0.9, step_bps=0.6, levels=6, level_notional=60_000, react_rate=2.5),
    MakerParams(
        half_spread_bps=2.0, step_bps=1.5, levels=8, level_notional=150_000, react_rate=1.5
    ),
)


#: After a MARKET_HALTED reject, the agents leave that symbol alone this long (model time).
HALT_BACKOFF_NS = 5 * 10**9


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the simulated market (per symbol unless said otherwise)."""

    vol_bps: float = 0.6  # fair value volatility, bps per sqrt(second)
    jump_rate: float = 1 / 90  # jumps per second
    jump_bps: float = 12.0  # jump size standard deviation, bps
    taker_rate: float = 2.0  # taker arrivals per second
    taker_notional: float = 15_000.0  # mean taker order notional, quote currency
    takers: int = 3  # taker accounts (shared by all symbols)
    momentum_traders: int = 2  # momentum accounts (shared by all symbols)
    momentum_notional: float = 40_000.0
    makers: tuple[MakerParams, ...] = DEFAULT_MAKERS
    account_cash: int = 10**10  # starting cash per agent, whole units of the quote currency
    account_notional: int = 10**10  # starting inventory per agent and symbol, quote currency
    # The agents' idempotency keys (and closed orders) are kept this long, not the engine's
    # day: tens of orders a second would otherwise hold millions of keys in memory and in
    # every snapshot. Their ids never repeat within a run (``IdSource``), so nothing is lost.
    key_ttl_s: float = 120.0


@dataclass(slots=True)
class SimStats:
    """Counters for metrics and tests."""

    steps: int = 0
    commands: int = 0
    fills: int = 0
    rejects: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Momentum:
    account: str
    ids: IdSource
    fast_tau: float
    slow_tau: float
    threshold_bps: float
    fast: dict[str, float] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)
    ready_at: dict[str, int] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)


class Simulator:
    """Agents per symbol making a live market; see the module docstring for the contract."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] = DEFAULT_SYMBOLS,
        seed: int = 0,
        rate: float = 10.0,
        *,
        fair_values: Mapping[str, str] | None = None,
        config: SimConfig | None = None,
        run_id: str = "",
        account_prefix: str = "sim-",
    ) -> None:
        """``rate``: steps per wall-clock second the runner aims for; each is ``1/rate`` s.
        ``fair_values``: starting fair value per symbol as a decimal string (default
        ``DEFAULT_FAIR_VALUES``; a symbol missing there starts at 100). ``run_id`` goes into
        every ``client_order_id``: give each run on the same engine state its own."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.config = config or SimConfig()
        self._rng = random.Random(seed)
        self._cash_decimals = cash_decimals_for(symbols)
        fv = DEFAULT_FAIR_VALUES if fair_values is None else fair_values
        self._symbols: list[SymbolContext] = []
        for spec in symbols:
            start = to_units(fv.get(spec.symbol, "100"), spec.price_decimals)
            self._symbols.append(SymbolContext(spec, float(max(start, spec.tick_size))))
        cfg = self.config
        self.makers = [
            MarketMaker(
                f"mm{i + 1}", f"{account_prefix}mm{i + 1}", p, IdSource(f"mm{i + 1}", run_id)
            )
            for i, p in enumerate(cfg.makers)
        ]
        self.takers = [f"{account_prefix}taker{i + 1}" for i in range(cfg.takers)]
        self._taker_ids = {a: IdSource(f"tk{i + 1}", run_id) for i, a in enumerate(self.takers)}
        self.momentum = [
            _Momentum(
                f"{account_prefix}mom{i + 1}",
                IdSource(f"mom{i + 1}", run_id),
                fast_tau=2.0 + 2.0 * i,
                slow_tau=20.0 + 15.0 * i,
                threshold_bps=1.5 + i,
            )
            for i in range(cfg.momentum_traders)
        ]
        self._makers_by_account = {m.account: m for m in self.makers}
        self._momentum_by_account = {m.account: m for m in self.momentum}
        self.accounts: list[str] = [
            *(m.account for m in self.makers),
            *self.takers,
            *(m.account for m in self.momentum),
        ]
        self._model_ns = 0  # market-model time: tick_seconds per step, never the wall clock
        self._issued: dict[str, str] = {}  # client_order_id -> symbol, this step's commands
        self._halted_until: dict[str, int] = {}
        self.stats = SimStats()

    # ------------------------------------------------------------------ public API

    def fair_value(self, symbol: str) -> float:
        """The current fair value of ``symbol`` in price units (for display and tests)."""
        for ctx in self._symbols:
            if ctx.symbol == symbol:
                return ctx.fair
        raise KeyError(symbol)

    def setup_commands(self, now_ns: int = 0) -> list[Command]:
        """``OpenAccount`` (large cash and inventory) and ``CancelAll`` for every agent.

        The same whenever called (sized at the starting fair values)."""
        cfg = self.config
        cash = cfg.account_cash * 10**self._cash_decimals
        key_ttl = round(cfg.key_ttl_s * 1e9)
        positions = tuple(
            (ctx.symbol, ctx.qty_for_notional(float(cfg.account_notional), ctx.start_fair))
            for ctx in self._symbols
        )
        out: list[Command] = [
            OpenAccount(a, cash=cash, positions=positions, ts=now_ns, key_ttl_ns=key_ttl)
            for a in self.accounts
        ]
        out.extend(CancelAll(a, ts=now_ns) for a in self.accounts)
        return out

    def step(self, now_ns: int, view: MarketView) -> list[Command]:
        """The agents' commands for this instant; submit them in order."""
        cfg = self.config
        dt = 1.0 / self.rate
        self._model_ns += round(dt * 1e9)
        model_ns = self._model_ns
        rng = self._rng
        out: list[Command] = []
        self._issued.clear()
        for ctx in self._symbols:
            ctx.walk(rng, dt, cfg.vol_bps, cfg.jump_rate, cfg.jump_bps)
            if model_ns < self._halted_until.get(ctx.symbol, 0):
                continue  # the venue halted this symbol: sit still, try again later
            first = len(out)
            for mm in self.makers:
                out.extend(mm.step(ctx, dt, now_ns, view, rng))
            bid, ask = view.best_bid_ask(ctx.symbol)
            for _ in range(poisson(rng, cfg.taker_rate * dt)):
                cmd = self._taker_order(ctx, bid, ask, now_ns)
                if cmd is not None:
                    out.append(cmd)
            for mom in self.momentum:
                cmd = self._momentum_order(mom, ctx, bid, ask, dt, now_ns, model_ns)
                if cmd is not None:
                    out.append(cmd)
            for issued in out[first:]:
                key = getattr(issued, "client_order_id", None)
                if key is not None:
                    self._issued[key] = ctx.symbol
        self.stats.steps += 1
        self.stats.commands += len(out)
        return out

    def on_events(self, events: Iterable[Event]) -> None:
        """Learn fills and order ids of the agents' orders; count their rejects. A
        ``MARKET_HALTED`` reject makes the agents leave that symbol alone for a while."""
        for ev in events:
            if isinstance(ev, OrderFilled):
                mm = self._makers_by_account.get(ev.account)
                if mm is not None:
                    mm.on_fill(ev.symbol, ev.side, ev.qty)
                    self.stats.fills += 1
                mom = self._momentum_by_account.get(ev.account)
                if mom is not None:
                    delta = ev.qty if ev.side == "buy" else -ev.qty
                    mom.position[ev.symbol] = mom.position.get(ev.symbol, 0) + delta
                    self.stats.fills += 1
                elif ev.account in self._taker_ids:
                    self.stats.fills += 1
            elif isinstance(ev, OrderAccepted):
                mm = self._makers_by_account.get(ev.account)
                if mm is not None:
                    mm.on_accepted(ev.order)
            elif isinstance(ev, OrderRejected) and (
                ev.account in self._makers_by_account
                or ev.account in self._taker_ids
                or ev.account in self._momentum_by_account
            ):
                self.stats.rejects[ev.code] = self.stats.rejects.get(ev.code, 0) + 1
                symbol = self._issued.get(ev.client_order_id or "")
                if ev.code == "MARKET_HALTED" and symbol is not None:
                    self._halted_until[symbol] = self._model_ns + HALT_BACKOFF_NS

    # ------------------------------------------------------------------ agents

    def _taker_order(
        self, ctx: SymbolContext, bid: int | None, ask: int | None, now_ns: int
    ) -> NewOrder | None:
        """A taker arrives: informed a little (buys more when fair is above the mid)."""
        rng = self._rng
        if not self.takers:
            return None
        lean = 0.0
        if bid is not None and ask is not None:
            mid = (bid + ask) / 2
            lean = 0.35 * math.tanh((ctx.fair - mid) / max(1.0, ctx.bps(2.0)))
        side = "buy" if rng.random() < 0.5 + lean else "sell"
        touch = ask if side == "buy" else bid
        notional = min(
            rng.expovariate(1.0 / self.config.taker_notional), 6 * self.config.taker_notional
        )
        account = self.takers[rng.randrange(len(self.takers))]
        if touch is None:
            return None
        qty = ctx.qty_str(ctx.qty_for_notional(notional))
        cid = self._taker_ids[account].next(ctx.symbol)
        if rng.random() < 0.6:
            return NewOrder(account, cid, ctx.symbol, side, "market", qty, ts=now_ns)
        # A marketable limit IOC a few grid steps through the touch.
        through = rng.randrange(4) * ctx.grid(0.5)
        price = ctx.clamp_price(touch + through if side == "buy" else touch - through)
        return NewOrder(
            account,
            cid,
            ctx.symbol,
            side,
            "limit",
            qty,
            price=ctx.price_str(price),
            tif="ioc",
            ts=now_ns,
        )

    def _momentum_order(
        self,
        mom: _Momentum,
        ctx: SymbolContext,
        bid: int | None,
        ask: int | None,
        dt: float,
        now_ns: int,
        model_ns: int,
    ) -> NewOrder | None:
        """Chase the trend of the mid: buy when the fast average leads the slow one."""
        if bid is None or ask is None:
            return None
        sym = ctx.symbol
        mid = (bid + ask) / 2
        fast = mom.fast.get(sym, mid)
        slow = mom.slow.get(sym, mid)
        fast += (mid - fast) * (1.0 - math.exp(-dt / mom.fast_tau))
        slow += (mid - slow) * (1.0 - math.exp(-dt / mom.slow_tau))
        mom.fast[sym], mom.slow[sym] = fast, slow
        signal = (fast - slow) / slow * 1e4
        if model_ns < mom.ready_at.get(sym, 0) or abs(signal) < mom.threshold_bps:
            return None
        rng = self._rng
        mom.ready_at[sym] = model_ns + int(rng.expovariate(1 / 3.0) * 1e9) + 500_000_000
        notional = self.config.momentum_notional * rng.uniform(0.5, 1.5)
        qty = ctx.qty_for_notional(notional)
        limit = ctx.qty_for_notional(10 * self.config.momentum_notional)
        pos = mom.position.get(sym, 0)
        side = "buy" if signal > 0 else "sell"
        if (side == "buy" and pos + qty > limit) or (side == "sell" and pos - qty < -limit):
            return None
        through = 2 * ctx.grid(0.5)
        price = ctx.clamp_price(ask + through if side == "buy" else bid - through)
        return NewOrder(
            mom.account,
            mom.ids.next(sym),
            sym,
            side,
            "limit",
            ctx.qty_str(qty),
            price=ctx.price_str(price),
            tif="ioc",
            ts=now_ns,
        )
