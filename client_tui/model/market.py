"""Market-data state of the client: books, trades, tickers, candles, lag and resyncs.

Exports ``SymbolInfo``, ``SymbolMarket``, ``MarketState``, ``ReplayClockEstimate`` and
``add_candle``.

Contract: the connection calls :meth:`MarketState.apply` with every §4 event (name and
decoded payload) in stream order. ``apply`` returns ``None`` when the event was applied, or
a reason string when the book of that symbol can no longer be trusted (a ``seq`` gap, a
delta before any snapshot, or a checksum mismatch after applying); the caller must then
resynchronise (fresh snapshots) and call :meth:`reset_books` first. A ``reset`` event goes
to :meth:`MarketState.apply_reset` instead.

In a replay, every seek starts the tape and the candles afresh: a ``reset`` with reason
``seek`` clears them, and so does a ``status`` whose ``data.replay.seeks`` went up (a forward
seek publishes no reset); candles are kept in time order whatever order they arrive in.

Books are dicts of integer price units -> integer quantity units; the checksum is verified
with ``shared.checksum.book_checksum`` over the canonical decimal strings.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.checksum import CHECKSUM_DEPTH, book_checksum
from shared.values import InvalidDecimal, format_units, to_units

__all__ = ["MarketState", "ReplayClockEstimate", "SymbolInfo", "SymbolMarket", "add_candle"]

LAG_WINDOW_S = 60.0
MAX_CANDLES_KEPT = 240


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One entry of ``GET /api/symbols`` with its sizes in integer units."""

    symbol: str
    price_decimals: int
    qty_decimals: int
    tick: int
    lot: int
    min_qty: int

    @classmethod
    def from_wire(cls, item: dict[str, Any]) -> SymbolInfo:
        """Parse one ``/api/symbols`` entry."""
        pd = int(item["price_decimals"])
        qd = int(item["qty_decimals"])
        return cls(
            symbol=str(item["symbol"]),
            price_decimals=pd,
            qty_decimals=qd,
            tick=to_units(str(item["tick_size"]), pd),
            lot=to_units(str(item["lot_size"]), qd),
            min_qty=to_units(str(item.get("min_qty", item["lot_size"])), qd),
        )

    def price(self, units: int) -> str:
        """Canonical price string of ``units``."""
        return format_units(units, self.price_decimals)

    def qty(self, units: int) -> str:
        """Canonical quantity string of ``units``."""
        return format_units(units, self.qty_decimals)


@dataclass
class SymbolMarket:
    """Everything the screen shows about one symbol."""

    info: SymbolInfo
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    seq: int | None = None  # None: no snapshot yet (the book is not usable)
    checksum: int | None = None
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    ticker: dict[str, Any] | None = None
    candles: dict[str, OrderedDict[int, dict[str, Any]]] = field(
        default_factory=lambda: {"1s": OrderedDict(), "1m": OrderedDict()}
    )
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    state: str = "open"
    #: The replay's ``seeks`` counter as last seen in this symbol's ``status`` (None: none yet).
    seeks: int | None = None
    #: A ``reset`` (reason ``seek``) already cleared the history of the seek still to be
    #: counted by the next ``status``: that status must not clear it again.
    seek_cleared: bool = False

    def clear_history(self) -> None:
        """Forget trades, ticker, candles and sparkline (after a replay seek: they belong to
        another stretch of recorded time)."""
        self.trades.clear()
        self.ticker = None
        for series in self.candles.values():
            series.clear()
        self.spark.clear()

    @property
    def best_bid(self) -> int | None:
        """Highest bid price in units, or None."""
        return max(self.bids) if self.bids else None

    @property
    def best_ask(self) -> int | None:
        """Lowest ask price in units, or None."""
        return min(self.asks) if self.asks else None

    def last_price(self) -> float | None:
        """Last trade price (ticker first, then the tape), for display only."""
        if self.ticker and self.ticker.get("last"):
            return float(self.ticker["last"])
        if self.trades:
            return float(self.trades[0]["price"])
        return None

    def last_trade(self) -> int | None:
        """Last trade price in units (the tape first, then the ticker), None before any:
        what the server checks a stop price against, as far as this client saw it."""
        raw = self.trades[0]["price"] if self.trades else (self.ticker or {}).get("last")
        if not raw:
            return None
        try:
            return to_units(str(raw), self.info.price_decimals)
        except InvalidDecimal:
            return None

    def compute_checksum(self) -> int:
        """The §4 checksum of the local book."""
        i = self.info
        asks = [
            (i.price(p), i.qty(self.asks[p])) for p in heapq.nsmallest(CHECKSUM_DEPTH, self.asks)
        ]
        bids = [
            (i.price(p), i.qty(self.bids[p])) for p in heapq.nlargest(CHECKSUM_DEPTH, self.bids)
        ]
        return book_checksum(asks, bids)

    def _set_levels(self, side: dict[int, int], levels: list[list[str]]) -> None:
        pd, qd = self.info.price_decimals, self.info.qty_decimals
        for price, qty in levels:
            p = to_units(price, pd)
            q = to_units(qty, qd)
            if q == 0:
                side.pop(p, None)
            else:
                side[p] = q


@dataclass
class MarketState:
    """All symbols plus feed health figures (see the module docstring for ``apply``)."""

    symbols: dict[str, SymbolMarket] = field(default_factory=dict)
    resyncs: int = 0
    resets: int = 0
    checksum_ok: int = 0
    checksum_bad: int = 0
    events: int = 0
    last_event_mono: float | None = None
    lag: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=200_000))
    #: "Now" in ns against which an event's ``ts`` is lag, given that ``ts``: the wall clock
    #: (default), or in a replay the replay clock (``ReplayClockEstimate.now_ns``), since a
    #: recorded event's ``ts`` is recorded time.
    clock: Callable[[int], int] | None = None
    #: The newest replay status seen in a ``status`` event's ``data.replay`` (None: not a
    #: replay, or no status yet).
    replay: dict[str, Any] | None = None
    #: How many times a replay seek cleared the tape and candles (the connection then loads
    #: them again from REST: what the server holds of the new time).
    history_clears: int = 0

    def load_symbols(self, items: list[dict[str, Any]]) -> None:
        """Register the symbols of ``GET /api/symbols`` (keeps existing state)."""
        for item in items:
            info = SymbolInfo.from_wire(item)
            if info.symbol not in self.symbols:
                self.symbols[info.symbol] = SymbolMarket(info)

    def reset_books(self) -> None:
        """Forget every book (before fresh snapshots arrive)."""
        for m in self.symbols.values():
            m.bids.clear()
            m.asks.clear()
            m.seq = None
            m.checksum = None

    def book_ok(self, symbol: str) -> bool:
        """Whether the symbol's book came from a snapshot and passed every check since."""
        m = self.symbols.get(symbol)
        return m is not None and m.seq is not None

    def lag_ms(self, pct: float, now: float | None = None) -> float | None:
        """Percentile of market-data lag (now - event ``ts``) over the last minute."""
        now = time.monotonic() if now is None else now
        while self.lag and self.lag[0][0] < now - LAG_WINDOW_S:
            self.lag.popleft()
        if not self.lag:
            return None
        values = sorted(v for _, v in self.lag)
        rank = max(1, min(len(values), -(-len(values) * pct // 100)))
        return values[int(rank) - 1]

    def silent_for(self, now: float | None = None) -> float | None:
        """Seconds since the last event; None before the first."""
        if self.last_event_mono is None:
            return None
        return (time.monotonic() if now is None else now) - self.last_event_mono

    def apply(self, event: str, data: dict[str, Any]) -> str | None:
        """Apply one event; ``None`` if fine, else why the book needs a resync.

        A malformed payload (bad decimal, missing field) is reported like a gap: the book
        it touched can no longer be trusted. Never raises on payload contents.
        """
        try:
            return self._apply(event, data)
        except (InvalidDecimal, KeyError, TypeError, ValueError, AttributeError) as exc:
            m = self.symbols.get(str(data.get("symbol", ""))) if isinstance(data, dict) else None
            if m is not None:
                m.seq = None
            return f"malformed {event} event: {exc!r}"

    def _apply(self, event: str, data: dict[str, Any]) -> str | None:
        now = time.monotonic()
        self.events += 1
        self.last_event_mono = now
        ts = data.get("ts")
        if isinstance(ts, int) and ts > 0:
            ref = time.time_ns() if self.clock is None else self.clock(ts)
            self.lag.append((now, (ref - ts) / 1e6))
        m = self.symbols.get(str(data.get("symbol", "")))
        if m is None:
            return None  # status for a symbol we do not know yet, or a global event
        if event == "book":
            return self._delta(m, data)
        if event == "snapshot":
            m.bids.clear()
            m.asks.clear()
            m._set_levels(m.bids, data["bids"])
            m._set_levels(m.asks, data["asks"])
            m.seq = int(data["seq"])
            return self._verify(m, data)
        if event == "trade":
            m.trades.appendleft(data)
            m.spark.append(float(data["price"]))
        elif event == "ticker":
            m.ticker = data
        elif event == "candle":
            add_candle(m.candles.setdefault(str(data["interval"]), OrderedDict()), data)
        elif event == "status":
            m.state = str(data.get("state", m.state))
            replay = data.get("replay")
            if isinstance(replay, dict):
                self.replay = replay
                self._follow_seeks(m, int(replay.get("seeks") or 0))
        return None

    def _follow_seeks(self, m: SymbolMarket, seeks: int) -> None:
        # Any seek (back, or forward without a reset) makes the tape and candles another
        # stretch of time: start them afresh, once per seek.
        if m.seeks is not None and seeks > m.seeks:
            if m.seek_cleared:
                m.seek_cleared = False
            else:
                m.clear_history()
                self.history_clears += 1
        m.seeks = seeks

    def seed_trades(self, symbol: str, trades: Any) -> int:
        """Merge ``GET /api/trades/{symbol}`` (newest last): the trades printed before this
        client connected, which the stream does not send again. A trade the stream already
        brought is not doubled; the tape stays newest first by trade id. Entries that are not
        this symbol's well-formed trades are skipped (they change nothing). Returns how many
        were added."""
        m = self.symbols.get(symbol)
        if m is None or not isinstance(trades, list):
            return 0
        have = {t.get("trade_id") for t in m.trades}
        new = []
        for t in trades:
            try:
                ok = (
                    isinstance(t, dict)
                    and t.get("symbol") == symbol
                    and type(t.get("trade_id")) is int
                    and t["trade_id"] not in have
                    and float(t["price"]) > 0
                )
            except (KeyError, TypeError, ValueError):
                ok = False
            if ok:
                new.append(t)
                have.add(t["trade_id"])
        if not new:
            return 0
        merged = sorted([*m.trades, *new], key=lambda t: int(t["trade_id"]), reverse=True)
        m.trades.clear()
        m.trades.extend(merged[: m.trades.maxlen])
        if not m.spark:
            m.spark.extend(float(t["price"]) for t in reversed(merged[: m.spark.maxlen]))
        return len(new)

    def seed_candles(self, symbol: str, interval: str, candles: Any) -> int:
        """Merge ``GET /api/candles/{symbol}?interval=`` (oldest first) into the series, as
        the stream's candles are (a candle already there is replaced). Entries that are not
        well-formed candles of this symbol and interval are skipped. Returns how many."""
        m = self.symbols.get(symbol)
        series = m.candles.get(interval) if m is not None else None
        if series is None or not isinstance(candles, list):
            return 0
        n = 0
        for c in candles:
            try:
                ok = (
                    isinstance(c, dict)
                    and c.get("symbol") == symbol
                    and c.get("interval") == interval
                    and type(c.get("t")) is int
                    and all(float(c[k]) > 0 for k in ("o", "h", "l", "c"))
                )
            except (KeyError, TypeError, ValueError):
                ok = False
            if ok and c["t"] not in series:  # the stream's own copy is the newer one
                add_candle(series, c)
                n += 1
        return n

    def apply_reset(self, reason: str) -> None:
        """A ``reset`` event: forget every book; a replay seek (``reason == "seek"``) also
        forgets trades and candles, since the snapshots that follow are of another time."""
        self.resets += 1
        self.reset_books()
        if reason == "seek":
            for m in self.symbols.values():
                m.clear_history()
                m.seek_cleared = True
            self.history_clears += 1

    def _delta(self, m: SymbolMarket, data: dict[str, Any]) -> str | None:
        if m.seq is None:
            return f"{m.info.symbol}: delta before snapshot"
        first = int(data.get("first_seq", data["seq"]))
        if first != m.seq + 1:
            return f"{m.info.symbol}: seq gap (have {m.seq}, got {first})"
        m._set_levels(m.bids, data["bids"])
        m._set_levels(m.asks, data["asks"])
        m.seq = int(data["seq"])
        return self._verify(m, data)

    def _verify(self, m: SymbolMarket, data: dict[str, Any]) -> str | None:
        expected = data.get("checksum")
        if expected is None:
            return None
        actual = m.compute_checksum()
        m.checksum = actual
        if actual != int(expected):
            self.checksum_bad += 1
            m.seq = None
            return f"{m.info.symbol}: checksum mismatch at seq {data.get('seq')}"
        self.checksum_ok += 1
        return None


def add_candle(series: OrderedDict[int, dict[str, Any]], data: dict[str, Any]) -> None:
    """Put one candle into ``series`` (oldest first) by its start time ``t``: a newer one is
    appended, one already there replaced, an older one inserted in its place (never appended
    after newer candles), keeping the newest ``MAX_CANDLES_KEPT``."""
    t = int(data["t"])
    newest = next(reversed(series), None) if series else None
    series[t] = data
    if newest is not None and t < newest:
        ordered = sorted(series.items())
        series.clear()
        series.update(ordered)
    while len(series) > MAX_CANDLES_KEPT:
        series.popitem(last=False)


class ReplayClockEstimate:
    """The server's replay clock as the client can follow it between two ``GET /api/replay``
    answers: recorded time advancing at the replay's speed from the last answer, frozen when
    paused or finished, never past the recording's end. At ``max`` speed the replay clock is
    the last step played, so the newest event seen stands for it."""

    def __init__(self, status: dict[str, Any], mono: Callable[[], float] = time.monotonic):
        self._mono = mono
        self.update(status)

    def update(self, status: dict[str, Any]) -> None:
        self.at = self._mono()
        self.clock = int(status.get("clock") or 0)
        self.end = int(status.get("end") or 0) or None
        self.frozen = bool(status.get("paused") or status.get("finished"))
        speed = status.get("speed")
        self.speed = None if speed in (None, "max") else float(speed)
        self.latest = self.clock

    def now_ns(self, ts: int) -> int:
        if self.speed is None:
            self.latest = max(self.latest, ts)
            return self.latest
        now = self.clock
        if not self.frozen:
            now += int((self._mono() - self.at) * self.speed * 1e9)
        return now if self.end is None else min(now, self.end)
