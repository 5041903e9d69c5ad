"""Fixtures for the engine tests: a small harness that stamps ts and keeps the command log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from exchange.engine import Engine
from exchange.engine.types import (
    CancelOrder,
    Command,
    Event,
    NewOrder,
    OpenAccount,
    ReplaceOrder,
    SymbolSpec,
)

T = TypeVar("T")

#: BTC-USD: price 2 decimals (tick 0.01), qty 4 decimals (lot 0.0001, min 0.0001).
BTC = SymbolSpec("BTC-USD", price_decimals=2, qty_decimals=4, tick_size=1, lot_size=1, min_qty=1)
#: ETH-USD: tick 0.05, lot 0.01, min qty 0.10.
ETH = SymbolSpec("ETH-USD", price_decimals=2, qty_decimals=2, tick_size=5, lot_size=1, min_qty=10)
RICH = 10**18


class Harness:
    """Drives an engine: stamps rising ``ts`` and records every command sent."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ts = 1_000_000_000
        self.log: list[Command] = []

    def do(self, cmd: Command) -> list[Event]:
        self.log.append(cmd)
        return self.engine.handle(cmd)

    def open(self, account: str, cash: int = RICH, btc: int = 10**12, exempt: bool = False) -> None:
        self.do(OpenAccount(account, cash, (("BTC-USD", btc), ("ETH-USD", btc)), exempt))

    def new(
        self,
        account: str,
        coid: str,
        side: str,
        qty: str,
        price: str | None = None,
        order_type: str | None = None,
        tif: str | None = None,
        post_only: bool = False,
        symbol: str = "BTC-USD",
        step: int = 1,
    ) -> list[Event]:
        self.ts += step
        otype = order_type or ("limit" if price is not None else "market")
        return self.do(
            NewOrder(account, coid, symbol, side, otype, qty, price, tif, post_only, self.ts)
        )

    def cancel(
        self, account: str, coid: str | None = None, order_id: str | None = None
    ) -> list[Event]:
        self.ts += 1
        return self.do(CancelOrder(account, coid, order_id, self.ts))

    def replace(
        self, account: str, coid: str, orig: str, price: str | None = None, qty: str | None = None
    ) -> list[Event]:
        self.ts += 1
        return self.do(ReplaceOrder(account, coid, orig, price, qty, self.ts))

    @staticmethod
    def only(events: list[Event], cls: type[T]) -> list[T]:
        """The events of one type, in order."""
        return [e for e in events if isinstance(e, cls)]


@pytest.fixture
def make_harness() -> Callable[..., Harness]:
    def make(**kwargs: Any) -> Harness:
        return Harness(Engine([BTC, ETH], **kwargs))

    return make


@pytest.fixture
def h(make_harness: Callable[..., Harness]) -> Harness:
    harness = make_harness()
    for name in ("alice", "bob", "carol"):
        harness.open(name)
    return harness
