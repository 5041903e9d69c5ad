"""Engine snapshots: the whole state as canonical JSON bytes, and back.

Exports: ``encode``, ``decode``, ``SNAPSHOT_VERSION``.

Contract: ``decode(Engine, encode(e))`` is an engine in the same state as ``e``:
``encode`` of it gives the same bytes, so ``state_hash`` is equal. Mappings keyed by
name are written with sorted keys; ordered collections (orders, levels, keys, accounts) as
lists in their insertion order, which a deterministic engine makes the same for the same
command log and ``decode`` restores.
Raises ``SnapshotError`` for bytes that are not a snapshot of this version.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from typing import Any, TypeVar

from exchange.engine.accounts import Account, PositionState
from exchange.engine.core import EngineCore
from exchange.engine.errors import SnapshotError
from exchange.engine.marketdata import SymbolMarket
from exchange.engine.orders import Order
from exchange.engine.types import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
    OrderView,
    SymbolSpec,
)

#: Any engine class: every field a snapshot holds is ``EngineCore`` state.
E = TypeVar("E", bound=EngineCore)

__all__ = ["SNAPSHOT_VERSION", "decode", "encode"]

SNAPSHOT_VERSION = 1
_EVENT_TYPES: dict[str, type] = {
    "OrderAccepted": OrderAccepted,
    "OrderFilled": OrderFilled,
    "OrderCanceled": OrderCanceled,
    "OrderTriggered": OrderTriggered,
}
#: OrderView fields a record leaves out when they hold their default (the stop order
#: fields), so an engine without stop orders snapshots (and hashes) as it did before them
_VIEW_FIELDS = [f.name for f in dataclasses.fields(OrderView)]
_VIEW_REQUIRED = sum(1 for f in dataclasses.fields(OrderView) if f.default is dataclasses.MISSING)


def _event_record(event: Event) -> list[Any]:
    values = [getattr(event, f.name) for f in dataclasses.fields(event)]
    if isinstance(event, OrderAccepted):
        view = [getattr(event.order, name) for name in _VIEW_FIELDS]
        if event.order.stop_price is None:
            view = view[:_VIEW_REQUIRED]
        values[1] = view
    return [type(event).__name__, values]


def _event_from(rec: list[Any]) -> Event:
    name, values = rec
    if name == "OrderAccepted":
        values[1] = OrderView(*values[1])
    return _EVENT_TYPES[name](*values)


def encode(engine: EngineCore, *, with_clock: bool = True) -> bytes:
    """The snapshot bytes; ``with_clock=False`` leaves out the engine clock (for hashing)."""
    specs = [dataclasses.astuple(s) for s in engine.specs.values()]
    books = {}
    for symbol, book in engine.books.items():
        books[symbol] = [
            [[p, [o.order_id for o in book.bids[p].orders()]] for p in book.bid_prices],
            [[-k, [o.order_id for o in book.asks[-k].orders()]] for k in book.ask_keys],
        ]
    accounts = [
        [
            a.name,
            a.cash,
            a.reserved_cash,
            a.risk_exempt,
            a.fees_paid,
            a.exec_seq,
            [[s, p.qty, p.reserved, p.cost, p.realized] for s, p in a.positions.items()],
            list(a.open_orders),
            [[k, list(fp), oid, ts] for k, (fp, oid, ts) in a.keys.items()],
            [_event_record(e) for e in a.exec_history],
            # appended only when set, so older snapshots (and their hashes) stay the same
            *((a.key_ttl,) if a.key_ttl else ()),
        ]
        for a in engine.accounts.values()
    ]
    doc = {
        "version": SNAPSHOT_VERSION,
        "config": [
            specs,
            engine.maker_fee_bps,
            engine.taker_fee_bps,
            engine.idempotency_ttl_ns,
            engine.exec_history,
        ],
        "clock": [
            engine.now if with_clock else None,
            engine.order_seq,
            engine.fees_collected,
            engine.next_candle_close,
        ],
        "markets": {s: m.to_record() for s, m in engine.markets.items()},
        "orders": [o.to_record() for o in engine.orders.values()],
        "books": books,
        "accounts": accounts,
        "key_queue": list(engine.key_queue),
    }
    if any(engine.key_queues.values()):
        doc["key_queues"] = {str(ttl): list(q) for ttl, q in engine.key_queues.items() if q}
    # stdlib json, not orjson: cash in small units can exceed 64 bits, which orjson refuses
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def decode(cls: type[E], data: bytes) -> E:
    try:
        doc = json.loads(data)
        if doc.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"unsupported snapshot version {doc.get('version')!r}")
        return _restore(cls, doc)
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"not an engine snapshot: {exc}") from exc


def _restore(cls: type[E], doc: dict[str, Any]) -> E:
    specs, maker, taker, ttl, history = doc["config"]
    engine = cls(
        [SymbolSpec(*s) for s in specs],
        maker_fee_bps=maker,
        taker_fee_bps=taker,
        idempotency_ttl_ns=ttl,
        exec_history=history,
    )
    engine.now, engine.order_seq, engine.fees_collected, engine.next_candle_close = doc["clock"]
    engine.markets = {s: SymbolMarket.from_record(s, r) for s, r in doc["markets"].items()}
    orders = {o.order_id: o for o in map(Order.from_record, doc["orders"])}
    engine.orders = orders
    for symbol, (bids, asks) in doc["books"].items():
        book = engine.books[symbol]
        for _price, ids in bids + asks:
            for oid in ids:
                book.add(orders[oid])
        book.take_changes()
    for order in orders.values():  # in seq order, as they were placed
        if order.waiting:
            engine._add_stop(order)
    for rec in doc["accounts"]:
        name, cash, reserved, exempt, fees, exec_seq, positions, open_ids, keys, hist = rec[:10]
        acct = Account(name, cash, exempt, history)
        if len(rec) > 10:
            acct.key_ttl = int(rec[10])
        acct.reserved_cash = reserved
        acct.fees_paid = fees
        acct.exec_seq = exec_seq
        for symbol, qty, pres, cost, realized in positions:
            pos = acct.positions[symbol] = PositionState(qty, cost)
            pos.reserved = pres
            pos.realized = realized
        acct.open_orders = {oid: orders[oid] for oid in open_ids}
        acct.keys = {k: (tuple(fp), oid, ts) for k, fp, oid, ts in keys}
        acct.exec_history = deque((_event_from(e) for e in hist), maxlen=history)
        engine.accounts[name] = acct
    engine.key_queue = deque(tuple(e) for e in doc["key_queue"])
    for ttl, entries in doc.get("key_queues", {}).items():
        engine.key_queues[int(ttl)] = deque(tuple(e) for e in entries)
    return engine
