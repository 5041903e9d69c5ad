"""Crash recovery end to end: an Engine journaled, the journal torn at random byte offsets,
then snapshot + tail recovered into a fresh Engine must equal a replay of the surviving
prefix of commands (same ``state_hash``, idempotency keys and execution streams included)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.engine import Engine
from exchange.engine.types import (
    CancelAll,
    CancelOrder,
    Command,
    NewOrder,
    OpenAccount,
    OrderFilled,
    ReplaceOrder,
    SymbolSpec,
    Tick,
)
from exchange.journal import Journal, decode_command, encode_command
from exchange.journal.segment import RECORD_HEADER, SEGMENT_HEADER, list_segments

BTC = SymbolSpec("BTC-USD", price_decimals=2, qty_decimals=4, tick_size=1, lot_size=1, min_qty=1)
ETH = SymbolSpec("ETH-USD", price_decimals=2, qty_decimals=2, tick_size=5, lot_size=1, min_qty=10)
SPECS = [BTC, ETH]
ACCOUNTS = ("alice", "bob", "carol")


def new_engine() -> Engine:
    return Engine(SPECS, maker_fee_bps=1, taker_fee_bps=5)


def random_commands(seed: int, n: int) -> list[Command]:
    """A seeded mix: limits near the touch, crossing limits, markets, IOC/FOK, cancels,
    replaces, cancel-alls, retries of earlier keys, ticks, and some invalid input."""
    rng = random.Random(seed)
    ts = 1_700_000_000_000_000_000
    cmds: list[Command] = [
        OpenAccount(a, 10**15, (("BTC-USD", 10**9), ("ETH-USD", 10**7)), ts=ts) for a in ACCOUNTS
    ]
    sent: list[NewOrder] = []
    for i in range(n):
        ts += rng.randint(1, 2_000_000_000)
        account = rng.choice(ACCOUNTS)
        roll = rng.random()
        if roll < 0.55 or not sent:
            symbol = rng.choice(("BTC-USD", "ETH-USD"))
            ticks = rng.randint(9_990, 10_010) * (1 if symbol == "BTC-USD" else 5)
            market = rng.random() < 0.1
            cmd: Command = NewOrder(
                account,
                f"c{i}",
                symbol,
                rng.choice(("buy", "sell")),
                "market" if market else "limit",
                f"{rng.randint(1, 30) * (1 if symbol == 'BTC-USD' else 10) / 100:.2f}",
                None if market else f"{ticks // 100}.{ticks % 100:02d}",
                rng.choice((None, None, "gtc", "ioc", "fok")) if not market else None,
                rng.random() < 0.1 and not market,
                ts,
            )
            if isinstance(cmd, NewOrder):
                sent.append(cmd)
        elif roll < 0.7:
            old = rng.choice(sent)
            cmd = CancelOrder(old.account, client_order_id=old.client_order_id, ts=ts)
        elif roll < 0.8:
            old = rng.choice(sent)
            cmd = ReplaceOrder(old.account, f"r{i}", old.client_order_id, qty=old.qty, ts=ts)
        elif roll < 0.87:
            old = rng.choice(sent)  # a retry of an earlier request: must change nothing
            cmd = dataclasses.replace(old, ts=ts)
        elif roll < 0.9:
            cmd = CancelAll(account, rng.choice((None, "BTC-USD")), ts=ts)
        elif roll < 0.95:
            cmd = Tick(ts)
        else:
            cmd = NewOrder(account, f"bad{i}", "BTC-USD", "buy", "limit", "-1", "1e3", ts=ts)
        cmds.append(cmd)
    return cmds


def replay(cmds: list[Command]) -> Engine:
    engine = new_engine()
    for cmd in cmds:
        engine.handle(cmd)
    return engine


def canonical_state(engine: Engine) -> bytes:
    """The whole engine snapshot (clock included, which ``state_hash`` leaves out) with map keys
    sorted, so this comparison does not depend on how the engine orders its dicts."""
    return json.dumps(json.loads(engine.to_snapshot()), sort_keys=True).encode()


def crash_and_recover(
    seed: int, snapshot_every: int, data: st.DataObject
) -> tuple[Engine, Engine, int]:
    """Journal a random workload, tear the last segment at a drawn byte offset, recover.

    Returns the recovered engine, a fresh replay of the surviving prefix, and the prefix
    length; asserts what the journal itself promises along the way.
    """
    cmds = random_commands(seed, 120)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        engine = new_engine()
        fills = 0
        with Journal.open(directory, "batch") as journal:
            journal.recover()
            for cmd in cmds:
                seq = journal.append(encode_command(cmd))
                fills += sum(isinstance(e, OrderFilled) for e in engine.handle(cmd))
                if snapshot_every and seq % snapshot_every == 0:
                    journal.write_snapshot(seq, engine.to_snapshot())
                if seq % 7 == 0:
                    journal.sync()
        assert fills > 0  # the workload really trades
        # A crash tears the last segment at any byte offset after its header.
        first, last = list_segments(directory)[-1]
        size = last.stat().st_size
        cut = data.draw(st.integers(SEGMENT_HEADER.size, size), label="cut")
        os.truncate(last, cut)
        boundaries = [SEGMENT_HEADER.size]
        for cmd in cmds[first - 1 :]:
            boundaries.append(boundaries[-1] + RECORD_HEADER.size + len(encode_command(cmd)))
        assert boundaries[-1] == size
        complete = [b for b in boundaries if b <= cut]
        surviving = first - 1 + len(complete) - 1

        with Journal.open(directory, "batch") as journal:
            rec = journal.recover()
            restored = (
                Engine.from_snapshot(rec.snapshot) if rec.snapshot is not None else new_engine()
            )
            for _, payload in rec.records:
                restored.handle(decode_command(payload))
            assert rec.last_seq == surviving
            assert rec.torn_tail == (cut != complete[-1])
            assert rec.dropped_bytes == cut - complete[-1]
            # The lost command is re-sent and sequenced under the next seq.
            if surviving < len(cmds):
                assert journal.append(encode_command(cmds[surviving])) == surviving + 1
    return restored, replay(cmds[:surviving]), surviving


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    snapshot_every=st.sampled_from([0, 17, 40]),
    data=st.data(),
)
def test_recovered_state_equals_replay_of_surviving_prefix(
    seed: int, snapshot_every: int, data: st.DataObject
) -> None:
    restored, expected, _ = crash_and_recover(seed, snapshot_every, data)
    assert canonical_state(restored) == canonical_state(expected)
    for account in ACCOUNTS:
        assert restored.executions_after(account, 0) == expected.executions_after(account, 0)
        assert restored.account_view(account) == expected.account_view(account)
    for spec in SPECS:
        assert restored.book_snapshot(spec.symbol) == expected.book_snapshot(spec.symbol)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    snapshot_every=st.sampled_from([0, 17, 40]),
    data=st.data(),
)
def test_recovered_state_hash_equals_replay_of_surviving_prefix(
    seed: int, snapshot_every: int, data: st.DataObject
) -> None:
    restored, expected, _ = crash_and_recover(seed, snapshot_every, data)
    assert restored.state_hash() == expected.state_hash()
