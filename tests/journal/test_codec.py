"""Codec: every Command round-trips exactly; anything else raises JournalCorrupt."""

from __future__ import annotations

import typing

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.engine.types import (
    CancelAll,
    CancelOrder,
    Command,
    NewOrder,
    OpenAccount,
    ReplaceOrder,
    SetSymbolState,
    Tick,
)
from exchange.journal import JournalCorrupt, RecordTooLarge, decode_command, encode_command
from exchange.journal.codec import COMMAND_TAGS

text = st.text(max_size=20)
opt_text = st.none() | text
i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
ts = st.integers(min_value=0, max_value=2**63 - 1)  # nanosecond clock: 64 bits is ample

commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(
        NewOrder,
        account=text,
        client_order_id=text,
        symbol=text,
        side=text,
        order_type=text,
        qty=text,
        price=opt_text,
        tif=opt_text,
        post_only=st.booleans(),
        ts=ts,
    ),
    st.builds(CancelOrder, account=text, client_order_id=opt_text, order_id=opt_text, ts=ts),
    st.builds(
        ReplaceOrder,
        account=text,
        client_order_id=text,
        orig_client_order_id=text,
        price=opt_text,
        qty=opt_text,
        ts=ts,
    ),
    st.builds(CancelAll, account=text, symbol=opt_text, reason=text, ts=ts),
    st.builds(
        OpenAccount,
        account=text,
        cash=i64,
        positions=st.lists(st.tuples(text, i64), max_size=4).map(tuple),
        risk_exempt=st.booleans(),
        ts=ts,
        costs=st.lists(st.tuples(text, i64), max_size=4).map(tuple),
    ),
    st.builds(SetSymbolState, symbol=text, state=st.sampled_from(["open", "halted"]), ts=ts),
    st.builds(Tick, ts=ts),
)


def test_every_command_class_has_a_tag() -> None:
    assert set(COMMAND_TAGS) == set(typing.get_args(Command))
    assert len(set(COMMAND_TAGS.values())) == len(COMMAND_TAGS)


@given(commands)
def test_round_trip_is_exact(cmd: Command) -> None:
    data = encode_command(cmd)
    back = decode_command(data)
    assert back == cmd
    assert type(back) is type(cmd)
    # Same bytes again: the encoding is a function of the value only.
    assert encode_command(back) == data


def test_defaults_and_none_round_trip() -> None:
    for cmd in (
        NewOrder("a", "c1", "BTC-USD", "buy", "market", "1"),
        CancelOrder("a", order_id="7"),
        CancelAll("a"),
        OpenAccount("a", 0),
        Tick(0),
    ):
        assert decode_command(encode_command(cmd)) == cmd


def test_encoding_is_compact_array_with_tag() -> None:
    data = encode_command(NewOrder("a", "c1", "X", "buy", "limit", "1.5", "100.25", ts=9))
    assert data == b'["N","a","c1","X","buy","limit","1.5","100.25",null,false,9]'


def test_a_stop_order_round_trips_and_other_orders_keep_their_bytes() -> None:
    cmd = NewOrder("a", "c1", "X", "buy", "stop", "1.5", None, None, False, 9, "101.50")
    data = encode_command(cmd)
    assert data == b'["N","a","c1","X","buy","stop","1.5",null,null,false,9,"101.50"]'
    assert decode_command(data) == cmd
    # the field appended for stop orders is left out at its default: the bytes of before
    plain = NewOrder("a", "c1", "X", "buy", "limit", "1.5", "100.25", ts=9)
    assert encode_command(plain).endswith(b"false,9]")
    assert decode_command(encode_command(plain)) == plain


def test_missing_trailing_defaulted_fields_take_defaults() -> None:
    # An older journal written before a defaulted field was appended stays readable.
    assert decode_command(b'["A","bob"]') == CancelAll("bob")
    assert decode_command(b'["N","a","c","X","buy","limit","1"]') == NewOrder(
        "a", "c", "X", "buy", "limit", "1"
    )
    # OpenAccount before ``costs`` was appended: starting positions at cost 0.
    assert decode_command(b'["O","a",5,[["X",1]],false,0]') == OpenAccount("a", 5, (("X", 1),))
    assert decode_command(b'["O","a",5,[["X",1]],false,0,[["X",7]]]').costs == (("X", 7),)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02",
        b"{}",
        b"[]",
        b'"N"',
        b'["Z","a"]',
        b"[1]",
        b'["T"]',  # missing required ts
        b'["T",1,2]',  # too many fields
        b'["T","1"]',  # str where int belongs
        b'["T",1.5]',  # float
        b'["T",true]',  # bool is not an int here
        b'["S","X","open","0"]',
        b'["N","a","c","X","buy","limit","1",null,null,0,1]',  # int where bool belongs
        b'["N","a","c","X","buy","limit",1]',  # qty must be a string
        b'["O","a",5,[["X"]],false,0]',
        b'["O","a",5,[["X","1"]],false,0]',
        b'["O","a",5,{"X":1},false,0]',
        b'["O","a",5,[["X",1]],false,0,[["X","7"]]]',  # a cost must be an int
        b'["O","a",5,[["X",1]],false,0,{"X":7}]',
        b'["C","a",null,null,0',  # truncated JSON
    ],
)
def test_garbage_raises_journal_corrupt(data: bytes) -> None:
    with pytest.raises(JournalCorrupt):
        decode_command(data)


@given(st.binary(max_size=64))
def test_random_bytes_never_escape_as_another_error(data: bytes) -> None:
    try:
        cmd = decode_command(data)
    except JournalCorrupt:
        return
    assert type(cmd) in COMMAND_TAGS


@given(
    cash=st.integers(min_value=-(10**60), max_value=10**60),
    qty=st.integers(min_value=-(10**60), max_value=10**60),
    ts=st.integers(min_value=0, max_value=2**80),
)
def test_ints_beyond_64_bits_round_trip_exactly(cash: int, qty: int, ts: int) -> None:
    cmd = OpenAccount("a", cash, (("BTC-USD", qty),), ts=ts)
    assert decode_command(encode_command(cmd)) == cmd
    assert decode_command(encode_command(Tick(ts))) == Tick(ts)


def test_big_int_payload_decodes_exactly_not_as_float() -> None:
    assert decode_command(b'["T",100000000000000000000000]') == Tick(10**23)
    with pytest.raises(JournalCorrupt):
        decode_command(b'["T",1e23]')


def test_unencodable_string_raises_record_too_large() -> None:
    with pytest.raises(RecordTooLarge):
        encode_command(CancelAll("\ud800"))


def test_non_command_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        encode_command(object())  # type: ignore[arg-type]


def test_decodes_memoryview_and_bytearray() -> None:
    data = encode_command(Tick(5))
    assert decode_command(memoryview(data)) == Tick(5)
    assert decode_command(bytearray(data)) == Tick(5)
    assert orjson.loads(data) == ["T", 5]
