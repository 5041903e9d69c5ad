"""The tickwire trading terminal: one Textual ``App``.

Exports ``TickwireApp``.

State lives in the pure models (``client_tui.model``) and in reactives; the network runs in
two workers (``Connection.run_market`` / ``run_orders``) that post messages. Message
handlers only mark parts of the screen dirty; a 60 Hz timer redraws the dirty widgets once
per frame, so a burst of market data costs one redraw, not one per event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

from client_tui.connection import Connection
from client_tui.messages import (
    AccountUpdate,
    ConnectionState,
    MarketEvent,
    MarketReset,
    OrderUpdate,
    PingResult,
    SymbolsLoaded,
    TradesLoaded,
)
from client_tui.model.ladder import LadderState, choose_step
from client_tui.model.market import MarketState
from client_tui.model.orders import OrderTracker, Portfolio
from client_tui.replay import ReplayActions
from client_tui.screens import DrillsScreen, HelpScreen
from client_tui.screens.help import binding_rows
from client_tui.trading import ShuttingDown
from client_tui.widgets import (
    CandleChart,
    FillsPanel,
    LadderView,
    OrdersPanel,
    OrderTicket,
    PositionsPanel,
    StaleBanner,
    StatusBar,
    TimeAndSales,
    Watchlist,
)
from client_tui.widgets.panels import FeedHealth

__all__ = ["TickwireApp"]

FRAME_S = 1 / 60
#: Layout classes of the main screen (app.tcss): ``-narrow`` below this many columns,
#: ``-short`` below this many rows. The full layout wants 160 x 48; 100 x 30 is the least.
NARROW_BELOW = 150
SHORT_BELOW = 40
#: The panels that fit their columns to their width.
_DRAWN_TO_WIDTH = "#watchlist, #positions, #ladder, #tape, #orders, #fills, #status"
#: Replay formats that carry the book only: their tape and chart stay empty (and say why).
BOOK_ONLY_FORMATS = frozenset({"kraken"})


class TickwireApp(ReplayActions):
    """The trading screen. ``start_network=False`` builds it offline (for layout tests)."""

    CSS_PATH = "app.tcss"
    TITLE = "tickwire"
    BINDINGS = [
        # first, so the footer shows it however narrow the terminal is
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("b", "side('buy')", "Buy @ cursor"),
        Binding("s", "side('sell')", "Sell @ cursor"),
        Binding("plus,equals_sign", "size(1)", "Size +", key_display="+"),
        Binding("minus", "size(-1)", "Size -", key_display="-"),
        Binding("e", "edit_ticket('qty')", "Type size", show=False),
        Binding("E", "edit_ticket('price')", "Type price", show=False, key_display="E"),
        Binding("S", "edit_ticket('stop')", "Type stop price", show=False, key_display="S"),
        Binding("enter", "send", "Send"),
        Binding("c", "cancel", "Cancel order"),
        Binding("C", "cancel_all", "Cancel all", key_display="C"),
        Binding("r", "replace", "Replace"),
        Binding("o", "order_type", "Type: limit/market/stop/stop-limit", show=False),
        Binding("t", "tif", "TIF", show=False),
        Binding("p", "post_only", "Post-only", show=False),
        Binding("z", "recenter", "Recenter"),
        Binding("f", "freeze", "Freeze"),
        Binding("F", "drills", "Fault drills", show=False, key_display="F"),
        Binding("i", "interval", "1s/1m", show=False),
        Binding("1", "focus_panel('watchlist')", "Watchlist", show=False),
        Binding("2", "focus_panel('ladder')", "Ladder", show=False),
        Binding("3", "focus_panel('orders')", "Orders", show=False),
        Binding("q", "quit", "Quit"),
    ]

    interval: reactive[str] = reactive("1s")

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        account: str = "trader",
        md_transport: str = "sse",
        *,
        confirm_notional: Decimal | None = Decimal("10000"),
        default_notional: Decimal = Decimal("1000"),
        stale_after_s: float = 5.0,
        bell: bool = True,
        start_network: bool = True,
    ) -> None:
        super().__init__()
        self.market = MarketState()
        self.tracker = OrderTracker()
        self.portfolio = Portfolio()
        self.ladders: dict[str, LadderState] = {}
        self.confirm_notional = confirm_notional
        self.default_notional = default_notional
        self.stale_after_s = stale_after_s
        #: ring the terminal bell on each live fill (``--no-bell`` turns it off)
        self.bell_on_fill = bell
        self.start_network = start_network
        self.conn = Connection(
            url,
            account,
            market=self.market,
            tracker=self.tracker,
            portfolio=self.portfolio,
            post=self.post_message,
            md_transport=md_transport,
        )
        self._dirty: set[str] = set()
        self._panel_sizes: tuple[object, ...] = ()
        self._chart_due = True
        self._drawn_seeks: int | None = None
        self._stopping = False
        #: Benchmark switch: redraw ladder, tape and watchlist on every frame, dirty or not.
        self.redraw_every_frame = False
        self.frames = 0
        #: Wall time of each frame's redraw (ms), for the benchmark and the curious.
        self.draw_ms: deque[float] = deque(maxlen=100_000)
        #: Fault drills (``F``): timings passed to ``DrillContext`` (tests shorten them) and
        #: where a saved timeline goes (None: the working directory).
        self.drill_options: dict[str, Any] = {}
        self.drill_dir: Path | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        """Watchlist, ticket and positions | ladder | chart and tape; orders and fills; status."""
        yield StaleBanner(id="stale")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Watchlist(id="watchlist")
                yield OrderTicket(id="ticket")
                yield PositionsPanel(id="positions")
            yield LadderView(id="ladder")
            with Vertical(id="right"):
                yield CandleChart(id="chart")
                yield TimeAndSales(id="tape")
        with Horizontal(id="bottom"):
            yield OrdersPanel(id="orders")
            yield FillsPanel(id="fills")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, timers and (unless offline) the two network workers."""
        titles = {
            "watchlist": "Watchlist",
            "ticket": "Order ticket",
            "positions": "Positions & P&L",
            "ladder": "Order book",
            "chart": "Chart",
            "tape": "Time & sales",
            "orders": "Open orders",
            "fills": "Fills",
        }
        for wid, title in titles.items():
            self._q(f"#{wid}").border_title = title
        self._q("#ticket", OrderTicket).next_client_order_id = self.tracker.next_client_order_id()
        self._fit_layout(self.size.width, self.size.height)
        self.set_interval(FRAME_S, self.flush)
        self.set_interval(0.25, self._slow_tick)
        self._q("#ladder", LadderView).focus()
        if self.start_network:
            self.run_worker(self.conn.run_market(), name="market-data", group="net")
            self.run_worker(self.conn.run_orders(), name="orders", group="net")
            self.run_worker(self.replay_probe(), name="replay-probe", group="net")
        self._dirty.update({"watch", "ladder", "tape", "chart", "orders", "fills", "positions"})

    def on_resize(self, event: events.Resize) -> None:
        """The terminal changed size: choose the layout for it."""
        self._fit_layout(event.size.width, event.size.height)

    def _fit_layout(self, width: int, height: int) -> None:
        if not self.screen_stack:
            return
        main = self.screen_stack[0]
        main.set_class(width < NARROW_BELOW, "-narrow")
        main.set_class(height < SHORT_BELOW, "-short")
        # redrawn for the panels' new sizes, which are known once the layout has run
        self.call_after_refresh(self._redraw_all)

    def _redraw_all(self) -> None:
        self._dirty.update(("watch", "ladder", "tape", "chart", "orders", "fills", "positions"))
        self._dirty.add("status")

    # ------------------------------------------------------------------ messages
    def on_symbols_loaded(self, _: SymbolsLoaded) -> None:
        """Pick the first symbol and give every symbol a ladder."""
        for name, m in self.market.symbols.items():
            self.ladders.setdefault(name, LadderState(tick=m.info.tick))
        if not self.symbol and self.market.symbols:
            self.symbol = next(iter(self.market.symbols))
        self._dirty.add("watch")

    def on_trades_loaded(self, msg: TradesLoaded) -> None:
        """The trades and candles from before the client connected: tape, chart, watchlist."""
        if msg.symbol == self.symbol:
            self._dirty.update(("tape", "chart"))
        self._dirty.add("watch")

    def on_market_event(self, msg: MarketEvent) -> None:
        """Mark what the event changed; drawing waits for the next frame."""
        active = msg.data.get("symbol") == self.symbol
        if msg.event in ("book", "snapshot"):
            if active:
                self._dirty.add("ladder")
        elif msg.event == "trade":
            if active:
                self._dirty.add("tape")
        elif msg.event == "candle" and active and msg.data.get("interval") == self.interval:
            self._dirty.add("chart")
        elif msg.event == "status":
            replay = msg.data.get("replay")
            if isinstance(replay, dict):
                self.follow_replay(replay)
                m = self.active()
                if active and m is not None and m.seeks != self._drawn_seeks:
                    self._drawn_seeks = m.seeks  # a seek cleared tape and candles
                    self._dirty.update(("tape", "chart", "watch"))

    def on_market_reset(self, _: MarketReset) -> None:
        """Books were dropped (and after a replay seek, tape and candles): redraw them."""
        self._dirty.update(("ladder", "tape", "chart", "watch"))

    def on_order_update(self, msg: OrderUpdate) -> None:
        """Own orders changed: orders, fills, ladder marks and the ticket's key. A live fill
        (not the history replayed at start) also shows a toast and rings the bell."""
        self._dirty.update(("orders", "fills", "ladder"))
        self.order_news(msg.msg, replayed=msg.replayed)

    def on_account_update(self, _: AccountUpdate) -> None:
        """Positions and cash changed."""
        self._dirty.add("positions")

    def on_connection_state(self, msg: ConnectionState) -> None:
        """Connection states show in the status bar; a market-data reconnect asks the server
        again whether it replays (it may have been restarted as a replay, or not)."""
        self._dirty.add("status")
        if msg.channel == "md" and msg.state == "live" and self.conn.md_reconnects:
            self.run_worker(self.replay_probe(), name="replay-probe", group="net")

    def on_ping_result(self, _: PingResult) -> None:
        """Round trip shows in the status bar."""
        self._dirty.add("status")

    def watch_symbol(self, symbol: str) -> None:
        """A new active symbol redraws everything that depends on it."""
        ticket = self._q("#ticket", OrderTicket)
        ticket.symbol = symbol
        ticket.price = ""
        ticket.stop_price = ""
        self.auto_size = True  # a new symbol starts with its own small default size
        self.auto_stop = True  # and its stop price from its own cursor and last trade
        self._apply_default_size()
        self._dirty.update(("watch", "ladder", "tape", "chart"))
        self._sync_ticket_price()

    def watch_interval(self, _: str) -> None:
        """Chart interval toggled."""
        self._dirty.add("chart")

    # ------------------------------------------------------------------ drawing
    def flush(self) -> None:
        """Redraw the widgets marked dirty since the last frame (called at 60 Hz)."""
        if self.redraw_every_frame:
            self._dirty.update(("ladder", "tape", "watch"))
        if not self._dirty or self._stopping:
            return
        t0 = time.perf_counter()
        try:
            self._draw()
        except (ShuttingDown, NoMatches):
            # During shutdown the main screen is emptied before timers stop.
            if not self._shutting_down():
                raise
        self.draw_ms.append((time.perf_counter() - t0) * 1000)

    def _shutting_down(self) -> bool:
        return self._stopping or self._exit or not self.is_running or not self.screen_stack

    def _draw(self) -> None:
        dirty, self._dirty = self._dirty, set()
        self.frames += 1
        m = self.active()
        if "watch" in dirty:
            self._q(Watchlist).show(self.market, self.symbol, self.no_trades_note())
        if "ladder" in dirty:
            ladder = self._q(LadderView)
            state = self.ladders.get(self.symbol)
            if m is not None and state is not None:
                state.rows = ladder.visible_rows()
                if state.step == 0 and m.bids and m.asks:
                    state.step = choose_step(m.bids, m.asks, m.info.tick)
                state.follow(m.best_bid, m.best_ask)
                if self._q(OrderTicket).price == "":
                    self._sync_ticket_price()
            ladder.show(m, state, self.tracker)
        if "tape" in dirty:
            self._q(TimeAndSales).show(m, self.no_trades_note())
            self._apply_default_stop()  # the ticket shows the last trade beside the stop
        if "chart" in dirty and m is not None and self._chart_due:
            # plotext rebuilds the whole figure: at most a few times per second.
            self._chart_due = False
            self._q(CandleChart).show(
                self.symbol,
                self.interval,
                list(m.candles[self.interval].values()),
                self.no_trades_note() if not m.trades else "waiting for candles…",
            )
        elif "chart" in dirty:
            self._dirty.add("chart")
        if "orders" in dirty:
            self._q(OrdersPanel).show(self.tracker)
            self._q(OrderTicket).next_client_order_id = self.tracker.next_client_order_id()
        if "fills" in dirty:
            self._q(FillsPanel).show(self.tracker)
        if "positions" in dirty:
            decimals = {n: sm.info.price_decimals for n, sm in self.market.symbols.items()}
            self._q(PositionsPanel).show(self.portfolio, self.marks(), decimals)
        if "status" in dirty:
            self._q(StatusBar).show(self.health())

    def no_trades_note(self) -> str:
        """Why the tape and chart of a symbol without trades are empty."""
        replay = self.market.replay or self.replay_status
        if replay is not None and replay.get("format") in BOOK_ONLY_FORMATS:
            return "this recording has no trades (book only)"
        return "no trades yet"

    def _slow_tick(self) -> None:
        if self._shutting_down():
            return
        self._chart_due = True
        if self.auto_size:  # the default size needs a price: follow it until one is chosen
            self._apply_default_size()
        # Summaries (watchlist, status, positions) refresh at 4 Hz, not per event.
        self._dirty.update(("status", "positions", "watch"))
        # Panels lay out their columns for their width: one whose size changed since the
        # last look is redrawn even if no data arrives (a resize can settle after a frame).
        sizes = tuple(w.size for w in self.screen_stack[0].query(_DRAWN_TO_WIDTH))
        if sizes != self._panel_sizes:
            self._panel_sizes = sizes
            self._redraw_all()
        conn = self.conn
        unreachable = conn.base_url if conn.md_reconnects + conn.order_reconnects >= 2 else None
        self._q(StaleBanner).show(
            self.market, self.market.silent_for(), self.stale_after_s, unreachable
        )

    def health(self) -> FeedHealth:
        """Figures for the status bar."""
        return FeedHealth(
            md_transport=self.conn.md_transport,
            md_state=self.conn.md_state,
            order_state=self.conn.order_state,
            rtt_ms=self.conn.rtt_ms,
            lag_p50=self.market.lag_ms(50),
            lag_p99=self.market.lag_ms(99),
            book_ok=self.market.book_ok(self.symbol),
            resyncs=self.market.resyncs,
            md_reconnects=self.conn.md_reconnects,
            order_reconnects=self.conn.order_reconnects,
            exec_seq=self.tracker.last_exec_seq,
            in_flight=self.tracker.in_flight(),
            account=self.conn.account,
            deadman_left=self.conn.deadman_left_s(),
        )

    # ------------------------------------------------------------------ actions
    def action_symbol(self, delta: int) -> None:
        """Choose the previous/next symbol of the watchlist."""
        names = list(self.market.symbols)
        if not names:
            return
        idx = names.index(self.symbol) if self.symbol in names else 0
        self.symbol = names[(idx + delta) % len(names)]

    def action_edit_ticket(self, field: str) -> None:
        """Type the ticket's size (``qty``), price or stop price (``stop``, stop orders
        only); Enter or escape come back."""
        ticket = self._q(OrderTicket)
        if field == "stop":
            if ticket.order_type not in ("stop", "stop_limit"):
                ticket.last_result = "a stop price is for stop orders: o chooses the type"
                return
            self.auto_stop = False  # typed: the cursor no longer moves it
        else:
            # The trader chooses now: the default size must not overwrite what is being
            # typed (it follows the price on the slow tick while auto_size holds).
            self.auto_size = False
        ticket.edit(field)

    def on_order_ticket_done(self, _: OrderTicket.Done) -> None:
        """Typing ended: keyboard back to the ladder; say what is wrong with the values."""
        self.auto_size = False
        ticket = self._q(OrderTicket)
        problem = self.ticket_problem()
        ticket.last_result = f"check: {problem}" if problem else ""
        self._update_notional()
        self._q(LadderView).focus()

    def action_interval(self) -> None:
        """Chart: 1 s <-> 1 m candles."""
        self.interval = "1m" if self.interval == "1s" else "1s"

    def action_focus_panel(self, widget_id: str) -> None:
        """Focus a panel by id."""
        self._q(f"#{widget_id}").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On the drill screen the trading keys are off (and out of its footer): a key
        there is meant for the drills, not for the ticket under it."""
        on_drills = isinstance(self.screen, DrillsScreen)
        return not on_drills or action in ("help", "quit", "drills")

    def action_drills(self) -> None:
        """Open the fault-drill switchboard (one screen kept for the session, so its last
        timeline is still there when it is opened again)."""
        if not self.is_screen_installed("drills"):
            self.install_screen(DrillsScreen(), name="drills")
        if self.screen is not self.get_screen("drills"):
            self.push_screen("drills")

    def action_help(self) -> None:
        """Show every binding."""
        groups: list[tuple[str, Iterable[Binding]]] = [
            ("app", self.BINDINGS),  # type: ignore[list-item]
            ("watchlist", Watchlist.BINDINGS),  # type: ignore[list-item]
            ("ladder", LadderView.BINDINGS),  # type: ignore[list-item]
            ("orders", OrdersPanel.BINDINGS),  # type: ignore[list-item]
        ]
        groups.extend(self.replay_help_groups())
        rows = binding_rows(groups)
        rows.append(("drills", "⏎ y w a esc", "Run drill, copy, save timeline, dead-man, back"))
        rows.append(("app", "ctrl+p", "Command palette"))
        rows.append(("app", "tab", "Next panel"))
        # title, table heading, foot and borders take 8 rows; a short screen gets two columns
        columns = 2 if self.size.height < len(rows) + 8 else 1
        self.push_screen(HelpScreen(rows, columns))

    async def action_quit(self) -> None:
        """Close both connections, then exit."""
        self._stopping = True
        await self.conn.close()
        self.exit()

    async def on_unmount(self) -> None:
        """However the app ends, both connections are closed."""
        self._stopping = True
        await self.conn.close()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: the app's actions plus one entry per symbol."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Cancel all orders", "Cancel every open order", self.action_cancel_all)
        yield SystemCommand("Recenter ladder", "Centre on the mid", self.action_recenter)
        yield SystemCommand("Toggle chart interval", "1 s / 1 m candles", self.action_interval)
        yield SystemCommand("Reconnect market data", "Drop the feed; it resumes", self._drop_md)
        yield SystemCommand("Fault drills", "Break your own connections, watch", self.action_drills)
        for name in self.market.symbols:
            yield SystemCommand(
                f"Symbol {name}", f"Make {name} active", lambda n=name: self._set_symbol(n)
            )

    def _set_symbol(self, name: str) -> None:
        self.symbol = name

    def _drop_md(self) -> None:
        self.run_worker(self.conn.drop_market())
