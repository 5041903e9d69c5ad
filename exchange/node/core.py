"""One exchange instance as its transports see it: engine, hub, private delivery, tokens,
rate limits, metrics and the REST read models, over a backend.

Exports: ``ExchangeNode``.

``ExchangeNode(settings)`` builds everything over a ``LocalBackend`` (``node/local.py``: its
own journal, sequencer, snapshots and simulator); ``ExchangeNode(settings,
backend=factory)`` takes another one (the cluster gateway's Redis replica). ``await
node.start()`` recovers (the local backend: newest snapshot + journal tail, so the
``state_hash``, the market-data history and its epoch are those of before the stop), then
starts taking commands; ``await node.stop()`` ends every stream and stops the backend. The
gateway reads the node; only the backend's sequencer writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import anyio
import orjson

from exchange.config import Settings
from exchange.engine import Engine, render
from exchange.engine import types as t
from exchange.hub import MarketHub
from exchange.journal import load_or_create
from exchange.node.auth import TokenIssuer
from exchange.node.delivery import PrivateDelivery
from exchange.node.local import LocalBackend, NodeBackend
from exchange.node.metrics import Metrics
from exchange.node.ratelimit import BucketMap, TokenBucket
from exchange.node.recent import RecentMarket
from exchange.sequencer import Origin
from shared.values import format_units, to_units

__all__ = ["ExchangeNode"]

log = logging.getLogger("tickwire.node")


class ExchangeNode:
    """Everything one single-process exchange needs; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        symbols: Sequence[t.SymbolSpec] | None = None,
        clock: Callable[[], int] = time.time_ns,
        simulate: bool | None = None,
        backend: Callable[[ExchangeNode], NodeBackend] | None = None,
        engine_factory: Callable[[], Engine] | None = None,
    ) -> None:
        from exchange.sim.symbols import DEFAULT_SYMBOLS

        self.settings = settings
        self.clock = clock
        all_specs = list(symbols) if symbols is not None else list(DEFAULT_SYMBOLS)
        if settings.symbols:
            by_name = {s.symbol: s for s in all_specs}
            unknown = [s for s in settings.symbols if s not in by_name]
            if unknown:
                raise ValueError(f"unknown symbols: {', '.join(unknown)}")
            all_specs = [by_name[s] for s in settings.symbols]
        self.symbol_specs = all_specs
        self.simulate = settings.sim_rate > 0 if simulate is None else simulate
        self.metrics = Metrics()
        self.metrics.watch_hub(lambda: self.hub)
        self.data_dir = Path(settings.data_dir)
        self.meta = load_or_create(self.data_dir)
        self.issuer = TokenIssuer(self.meta.secret, settings.token_ttl_s)
        self.engine: Any = None
        self.hub: Any = None
        self.delivery = PrivateDelivery(self.render_private)
        self.recent = RecentMarket()  # trades and candles for REST
        self._account_buckets: dict[str, TokenBucket] = {}
        #: Order ops per client address, over all its accounts (REST and WebSocket).
        self.ip_order_buckets = BucketMap(settings.ip_order_rate, settings.ip_order_burst)
        #: New accounts opened per client address (``POST /api/sessions``).
        self.account_create_buckets = BucketMap(
            settings.account_create_rate, settings.account_create_burst
        )
        #: Order sources besides traders and the simulator (replay): each is called as
        #: ``await source(node, stop)`` once the node has started, and must return when
        #: ``stop`` is set; it submits through ``node.submit`` like any trader.
        self.sources: list[Callable[[ExchangeNode, asyncio.Event], Coroutine[Any, Any, None]]] = []
        #: The ``exchange.replay.driver.ReplayDriver`` when this node replays a recording.
        self.replay: Any = None
        self.shutdown_event: anyio.Event | None = None
        self.shutting_down = False
        self.websockets: set[Any] = set()
        #: Transports of open SSE streams (aborted at shutdown if their reader stalled).
        self.stream_transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self._stop_signals: weakref.WeakSet[anyio.Event] = weakref.WeakSet()
        self.recovery_notes: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        #: A fresh engine when there is no snapshot (``None``: one for ``symbol_specs`` and
        #: the settings' fees; a replay passes the recording's).
        self.engine_factory = engine_factory
        self.backend: NodeBackend = (backend or LocalBackend)(self)

    # ------------------------------------------------------------------ lifecycle

    def new_engine(self) -> Any:
        """A fresh engine (``engine_factory``'s, else one for the symbols and fees)."""
        if self.engine_factory is not None:
            return self.engine_factory()
        s = self.settings
        return Engine(
            self.symbol_specs,
            maker_fee_bps=s.maker_fee_bps,
            taker_fee_bps=s.taker_fee_bps,
            exec_history=s.exec_history,
        )

    def hub_runtime(self) -> dict[str, Any]:
        """The hub's delivery settings (not saved in its state: they apply to this run)."""
        s = self.settings
        return {
            "stall_s": s.subscriber_stall_s,
            "keepalive_s": s.sse_heartbeat_s,
        }

    def new_hub(self) -> Any:
        s = self.settings
        return MarketHub(
            self.meta.epoch,
            history_size=s.history_size,
            history_age_ns=int(s.history_age_s * 1e9),
            buffer_events=s.subscriber_buffer,
            **self.hub_runtime(),
        )

    def recover(self) -> None:
        """Build engine and hub from what survived (the backend's ``recover``)."""
        self.backend.recover()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.shutdown_event = anyio.Event()
        await self.backend.start()

    async def stop(self) -> None:
        self.begin_shutdown()
        await self.backend.stop()

    @property
    def journal(self) -> Any:
        """The local backend's journal (None when the node has none)."""
        return getattr(self.backend, "journal", None)

    @property
    def sequencer(self) -> Any:
        """The local backend's sequencer (None when commands go elsewhere)."""
        return getattr(self.backend, "sequencer", None)

    @sequencer.setter
    def sequencer(self, value: Any) -> None:
        self.backend.sequencer = value  # type: ignore[attr-defined]

    def stop_signal(self) -> anyio.Event:
        """An event set when the node shuts down (already set if it has): ends a stream."""
        ev = anyio.Event()
        if self.shutting_down:
            ev.set()
        else:
            self._stop_signals.add(ev)
        return ev

    def begin_shutdown(self) -> None:
        """Stop accepting work and end every stream (the first step of a clean stop)."""
        self.shutting_down = True
        if self.shutdown_event is not None:
            self.shutdown_event.set()
        for ev in list(self._stop_signals):
            ev.set()
        self._stop_signals.clear()
        if self.hub is not None:
            self.hub.close()  # every subscription ends: streams finish, polls answer

    # ------------------------------------------------------------------ commands

    @property
    def pipelined(self) -> bool:
        """``submit_nowait`` is available: order connections pipeline (see ``ws_orders``)."""
        return self.backend.pipelined

    @property
    def failure(self) -> BaseException | None:
        """Why the node refuses every command from now on (a failed journal), or None."""
        return self.backend.failure

    @property
    def queue_depth(self) -> int:
        return self.backend.queue_depth

    async def submit(self, cmd: t.Command, origin: Origin | None = None) -> list[t.Event]:
        return await self.backend.submit(cmd, origin)

    def submit_nowait(
        self, cmd: t.Command, origin: Origin | None = None
    ) -> asyncio.Future[Any] | None:
        """Sequence ``cmd`` without waiting for its group commit or loop turn
        (``Sequencer.submit_nowait``): the replies reach ``origin`` on release; the future
        fails if the journal did."""
        return self.backend.submit_nowait(cmd, origin)

    async def durable(self) -> None:
        """Return once every command accepted so far is confirmed (a read barrier)."""
        await self.backend.durable()

    async def ensure_account(self, account: str) -> None:
        if self.engine.account_view(account) is not None:
            return
        cd = self.engine.cash_decimals
        positions = tuple(
            (sp.symbol, to_units(self.settings.demo_position, sp.qty_decimals))
            for sp in self.symbol_specs
        )
        costs = tuple(
            (symbol, price * qty * self.engine.scale[symbol])
            for symbol, qty in positions
            if (price := self.reference_price(symbol)) is not None
        )
        await self.submit(
            t.OpenAccount(
                account,
                cash=to_units(self.settings.demo_cash, cd),
                positions=positions,
                costs=costs,
            )
        )

    def reference_price(self, symbol: str) -> int | None:
        """The price (units) a demo account's starting inventory is booked at: the last trade,
        else the mid of the book (rounded down to a tick), else None (booked at cost 0)."""
        market = self.engine.markets.get(symbol)
        if market is not None and market.last is not None:
            return market.last
        book = self.engine.books.get(symbol)
        if book is None:
            return None
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return bid if ask is None else ask
        tick = self.engine.specs[symbol].tick_size
        return (bid + ask) // 2 // tick * tick

    def check_account_secret(self, account: str, secret: str | None) -> bool:
        import hmac

        expected = self.settings.extra.get(f"account.{account}")
        return expected is not None and secret is not None and hmac.compare_digest(expected, secret)

    def account_bucket(self, account: str) -> TokenBucket:
        bucket = self._account_buckets.get(account)
        if bucket is None:
            s = self.settings
            bucket = self._account_buckets[account] = TokenBucket(s.account_rate, s.account_burst)
        return bucket

    def released_exec_seq(self, account: str) -> int:
        """The last ``exec_seq`` of ``account`` that clients may have seen (released)."""
        latest: int = self.engine.latest_exec_seq(account)
        for pending in self.backend.unreleased():
            for ev in pending.events:
                seq = getattr(ev, "exec_seq", None)
                if seq is not None and getattr(ev, "account", None) == account:
                    return min(latest, seq - 1)
        return latest

    # ------------------------------------------------------------------ reads and rendering

    def render_private(self, ev: t.Event) -> dict[str, Any]:
        msg: dict[str, Any] = render.render_private(ev, self.engine)
        return msg

    def render_order(self, view: t.OrderView) -> dict[str, Any]:
        msg: dict[str, Any] = render.render_order(view, self.engine)
        return msg

    def symbol_infos(self) -> list[dict[str, Any]]:
        out = []
        for sp in self.symbol_specs:
            out.append(
                {
                    "symbol": sp.symbol,
                    "tick_size": format_units(sp.tick_size, sp.price_decimals),
                    "lot_size": format_units(sp.lot_size, sp.qty_decimals),
                    "min_qty": format_units(sp.min_qty, sp.qty_decimals),
                    "price_decimals": sp.price_decimals,
                    "qty_decimals": sp.qty_decimals,
                }
            )
        return out

    def book_payload(self, symbol: str, depth: int | None) -> bytes:
        """The hub's book (what subscribers have been sent), best ``depth`` levels."""
        ev = self.hub.snapshot_event(symbol)
        if depth is None:
            return bytes(ev.data)
        data = orjson.loads(ev.data)
        data["bids"], data["asks"] = data["bids"][:depth], data["asks"][:depth]
        return orjson.dumps(data)

    def recent_trades(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        return self.recent.trades(symbol, limit)

    def recent_candles(self, symbol: str, interval: str, limit: int) -> list[dict[str, Any]]:
        return self.recent.candles(symbol, interval, limit)

    def account_payload(self, account: str) -> dict[str, Any]:
        view = self.engine.account_view(account)
        if view is None:
            return {"account": account, "balances": {}, "positions": [], "latest_exec_seq": 0}
        msg: dict[str, Any] = render.render_account(view, self.engine)
        msg["latest_exec_seq"] = self.released_exec_seq(account)
        return msg

    # ------------------------------------------------------------------ bookkeeping

    def track_ws(self, ws: Any, delta: int, kind: str = "ws") -> None:
        self.metrics.connections.labels(kind).inc(delta)
        if delta > 0:
            self.websockets.add(ws)
        else:
            self.websockets.discard(ws)

    def note_resume(self, transport: str, sub: Any, resume_from: str | None) -> None:
        if resume_from:
            outcome = "exact" if sub.resume_outcome == "exact" else "reset"
            self.metrics.resume_counter(transport, outcome).inc()
