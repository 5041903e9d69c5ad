"""The engine's rendered wire payloads conform to the ``shared`` models (the models are the
source of truth), and ``L2Book`` follows the engine's book deltas with every checksum."""

from __future__ import annotations

import random
from typing import get_args

import orjson

from exchange.engine import Engine
from exchange.engine.render import (
    render_account,
    render_market,
    render_private,
    render_snapshot,
)
from exchange.engine.types import (
    CancelOrder,
    Command,
    MarketEvent,
    NewOrder,
    OpenAccount,
    SymbolSpec,
)
from shared.book import L2Book
from shared.codec import decode_market, decode_message, decode_model
from shared.models import AccountInfo, BookDeltaPayload, BookSnapshotPayload

MARKET_EVENTS = get_args(MarketEvent)


def commands(rng: random.Random, n: int) -> list[Command]:
    out: list[Command] = []
    for i in range(n):
        ts = (i + 1) * 1_000_000
        account = rng.choice("ab")
        side = rng.choice(["buy", "sell"])
        r = rng.random()
        if r < 0.6:
            price = f"{rng.randint(95, 105)}.{rng.choice(['00', '50'])}"
            qty = f"{rng.randint(1, 5)}.{rng.randint(0, 999):03d}"
            out.append(NewOrder(account, f"c{i}", "X", side, "limit", qty, price, ts=ts))
        elif r < 0.7:
            out.append(NewOrder(account, f"c{i}", "X", side, "market", "1.000", ts=ts))
        elif r < 0.9:
            out.append(CancelOrder(account, client_order_id=f"c{rng.randint(0, i)}", ts=ts))
        else:  # rejects and duplicates
            out.append(NewOrder(account, f"c{rng.randint(0, i)}", "X", side, "limit", "1", "1e3", ts=ts))  # fmt: skip
    return out


def test_rendered_events_decode_and_books_follow() -> None:
    engine = Engine(
        [SymbolSpec("X", 2, 3, 50, 1, 1)],
        maker_fee_bps=1,
        taker_fee_bps=2,
        idempotency_ttl_ns=10**15,
    )
    for account in ("a", "b"):
        engine.handle(OpenAccount(account, cash=10**15, positions=(("X", 10**9),)))
    book = L2Book("X")
    book.apply_snapshot(
        decode_model(BookSnapshotPayload, orjson.dumps(render_snapshot(engine.book_snapshot("X"), engine)))
    )  # fmt: skip
    seen: dict[str, int] = {}
    for cmd in commands(random.Random(7), 1500):
        for event in engine.handle(cmd):
            if isinstance(event, MARKET_EVENTS):
                name, data = render_market(event, engine)
                payload = decode_market(name, orjson.dumps(data))
                if isinstance(payload, BookDeltaPayload):
                    assert book.apply_delta(payload)
            else:
                name = decode_message(orjson.dumps(render_private(event, engine))).type
            seen[name] = seen.get(name, 0) + 1
    for kind in ("order.ack", "order.fill", "order.canceled", "order.reject", "book", "trade"):
        assert seen.get(kind, 0) > 0, (kind, seen)
    assert book.seq == engine.book_snapshot("X").seq
    assert book.checksum() == engine.book_snapshot("X").checksum
    view = engine.account_view("a")
    assert view is not None
    info = decode_model(AccountInfo, orjson.dumps(render_account(view, engine)))
    assert info.account == "a"
    assert info.latest_exec_seq == view.latest_exec_seq
