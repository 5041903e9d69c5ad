"""The synthetic market-data feed: rendered events at an exact rate, engine and journal
bypassed, for the protocol lab (``tickwire lab``), the benchmarks and the tests.

Exports: ``MarketSim``, ``run_synthetic_feed``.

``MarketSim(seed).step()`` returns one command's worth of ``(event, symbol, payload)`` items
in engine order (trades, one book delta, ticker, sometimes a candle or status), with
consecutive book ``seq`` and trade ids and correct §4 checksums, so readers can check books.
``run_synthetic_feed`` publishes them at exactly ``rate`` events per second; a node's
``LocalBackend`` runs it as a task of its own (cancelled at stop) when ``md_synthetic_rate``
> 0, only with a throwaway data directory: the hub's history then holds events the engine
never made.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from shared.checksum import book_checksum
from shared.values import format_units

__all__ = ["MarketSim", "run_synthetic_feed"]

Item = tuple[str, str | None, dict[str, Any]]


class _Book:
    def __init__(self, symbol: str, mid: int) -> None:
        self.symbol = symbol
        self.mid = mid
        self.seq = 0
        self.trade_id = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}


class MarketSim:
    """Random but reproducible market data for ``symbols`` (prices 2 decimals, qty 3)."""

    price_decimals = 2
    qty_decimals = 3

    def __init__(self, seed: int = 0, symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD")) -> None:
        self.rng = random.Random(seed)
        self.ts = 1_700_000_000_000_000_000
        self.books = {s: _Book(s, 10_000 * (i + 1)) for i, s in enumerate(symbols)}
        for book in self.books.values():
            for k in range(1, 6):
                book.bids[book.mid - k] = 1000 * k
                book.asks[book.mid + k] = 1000 * k

    def _p(self, units: int) -> str:
        return format_units(units, self.price_decimals)

    def _q(self, units: int) -> str:
        return format_units(units, self.qty_decimals)

    def _levels(self, side: dict[int, int], reverse: bool) -> list[tuple[str, str]]:
        return [(self._p(p), self._q(side[p])) for p in sorted(side, reverse=reverse)]

    def checksum(self, symbol: str) -> int:
        b = self.books[symbol]
        asks = [(self._p(p), self._q(b.asks[p])) for p in sorted(b.asks)[:10]]
        bids = [(self._p(p), self._q(b.bids[p])) for p in sorted(b.bids, reverse=True)[:10]]
        return book_checksum(asks, bids)

    def snapshot(self, symbol: str) -> dict[str, Any]:
        b = self.books[symbol]
        return {
            "symbol": symbol,
            "seq": b.seq,
            "bids": [list(lv) for lv in self._levels(b.bids, True)],
            "asks": [list(lv) for lv in self._levels(b.asks, False)],
            "last_trade_id": b.trade_id,
            "checksum": self.checksum(symbol),
        }

    def snapshots(self) -> list[dict[str, Any]]:
        return [self.snapshot(s) for s in self.books]

    def step(self) -> list[Item]:
        """One command's market data; advances ``ts`` by 1 ms."""
        rng = self.rng
        self.ts += 1_000_000
        b = self.books[rng.choice(list(self.books))]
        sym = b.symbol
        items: list[Item] = []
        changed_b: dict[int, int] = {}
        changed_a: dict[int, int] = {}
        if rng.random() < 0.3 and b.asks:
            # a buy takes the best ask (fully or partly)
            best = min(b.asks)
            take = rng.randint(1, b.asks[best])
            b.trade_id += 1
            items.append(
                (
                    "trade",
                    sym,
                    {
                        "symbol": sym,
                        "trade_id": b.trade_id,
                        "price": self._p(best),
                        "qty": self._q(take),
                        "taker_side": "buy",
                        "ts": self.ts,
                    },
                )
            )
            left = b.asks[best] - take
            if left:
                b.asks[best] = left
            else:
                del b.asks[best]
            changed_a[best] = left
        for _ in range(rng.randint(1, 3)):
            side, changed = (b.bids, changed_b) if rng.random() < 0.5 else (b.asks, changed_a)
            if side is b.bids:
                price = b.mid - rng.randint(1, 12)
                if b.asks and price >= min(b.asks):
                    continue
            else:
                price = b.mid + rng.randint(1, 12)
                if b.bids and price <= max(b.bids):
                    continue
            qty = 0 if (price in side and rng.random() < 0.3) else rng.randint(1, 5000)
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
            changed[price] = qty
        if changed_b or changed_a:
            b.seq += 1
            items.append(
                (
                    "book",
                    sym,
                    {
                        "symbol": sym,
                        "first_seq": b.seq,
                        "seq": b.seq,
                        "bids": [[self._p(p), self._q(q)] for p, q in changed_b.items()],
                        "asks": [[self._p(p), self._q(q)] for p, q in changed_a.items()],
                        "checksum": self.checksum(sym),
                        "ts": self.ts,
                    },
                )
            )
        bid = max(b.bids) if b.bids else None
        ask = min(b.asks) if b.asks else None
        items.append(
            (
                "ticker",
                sym,
                {
                    "symbol": sym,
                    "bid": None if bid is None else self._p(bid),
                    "ask": None if ask is None else self._p(ask),
                    "last": self._p(b.mid),
                    "open": self._p(b.mid),
                    "high": self._p(b.mid + 5),
                    "low": self._p(b.mid - 5),
                    "volume": self._q(b.trade_id),
                    "ts": self.ts,
                },
            )
        )
        if rng.random() < 0.2:
            t = self.ts - self.ts % 1_000_000_000
            items.append(
                (
                    "candle",
                    sym,
                    {
                        "symbol": sym,
                        "interval": "1s",
                        "t": t,
                        "o": self._p(b.mid),
                        "h": self._p(b.mid + 1),
                        "l": self._p(b.mid - 1),
                        "c": self._p(b.mid),
                        "v": self._q(rng.randint(0, 100)),
                        "closed": False,
                    },
                )
            )
        if rng.random() < 0.02:
            items.append(("status", sym, {"symbol": sym, "state": "open", "ts": self.ts}))
        return items


async def run_synthetic_feed(
    publish: Callable[[Sequence[Item], int], None],
    clock: Callable[[], int],
    rate: float,
    seed: int,
    symbols: tuple[str, ...],
    stop: asyncio.Event,
) -> None:
    """Publish ``MarketSim`` items (snapshots first, then book deltas, trades, tickers,
    candles) through ``publish(items, ts)`` at exactly ``rate`` events per second, scheduled
    by time, each ``ts`` stamped at publish, until ``stop`` is set."""
    sim = MarketSim(seed, symbols=symbols)
    pending: deque[Item] = deque(("snapshot", p["symbol"], p) for p in sim.snapshots())
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while not stop.is_set():
        due = int((loop.time() - start) * rate) - sent
        if due > 0:
            items = []
            for _ in range(due):
                if not pending:
                    pending.extend(sim.step())
                items.append(pending.popleft())
            ts = clock()
            for _name, _symbol, payload in items:
                if "ts" in payload:
                    payload["ts"] = ts
            publish(items, ts)
            sent += due
        await asyncio.sleep(max(0.0005, start + (sent + 1) / rate - loop.time()))
