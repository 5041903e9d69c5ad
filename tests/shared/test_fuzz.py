"""Whatever arrives, the decoders return a model or raise ``ProtocolError``, nothing else;
and whatever they return encodes and decodes to itself."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.codec import decode_message, decode_op, encode
from shared.errors import ALL_CODES, BAD_REQUEST, UNKNOWN_OP, ProtocolError
from shared.strategies import (
    mutated_frames,
    op_like,
    random_bytes,
    random_json,
    server_messages,
)


def check_op(data: bytes | str) -> None:
    try:
        op = decode_op(data)
    except ProtocolError as err:
        assert err.code in (BAD_REQUEST, UNKNOWN_OP)
        assert err.message
        orjson.dumps(err.to_error())  # the error reply is always encodable
        return
    assert decode_op(encode(op)) == op


def check_message(data: bytes | str) -> None:
    try:
        msg = decode_message(data)
    except ProtocolError as err:
        assert err.code in ALL_CODES
        return
    assert decode_message(encode(msg)) == msg


@settings(max_examples=200, deadline=None)
@given(random_bytes())
def test_random_bytes(data: bytes) -> None:
    check_op(data)
    check_message(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text(data: str) -> None:
    check_op(data)
    check_message(data)


@settings(max_examples=200, deadline=None)
@given(random_json())
def test_random_json(data: bytes) -> None:
    check_op(data)
    check_message(data)


@settings(max_examples=200, deadline=None)
@given(op_like())
def test_objects_with_real_tags_and_field_names(data: bytes) -> None:
    check_op(data)
    check_message(data)


@settings(max_examples=200, deadline=None)
@given(mutated_frames())
def test_mutated_valid_ops(data: bytes) -> None:
    check_op(data)


@settings(max_examples=200, deadline=None)
@given(mutated_frames(server_messages()))
def test_mutated_valid_messages(data: bytes) -> None:
    check_message(data)


@settings(deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.integers(), max_size=3), st.integers())
def test_req_id_is_echoed_when_legal(body: dict[str, int], req_id: int) -> None:
    frame = {**body, "op": "no.such.op", "req_id": req_id}
    try:
        decode_op(json.dumps(frame))  # json, not orjson: ints beyond 64 bits must occur
    except ProtocolError as err:
        legal = -(2**63) <= req_id < 2**63
        assert err.req_id == (req_id if legal else None)
    else:
        raise AssertionError("an unknown op decoded")
