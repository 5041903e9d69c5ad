"""client_order_id idempotency: duplicates, key reuse, refused requests, replace keys, TTL."""

from __future__ import annotations

from typing import Any

import orjson

from exchange.engine.types import NewOrder, OpenAccount, OrderAccepted, Tick

Harness = Any


def test_same_request_is_a_duplicate_with_current_state(h: Harness) -> None:
    first = h.new("alice", "k1", "buy", "2", "100.00")
    h.new("bob", "b1", "sell", "1", "100.00")
    before = h.engine.state_hash()
    again = h.new("alice", "k1", "buy", "2.0000", "100.000")  # same values, other spelling
    assert len(again) == 1
    ack = again[0]
    assert isinstance(ack, OrderAccepted) and ack.duplicate and ack.exec_seq is None
    assert ack.order.order_id == first[0].order.order_id
    assert ack.order.status == "partially_filled" and ack.order.filled_qty == 10000
    assert h.engine.state_hash() == before
    assert h.engine.latest_exec_seq("alice") == 2


def test_default_tif_is_part_of_the_normalized_request(h: Harness) -> None:
    h.new("alice", "k1", "buy", "1", "100.00")
    assert h.new("alice", "k1", "buy", "1", "100.00", tif="gtc")[0].duplicate


def test_same_key_different_request_is_refused(h: Harness) -> None:
    h.new("alice", "k1", "buy", "1", "100.00")
    before = h.engine.state_hash()
    for kwargs in (
        {"price": "100.01"},
        {"qty": "2"},
        {"tif": "ioc"},
        {"post_only": True},
        {"symbol": "ETH-USD"},
    ):
        args: dict[str, Any] = {"side": "buy", "qty": "1", "price": "100.00", **kwargs}
        ev = h.new("alice", "k1", **args)
        assert ev[0].code == "DUPLICATE_CLIENT_ORDER_ID", kwargs
    assert h.new("alice", "k1", "sell", "1", "100.00")[0].code == "DUPLICATE_CLIENT_ORDER_ID"
    assert h.engine.state_hash() == before


def test_keys_are_per_account(h: Harness) -> None:
    h.new("alice", "k1", "buy", "1", "100.00")
    ev = h.new("bob", "k1", "buy", "1", "100.00")
    assert not ev[0].duplicate and ev[0].order.order_id == "O2"


def test_refused_request_does_not_use_the_key(h: Harness) -> None:
    assert h.new("alice", "k1", "buy", "1", "100.00", post_only=True, tif="fok")[0].code
    assert h.new("alice", "k1", "buy", "0", "100.00")[0].code == "INVALID_QTY"
    ev = h.new("alice", "k1", "buy", "1", "100.00")
    assert isinstance(ev[0], OrderAccepted) and not ev[0].duplicate


def test_fully_filled_ioc_retry_is_duplicate(h: Harness) -> None:
    h.new("bob", "b1", "sell", "1", "100.00")
    h.new("alice", "k1", "buy", "1", tif="ioc")
    ev = h.new("alice", "k1", "buy", "1", tif="ioc")
    assert ev[0].duplicate and ev[0].order.status == "filled"


def test_replace_key_is_idempotent_too(h: Harness) -> None:
    h.new("alice", "k1", "buy", "2", "100.00")
    ev = h.replace("alice", "k2", "k1", qty="1")
    assert ev[0].exec_seq == 2 and ev[0].order.client_order_id == "k2"
    before = h.engine.state_hash()
    again = h.replace("alice", "k2", "k1", qty="1")
    assert again[0].duplicate and again[0].exec_seq is None and len(again) == 1
    assert h.replace("alice", "k2", "k1", qty="1.5")[0].code == "DUPLICATE_CLIENT_ORDER_ID"
    assert h.new("alice", "k2", "buy", "1", "100.00")[0].code == "DUPLICATE_CLIENT_ORDER_ID"
    assert h.engine.state_hash() == before
    # both keys find the (one) order
    assert h.engine.find_order("alice", "k1") == h.engine.find_order("alice", "k2")


def test_keys_kept_for_ttl_then_purged(make_harness: Any) -> None:
    ttl = 1_000
    h = make_harness(idempotency_ttl_ns=ttl)
    h.open("alice")
    h.open("bob")
    h.new("alice", "k1", "buy", "1", tif="ioc", price="100.00")  # expires at once
    h.new("alice", "k2", "buy", "1", "99.00")  # stays open
    h.ts += ttl - 10
    assert h.new("alice", "k1", "buy", "1", "100.00", tif="ioc")[0].duplicate
    h.ts += 100
    h.do(Tick(h.ts))
    assert h.engine.find_order("alice", "k1") is None
    ev = h.new("alice", "k1", "buy", "1", "98.00")  # the key is free again
    assert isinstance(ev[0], OrderAccepted) and not ev[0].duplicate
    assert h.engine.find_order("alice", "k2").status == "open"  # open order keeps its key
    assert h.new("alice", "k2", "buy", "1", "99.00")[0].duplicate


def test_unknown_account_new_order(h: Harness) -> None:
    ev = h.do(NewOrder("ghost", "g1", "BTC-USD", "buy", "limit", "1", "1.00", ts=h.ts))
    assert ev[0].code == "INSUFFICIENT_FUNDS" and ev[0].message == "unknown account"


def test_an_account_with_its_own_key_ttl_purges_sooner_and_survives_a_snapshot(
    make_harness: Any,
) -> None:
    day, short = 10_000, 1_000
    h = make_harness(idempotency_ttl_ns=day)
    h.open("alice")
    h.do(OpenAccount("sim", 10**18, (("BTC-USD", 10**12),), key_ttl_ns=short))
    for acct in ("alice", "sim"):
        h.new(acct, "k1", "buy", "1", tif="ioc", price="100.00")  # closed at once
        h.new(acct, "k2", "buy", "1", "99.00")  # stays open
    # A restart in between: the TTL and both purge queues come back from the snapshot.
    h.engine = type(h.engine).from_snapshot(h.engine.to_snapshot())
    h.ts += short + 10
    h.do(Tick(h.ts))
    assert h.engine.find_order("sim", "k1") is None  # purged after its own TTL
    assert h.engine.find_order("alice", "k1") is not None  # the engine's TTL: still kept
    assert h.new("sim", "k2", "buy", "1", "99.00")[0].duplicate  # open orders keep their key
    assert h.new("alice", "k1", "buy", "1", "100.00", tif="ioc")[0].duplicate
    ev = h.new("sim", "k1", "buy", "1", "98.00")
    assert isinstance(ev[0], OrderAccepted) and not ev[0].duplicate
    h.ts += day
    h.do(Tick(h.ts))
    assert h.engine.find_order("alice", "k1") is None


def test_snapshot_of_default_accounts_has_no_key_ttl_fields(h: Harness) -> None:
    # Older snapshots (and state hashes) are unchanged for accounts without their own TTL.
    h.new("alice", "k1", "buy", "1", "99.00")
    doc = orjson.loads(h.engine.to_snapshot())
    assert "key_queues" not in doc and all(len(rec) == 10 for rec in doc["accounts"])
