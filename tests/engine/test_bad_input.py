"""Property: one malformed field -> one reject with the right code, state_hash unchanged."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.engine import Engine
from exchange.engine.errors import Rejection
from exchange.engine.types import (
    CancelAll,
    CanceledAll,
    CancelOrder,
    NewOrder,
    OpenAccount,
    OrderRejected,
    ReplaceOrder,
    SymbolSpec,
)
from exchange.engine.validation import COID_RE, check_coid

SPEC = SymbolSpec(
    "BTC-USD", price_decimals=2, qty_decimals=4, tick_size=5, lot_size=10, min_qty=100
)
VALID = re.compile(r"[0-9]+(\.[0-9]+)?")


def engine() -> Engine:
    eng = Engine([SPEC])
    eng.handle(OpenAccount("alice", 10**20, (("BTC-USD", 10**12),)))
    eng.handle(NewOrder("alice", "seed", "BTC-USD", "sell", "limit", "1", "200.00", ts=5))
    return eng


ENGINE = engine()
GOOD: dict[str, Any] = {
    "account": "alice",
    "client_order_id": "k1",
    "symbol": "BTC-USD",
    "side": "buy",
    "order_type": "limit",
    "qty": "1.0000",
    "price": "100.05",
    "ts": 5,
}

not_decimal = st.text(max_size=12).filter(lambda s: not VALID.fullmatch(s))
off_tick = st.integers(1, 10**6).filter(lambda u: u % 5).map(lambda u: f"{u // 100}.{u % 100:02d}")
too_fine = st.integers(1, 10**6).map(lambda u: f"{u}.001")
off_lot = (
    st.integers(100, 10**6).filter(lambda u: u % 10).map(lambda u: f"{u // 10000}.{u % 10000:04d}")
)
below_min = st.sampled_from(["0.0010", "0.0090", "0", "0.0000"])
wrong_type = st.one_of(
    st.integers(), st.floats(), st.lists(st.integers(), max_size=2), st.booleans()
)

CASES = st.one_of(
    st.tuples(st.just("price"), st.one_of(not_decimal, off_tick, too_fine, st.just("0.00"), st.just("9" * 19)), st.just("INVALID_PRICE")),
    st.tuples(st.just("qty"), st.one_of(not_decimal, off_lot, below_min, st.just("9" * 20)), st.just("INVALID_QTY")),
    st.tuples(st.just("price"), wrong_type, st.just("BAD_REQUEST")),
    st.tuples(st.just("qty"), wrong_type, st.just("BAD_REQUEST")),
    st.tuples(st.just("side"), st.text(max_size=8).filter(lambda s: s not in ("buy", "sell")), st.just("INVALID_SIDE")),
    st.tuples(st.just("order_type"), st.text(max_size=8).filter(lambda s: s not in ("limit", "market")), st.just("INVALID_TYPE")),
    st.tuples(st.just("tif"), st.text(max_size=8).filter(lambda s: s not in ("gtc", "ioc", "fok")), st.just("INVALID_TIF")),
    st.tuples(st.just("symbol"), st.one_of(st.text(max_size=10).filter(lambda s: s != "BTC-USD"), wrong_type), st.just("INVALID_SYMBOL")),
    st.tuples(
        st.just("client_order_id"),
        st.one_of(st.text(max_size=70).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9._:\-]{1,64}", s)), wrong_type),
        st.just("BAD_REQUEST"),
    ),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(case=CASES)
def test_malformed_field_is_rejected_with_its_code(case: tuple[str, Any, str]) -> None:
    field, value, code = case
    before = ENGINE.state_hash()
    events = ENGINE.handle(NewOrder(**{**GOOD, field: value}))
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].code == code, (field, value, events[0])
    assert ENGINE.state_hash() == before


def test_the_good_order_is_accepted() -> None:
    eng = engine()
    assert not isinstance(eng.handle(NewOrder(**GOOD))[0], OrderRejected)


@given(
    st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=70)
    | st.from_regex(COID_RE, fullmatch=True)
)
def test_check_coid_accepts_exactly_the_pattern(coid: str) -> None:
    """The fast path for alphanumeric keys accepts nothing the pattern refuses (Unicode
    letters and digits included), and refuses nothing it accepts."""
    try:
        check_coid(coid)
        accepted = True
    except Rejection:
        accepted = False
    assert accepted == (COID_RE.fullmatch(coid) is not None)


@pytest.mark.parametrize("account", [["x"], {"a": 1}, 7, None, b"alice"])
def test_a_non_string_account_is_a_reject_not_an_exception(account: Any) -> None:
    """Found by the compiled-engine comparison: an unhashable account used to raise
    ``TypeError`` out of ``handle`` (it cannot come off the wire, where the gateway sets the
    account from the token, but ``handle`` never raises on bad input)."""
    engine = Engine([SymbolSpec("BTC-USD", 2, 4, 1, 1, 1)])
    engine.handle(OpenAccount("alice", 10**12, (("BTC-USD", 10**8),)))
    before = engine.state_hash()
    commands = [
        NewOrder(account, "c1", "BTC-USD", "buy", "limit", "0.0001", "100.00"),
        CancelOrder(account, "c1"),
        CancelAll(account),
        ReplaceOrder(account, "c2", "c1", "101.00", None),
    ]
    for cmd in commands:
        events = engine.handle(cmd)
        assert all(isinstance(e, (OrderRejected, CanceledAll)) for e in events), events
        assert all(e.account == "" for e in events)
    assert engine.state_hash() == before
