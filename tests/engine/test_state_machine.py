"""Hypothesis state machine: random commands from several accounts, invariants after each step.

Checked after every step: book never crossed at rest; leaves + filled = qty; level totals
equal the resting leaves; each fill within its limit; price-time priority (makers consumed
are a prefix of the pre-step queues, best price first); cash + positions conserved up to
fees; no negative available cash or inventory; reservations add up; exec_seq consecutive;
idempotent retries change nothing; a shadow engine fed the same log (a replay) has the same
events and state_hash; a snapshot round trip keeps the state_hash.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from exchange.engine import Engine
from exchange.engine.accounts import fee_for
from exchange.engine.types import (
    BookDelta,
    CancelAll,
    CancelOrder,
    Command,
    Event,
    NewOrder,
    OpenAccount,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
    ReplaceOrder,
    SymbolSpec,
    Tick,
    Trade,
)

SPEC = SymbolSpec("XYZ", price_decimals=1, qty_decimals=0, tick_size=5, lot_size=1, min_qty=1)
ACCOUNTS = ("a", "b", "c")
CASH = 2_000_000  # cash units (1 decimal): 200,000.0
STOCK = 40
prices = st.integers(90, 110).map(lambda t: f"{t * 0.5:.1f}")
qtys = st.integers(1, 6).map(str)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {"maker_fee_bps": 3, "taker_fee_bps": 7}
        self.engine = Engine([SPEC], **kwargs)
        self.shadow = Engine([SPEC], **kwargs)
        self.ts = 0
        self.n = 0
        self.accepted: list[NewOrder] = []
        self.keys: dict[str, list[str]] = {a: [] for a in ACCOUNTS}
        self.last_seq = dict.fromkeys((*ACCOUNTS, "mm"), 0)
        for name in ACCOUNTS:
            self.send(OpenAccount(name, CASH, (("XYZ", STOCK),)))
        self.send(OpenAccount("mm", 0, (), risk_exempt=True))

    # ------------------------------------------------------------------ driver
    def queues(self) -> dict[tuple[bool, int], list[str]]:
        book = self.engine.books["XYZ"]
        out = {}
        for is_bid, side in ((True, book.bids), (False, book.asks)):
            for price, level in side.items():
                out[(is_bid, price)] = [o.order_id for o in level.orders()]
        return out

    def send(self, cmd: Command) -> list[Event]:
        before = self.queues()
        events = self.engine.handle(cmd)
        assert self.shadow.handle(cmd) == events
        for e in events:
            if isinstance(e, BookDelta):  # the cached checksum equals a fresh one
                assert e.checksum == self.engine.books["XYZ"].checksum()
        self.check_events(cmd, events, before)
        if any(isinstance(e, OrderTriggered) for e in events):
            event("a stop order triggered")  # in --hypothesis-show-statistics
        return events

    def check_events(self, cmd: Command, events: list[Event], before: dict[Any, list[str]]) -> None:
        for e in events:
            if getattr(e, "exec_seq", None) is not None:
                acct = e.account  # type: ignore[union-attr]
                assert e.exec_seq == self.last_seq[acct] + 1  # type: ignore[union-attr]
                self.last_seq[acct] = e.exec_seq  # type: ignore[union-attr]
        all_trades = [e for e in events if isinstance(e, Trade)]
        if not all_trades:
            return
        # the command's own order trades first; triggered stop orders trade after it, each
        # as an incoming order of its own (checked for price and self-trade only: the
        # queues they meet are no longer the ones before the command)
        trades = [t for t in all_trades if t.taker_order_id == all_trades[0].taker_order_id]
        triggered = {e.order_id for e in events if isinstance(e, OrderTriggered)}
        for t in all_trades[len(trades) :]:
            assert t.taker_order_id in triggered
            taker = self.engine.orders[t.taker_order_id]
            maker = self.engine.orders[t.maker_order_id]
            assert maker.account != taker.account and t.price == maker.price
            if taker.price is not None:
                assert t.price <= taker.price if taker.is_buy else t.price >= taker.price
        taker = self.engine.orders[trades[0].taker_order_id]
        consumed: dict[int, list[str]] = {}
        last_price = None
        for t in trades:
            assert t.taker_order_id == taker.order_id
            maker = self.engine.orders[t.maker_order_id]
            assert maker.account != taker.account
            assert t.price == maker.price
            if taker.price is not None:
                assert t.price <= taker.price if taker.is_buy else t.price >= taker.price
            if last_price is not None:
                assert t.price >= last_price if taker.is_buy else t.price <= last_price
            last_price = t.price
            ids = consumed.setdefault(t.price, [])
            if not ids or ids[-1] != maker.order_id:
                ids.append(maker.order_id)
        for price, ids in consumed.items():
            queue = before[(not taker.is_buy, price)]
            assert queue[: len(ids)] == ids, (price, queue, ids)
        best = min(p for (b, p) in before if b is False) if taker.is_buy else None
        if taker.is_buy and best is not None:
            assert trades[0].price == best
        fills = [e for e in events if isinstance(e, OrderFilled)]
        assert len(fills) == 2 * len(all_trades)
        for f in fills:
            rate = 3 if f.liquidity == "maker" else 7
            assert f.fee == fee_for(f.price * f.qty, rate)

    def tick(self) -> int:
        self.ts += 1_000_000
        return self.ts

    # ------------------------------------------------------------------ rules
    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(["buy", "sell"]),
        price=prices,
        qty=qtys,
        tif=st.sampled_from([None, "gtc", "ioc", "fok"]),
        post_only=st.booleans(),
    )
    def limit(
        self, account: str, side: str, price: str, qty: str, tif: str | None, post_only: bool
    ) -> None:
        self.n += 1
        self.new(
            NewOrder(
                account,
                f"k{self.n}",
                "XYZ",
                side,
                "limit",
                qty,
                price,
                tif,
                post_only and tif in (None, "gtc"),
                self.tick(),
            )
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(["buy", "sell"]),
        qty=qtys,
        fok=st.booleans(),
    )
    def market(self, account: str, side: str, qty: str, fok: bool) -> None:
        self.n += 1
        self.new(
            NewOrder(
                account,
                f"k{self.n}",
                "XYZ",
                side,
                "market",
                qty,
                None,
                "fok" if fok else None,
                False,
                self.tick(),
            )
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(["buy", "sell"]),
        stop_price=prices,
        price=st.none() | prices,
        qty=qtys,
    )
    def stop(self, account: str, side: str, stop_price: str, price: str | None, qty: str) -> None:
        self.n += 1
        otype = "stop" if price is None else "stop_limit"
        self.new(
            NewOrder(
                account,
                f"k{self.n}",
                "XYZ",
                side,
                otype,
                qty,
                price,
                None,
                False,
                self.tick(),
                stop_price,
            )
        )

    @rule(side=st.sampled_from(["buy", "sell"]), price=prices, qty=qtys)
    def exempt_liquidity(self, side: str, price: str, qty: str) -> None:
        self.n += 1
        self.new(
            NewOrder("mm", f"k{self.n}", "XYZ", side, "limit", qty, price, None, False, self.tick())
        )

    def new(self, cmd: NewOrder) -> None:
        events = self.send(cmd)
        if isinstance(events[0], OrderAccepted):
            self.accepted.append(cmd)
            self.keys.setdefault(cmd.account, []).append(cmd.client_order_id)

    @precondition(lambda self: bool(self.accepted))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        cmd = data.draw(st.sampled_from(self.accepted))
        before = self.engine.state_hash()
        events = self.send(cmd)
        assert len(events) == 1 and isinstance(events[0], OrderAccepted) and events[0].duplicate
        assert events[0].exec_seq is None
        assert self.engine.state_hash() == before

    @precondition(lambda self: any(self.keys.values()))
    @rule(data=st.data(), by_id=st.booleans())
    def cancel(self, data: st.DataObject, by_id: bool) -> None:
        account = data.draw(st.sampled_from([a for a, k in self.keys.items() if k]))
        coid = data.draw(st.sampled_from(self.keys[account]))
        view = self.engine.find_order(account, coid)
        assert view is not None
        cmd = CancelOrder(
            account, None if by_id else coid, view.order_id if by_id else None, self.tick()
        )
        events = self.send(cmd)
        if view.status == "canceled":
            assert isinstance(events[0], OrderCanceled) and events[0].duplicate
        elif view.status == "filled":
            assert events[0].code == "ORDER_NOT_OPEN"  # type: ignore[union-attr]
        else:
            assert isinstance(events[0], OrderCanceled) and events[0].exec_seq is not None

    @precondition(lambda self: any(self.keys.values()))
    @rule(data=st.data(), price=st.none() | prices, qty=st.none() | qtys)
    def replace(self, data: st.DataObject, price: str | None, qty: str | None) -> None:
        account = data.draw(st.sampled_from([a for a, k in self.keys.items() if k]))
        orig = data.draw(st.sampled_from(self.keys[account]))
        self.n += 1
        events = self.send(ReplaceOrder(account, f"k{self.n}", orig, price, qty, self.tick()))
        if isinstance(events[0], OrderAccepted):
            self.keys[account].append(f"k{self.n}")

    @rule(account=st.sampled_from(ACCOUNTS))
    def cancel_all(self, account: str) -> None:
        self.send(CancelAll(account, "XYZ", ts=self.tick()))

    @rule(seconds=st.integers(1, 90))
    def advance(self, seconds: int) -> None:
        self.ts += seconds * 1_000_000_000
        self.send(Tick(self.ts))

    # ------------------------------------------------------------------ invariants
    @invariant()
    def book_consistent(self) -> None:
        book = self.engine.books["XYZ"]
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        resting = set()
        for side in (book.bids, book.asks):
            for price, level in side.items():
                orders = level.orders()
                assert orders and level.count == len(orders)
                assert level.qty == sum(o.leaves for o in orders)
                for o in orders:
                    assert o.price == price and o.is_open and o.leaves > 0
                    resting.add(o.order_id)
        assert sorted(book.bid_prices) == book.bid_prices == sorted(book.bids)
        assert sorted(book.ask_keys) == book.ask_keys == sorted(-p for p in book.asks)
        waiting = {o.order_id for sb in self.engine.stops.values() for o in sb.orders()}
        assert not resting & waiting
        assert all(len(sb) for sb in self.engine.stops.values())
        opened = {oid for a in self.engine.accounts.values() for oid in a.open_orders}
        assert opened == resting | waiting
        last = self.engine.markets["XYZ"].last
        for o in self.engine.orders.values():
            assert o.leaves + o.filled == o.qty and o.leaves >= 0
            assert o.is_open == (o.order_id in opened)
            assert o.waiting == (o.order_id in waiting)
            if o.waiting and last is not None:  # nothing waits that the last trade reached
                assert o.stop_price > last if o.is_buy else o.stop_price < last

    @invariant()
    def money_conserved(self) -> None:
        eng = self.engine
        total_cash = sum(a.cash for a in eng.accounts.values())
        assert total_cash + eng.fees_collected == CASH * len(ACCOUNTS)
        total_qty = sum(
            a.positions["XYZ"].qty for a in eng.accounts.values() if "XYZ" in a.positions
        )
        assert total_qty == STOCK * len(ACCOUNTS)
        for acct in eng.accounts.values():
            held = [o for o in acct.open_orders.values()]
            if acct.risk_exempt:
                assert acct.reserved_cash == 0
                continue
            assert acct.cash - acct.reserved_cash >= 0
            assert acct.reserved_cash == sum(o.reserved for o in held if o.is_buy)
            pos = acct.positions["XYZ"]
            assert pos.reserved == sum(o.leaves for o in held if not o.is_buy)
            assert pos.qty - pos.reserved >= 0
            for o in held:
                if o.is_buy:
                    assert o.reserved >= o.leaves * (o.price or o.stop_price)

    @invariant()
    def replay_and_snapshot(self) -> None:
        digest = self.engine.state_hash()
        assert self.shadow.state_hash() == digest
        assert Engine.from_snapshot(self.engine.to_snapshot()).state_hash() == digest


EngineMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
