"""Every model survives model -> bytes -> model, through the decoder its readers use."""

from __future__ import annotations

import inspect

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import models
from shared.codec import decode_market, decode_message, decode_model, decode_op, encode
from shared.models import WireModel, market, messages, ops
from shared.strategies import STRATEGIES, strategy_for

ALL_MODELS = sorted(
    (
        obj
        for obj in vars(models).values()
        if inspect.isclass(obj) and issubclass(obj, WireModel) and obj is not WireModel
    ),
    key=lambda cls: cls.__name__,
)


def test_every_model_has_a_strategy() -> None:
    assert len(ALL_MODELS) > 40
    assert [cls.__name__ for cls in ALL_MODELS if cls not in STRATEGIES] == []


def decode_like_a_reader(model: WireModel, data: bytes) -> WireModel:
    if model.__module__ == ops.__name__:
        return decode_op(data)
    if model.__module__ == messages.__name__:
        return decode_message(data)
    return decode_model(type(model), data)


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda cls: cls.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip(cls: type[WireModel], data: st.DataObject) -> None:
    model = data.draw(strategy_for(cls))
    frame = encode(model)
    again = decode_like_a_reader(model, frame)
    assert again == model
    assert type(again) is cls
    assert encode(again) == frame


@settings(max_examples=100, deadline=None)
@given(payload=st.one_of([STRATEGIES[cls] for cls in market.MD_EVENTS.values()]))
def test_market_payloads_decode_by_event_name(payload: WireModel) -> None:
    name = next(event for event, cls in market.MD_EVENTS.items() if cls is type(payload))
    assert decode_market(name, encode(payload)) == payload


def test_absent_fields_are_absent_and_nulls_are_null() -> None:
    ack = messages.OrderAck(
        client_order_id="c",
        order_id="O1",
        symbol="X",
        side="buy",
        order_type="market",
        price=None,
        qty="1",
        tif="ioc",
        post_only=False,
        status="filled",
        filled_qty="1",
        leaves_qty="0",
        ts=1,
        duplicate=True,
    )
    wire = orjson.loads(encode(ack))
    assert "exec_seq" not in wire  # absent on a duplicate (PROTOCOL.md section 3)
    assert "req_id" not in wire
    assert wire["price"] is None  # a market order has a null price
    assert next(iter(wire)) == "type"
    fresh = orjson.loads(encode(ack.model_copy(update={"exec_seq": 3, "duplicate": False})))
    assert fresh["exec_seq"] == 3
    ticker = orjson.loads(encode(market.TickerPayload(
        symbol="X", bid=None, ask=None, last=None, open=None, high=None, low=None, volume="0", ts=0
    )))  # fmt: skip
    assert ticker["bid"] is None


def test_md_envelope_shape() -> None:
    trade = market.TradePayload(
        symbol="X", trade_id=1, price="1.00", qty="2", taker_side="sell", ts=5
    )
    wire = orjson.loads(encode(messages.MdTrade(id="e1-9", data=trade)))
    assert wire == {
        "type": "md.trade",
        "id": "e1-9",
        "data": {
            "symbol": "X",
            "trade_id": 1,
            "price": "1.00",
            "qty": "2",
            "taker_side": "sell",
            "ts": 5,
        },
    }


def test_type_and_op_names_match_the_protocol() -> None:
    assert {
        "order.new",
        "order.cancel",
        "order.replace",
        "orders.cancel_all",
        "order.status",
        "executions.resume",
        "deadman",
        "subscribe",
        "unsubscribe",
        "ping",
        "drill",  # tickwire's extension: fault drills, --drills servers only (docs/drills.md)
    } == ops.OP_NAMES
    base_types = {t for t in messages.TYPE_NAMES if not t.startswith("md.")}
    assert base_types == {
        "session",
        "executions.resumed",
        "order.ack",
        "order.triggered",  # tickwire's extension for stop orders (docs/protocol.md)
        "order.reject",
        "order.fill",
        "order.canceled",
        "orders.canceled_all",
        "deadman.set",
        "drill.set",  # answer to the drill extension
        "subscribed",
        "unsubscribed",
        "order.status",
        "error",
        "pong",
    }
    assert {t.removeprefix("md.") for t in messages.TYPE_NAMES - base_types} == set(
        market.MD_EVENTS
    )
