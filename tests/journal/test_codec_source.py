"""Sourced records: a command journaled with where it came from (the Redis sequencer's
``tw:cmd`` entry id) decodes to the same command, and the source reads back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.engine.types import CancelAll, NewOrder, OpenAccount
from exchange.journal import JournalCorrupt, decode_command, encode_command
from exchange.journal.codec import command_source, encode_sourced

CMDS = [
    CancelAll("alice", None, ts=5),
    NewOrder("bob", "c-1", "BTC-USD", "buy", "limit", "1", "10.00", None, False, 7),
    OpenAccount("carol", cash=2**70, positions=(("BTC-USD", 2**65),), ts=9),  # beyond 64 bits
]


@pytest.mark.parametrize("cmd", CMDS, ids=lambda c: type(c).__name__)
def test_a_sourced_record_decodes_to_the_same_command(cmd: object) -> None:
    plain = encode_command(cmd)  # type: ignore[arg-type]
    wrapped = encode_sourced(plain, "1732770000000-3 gw-1 42")
    assert decode_command(wrapped) == cmd
    assert command_source(wrapped) == "1732770000000-3 gw-1 42"
    assert command_source(plain) is None


@given(st.text(max_size=40))
def test_any_source_round_trips(source: str) -> None:
    wrapped = encode_sourced(encode_command(CancelAll("a")), source)
    assert command_source(wrapped) == source
    assert decode_command(wrapped) == CancelAll("a")


@pytest.mark.parametrize(
    "bad",
    [b'["X","s"]', b'["X",1,["A","a",null,"canceled",0]]', b'["X","s",["Z"]]', b'["X","s",'],
)
def test_a_malformed_wrapper_is_corrupt(bad: bytes) -> None:
    with pytest.raises(JournalCorrupt):
        decode_command(bad)


def test_command_source_refuses_a_malformed_wrapper() -> None:
    with pytest.raises(JournalCorrupt):
        command_source(b'["X","s"]')
