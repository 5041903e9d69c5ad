"""Specific error codes of ``shared.codec.decode_op`` (PROTOCOL.md section 3)."""

from __future__ import annotations

import orjson
import pytest

from shared.codec import MAX_FRAME_BYTES, decode_message, decode_op, encode
from shared.errors import BAD_REQUEST, UNKNOWN_OP, ProtocolError
from shared.models import (
    Deadman,
    OrderCancel,
    OrderNew,
    OrderReplace,
    Ping,
    Subscribe,
)

NEW = {
    "op": "order.new",
    "req_id": 7,
    "client_order_id": "c1",
    "symbol": "BTC-USD",
    "side": "buy",
    "order_type": "limit",
    "qty": "1.5",
    "price": "101.25",
}


def frame(**changes: object) -> bytes:
    body = {**NEW, **changes}
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


def error_of(data: bytes | str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_op(data)
    return info.value


def test_valid_order_new_decodes_to_model() -> None:
    op = decode_op(frame())
    assert isinstance(op, OrderNew)
    assert op.price == "101.25"
    assert op.tif is None
    assert op.post_only is False
    assert op.req_id == 7


def test_str_frames_decode_like_bytes() -> None:
    assert decode_op(frame().decode()) == decode_op(frame())


@pytest.mark.parametrize("data", [b"", b"{", b"nope", b"\xff\xfe", b'{"op": "ping",}'])
def test_not_json_is_bad_request(data: bytes) -> None:
    err = error_of(data)
    assert err.code == BAD_REQUEST
    assert "not JSON" in err.message
    assert err.req_id is None


@pytest.mark.parametrize("data", [b"[]", b'[{"op": "ping"}]', b"1", b'"ping"', b"null", b"true"])
def test_not_an_object_is_bad_request(data: bytes) -> None:
    err = error_of(data)
    assert err.code == BAD_REQUEST
    assert "not a JSON object" in err.message


def test_missing_op_is_unknown_op_and_echoes_req_id() -> None:
    err = error_of(b'{"req_id": "abc"}')
    assert err.code == UNKNOWN_OP
    assert err.req_id == "abc"
    assert err.field == "op"


@pytest.mark.parametrize("op", ["order.nuke", "", "PING", 5, None, ["ping"]])
def test_unknown_op(op: object) -> None:
    err = error_of(orjson.dumps({"op": op, "req_id": 3}))
    assert err.code == UNKNOWN_OP
    assert err.req_id == 3


def test_number_for_price_is_bad_request_naming_price() -> None:
    err = error_of(frame(price=101.25))
    assert err.code == BAD_REQUEST
    assert err.field == "price"
    assert "price" in err.message
    assert err.req_id == 7


def test_number_for_qty_names_qty() -> None:
    err = error_of(frame(qty=1))
    assert (err.code, err.field) == (BAD_REQUEST, "qty")


def test_missing_field_is_bad_request_naming_it() -> None:
    err = error_of(frame(symbol=...))
    assert (err.code, err.field, err.req_id) == (BAD_REQUEST, "symbol", 7)
    assert "symbol" in err.message


def test_unknown_field_is_bad_request() -> None:
    err = error_of(frame(colour="red"))
    assert (err.code, err.field) == (BAD_REQUEST, "colour")


def test_bool_where_int_is_bad_request() -> None:
    err = error_of(b'{"op": "deadman", "timeout_ms": true, "req_id": 1}')
    assert (err.code, err.field, err.req_id) == (BAD_REQUEST, "timeout_ms", 1)
    err = error_of(b'{"op": "ping", "req_id": true}')
    assert (err.code, err.field, err.req_id) == (BAD_REQUEST, "req_id", None)


def test_int_where_bool_and_float_where_int_are_bad_request() -> None:
    assert error_of(frame(post_only=1)).field == "post_only"
    assert error_of(b'{"op": "executions.resume", "after": 3.0}').field == "after"


def test_oversized_frame_is_bad_request() -> None:
    big = frame(symbol="X" * MAX_FRAME_BYTES)
    err = error_of(big)
    assert err.code == BAD_REQUEST
    assert "over" in err.message
    assert isinstance(decode_op(frame(symbol="X" * 100)), OrderNew)


def test_engine_judged_values_pass_the_codec() -> None:
    """Syntax of decimals and enum values is the engine's job (INVALID_PRICE etc.)."""
    op = decode_op(frame(price="1e3", qty="-1", side="sideways", order_type="stop", tif="gfd"))
    assert isinstance(op, OrderNew)
    assert (op.price, op.qty, op.side, op.order_type, op.tif) == (
        "1e3",
        "-1",
        "sideways",
        "stop",
        "gfd",
    )


def test_cancel_needs_exactly_one_id() -> None:
    assert decode_op(b'{"op": "order.cancel", "order_id": "O1"}') == OrderCancel(order_id="O1")
    for body in (
        b'{"op": "order.cancel"}',
        b'{"op":"order.cancel","order_id":"O","client_order_id":"c"}',
    ):
        err = error_of(body)
        assert err.code == BAD_REQUEST
        assert "client_order_id or order_id" in err.message


def test_replace_needs_price_or_qty() -> None:
    ok = decode_op(
        b'{"op":"order.replace","client_order_id":"n","orig_client_order_id":"o","qty":"2"}'
    )
    assert ok == OrderReplace(client_order_id="n", orig_client_order_id="o", qty="2")
    err = error_of(b'{"op":"order.replace","client_order_id":"n","orig_client_order_id":"o"}')
    assert err.code == BAD_REQUEST


def test_subscribe_channels_are_checked() -> None:
    op = decode_op(b'{"op":"subscribe","symbols":["A"],"channels":["book","trades"],"after":"e-5"}')
    assert op == Subscribe(symbols=("A",), channels=("book", "trades"), after="e-5")
    err = error_of(b'{"op":"subscribe","channels":["books"]}')
    assert (err.code, err.field) == (BAD_REQUEST, "channels.0")


def test_req_id_out_of_range_is_not_echoed() -> None:
    err = error_of(b'{"op": "ping", "req_id": 99999999999999999999999}')
    assert err.code == BAD_REQUEST
    assert err.req_id is None


def test_deadman_bounds() -> None:
    assert decode_op(b'{"op":"deadman","timeout_ms":0}') == Deadman(timeout_ms=0)
    assert error_of(b'{"op":"deadman","timeout_ms":-1}').field == "timeout_ms"


def test_error_reply_round_trips_as_server_message() -> None:
    err = error_of(b'{"op":"zzz","req_id":"q"}')
    msg = decode_message(orjson.dumps(err.to_error()))
    assert msg.type == "error"
    assert (msg.code, msg.req_id) == (UNKNOWN_OP, "q")


def test_encode_omits_absent_fields_of_ops() -> None:
    assert orjson.loads(encode(Ping())) == {"op": "ping"}
    assert orjson.loads(encode(Ping(req_id=0))) == {"op": "ping", "req_id": 0}


def test_unknown_message_type() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(b'{"type": "order.nope"}')
    assert info.value.code == UNKNOWN_OP
