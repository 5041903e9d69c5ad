"""Hypothesis strategies of valid instances for every protocol model. Needs hypothesis.

Exports: ``STRATEGIES`` (model class -> strategy), ``strategy_for``, ``client_ops``,
``server_messages``, ``market_payloads``, ``rest_bodies``, ``any_model``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from shared.errors import ALL_CODES
from shared.models import market, messages, ops, rest
from shared.models.base import WireModel
from shared.strategies.values import (
    S,
    channel_lists,
    checksums,
    decimals,
    exec_seqs,
    identifiers,
    levels,
    md_ids,
    nanos,
    raw_strings,
    req_ids,
    seqs,
    sides,
    signed_decimals,
    symbol_lists,
    symbols,
    texts,
)
from shared.strategies.values import opt as _opt

# ------------------------------------------------------------------ client ops

_order_new = st.builds(
    ops.OrderNew,
    req_id=req_ids,
    client_order_id=raw_strings | identifiers,
    symbol=symbols,
    side=sides | raw_strings,
    order_type=st.sampled_from(["limit", "market", "stop", "stop_limit"]) | raw_strings,
    qty=raw_strings,
    price=_opt(raw_strings),
    tif=_opt(st.sampled_from(["gtc", "ioc", "fok"]) | raw_strings),
    post_only=st.booleans(),
    stop_price=_opt(raw_strings),
)


def _one_id(cls: type[WireModel]) -> S[Any]:
    return st.builds(cls, req_id=req_ids, client_order_id=identifiers) | st.builds(
        cls, req_id=req_ids, order_id=identifiers
    )


_replace = st.one_of(
    st.builds(ops.OrderReplace, req_id=req_ids, client_order_id=identifiers,
              orig_client_order_id=identifiers, price=raw_strings, qty=_opt(raw_strings)),
    st.builds(ops.OrderReplace, req_id=req_ids, client_order_id=identifiers,
              orig_client_order_id=identifiers, qty=raw_strings),
)  # fmt: skip

STRATEGIES: dict[type[WireModel], S[Any]] = {
    ops.OrderNew: _order_new,
    ops.OrderCancel: _one_id(ops.OrderCancel),
    ops.OrderReplace: _replace,
    ops.OrdersCancelAll: st.builds(ops.OrdersCancelAll, req_id=req_ids, symbol=_opt(symbols)),
    ops.OrderStatusRequest: _one_id(ops.OrderStatusRequest),
    ops.ExecutionsResume: st.builds(ops.ExecutionsResume, req_id=req_ids, after=seqs),
    ops.Drill: st.builds(
        ops.Drill,
        req_id=req_ids,
        fault=st.just("withhold_ack"),
        count=st.integers(0, ops.MAX_DRILL_COUNT),
    ),
    ops.Deadman: st.builds(
        ops.Deadman, req_id=req_ids, timeout_ms=st.integers(0, ops.MAX_DEADMAN_MS)
    ),
    ops.Subscribe: st.builds(
        ops.Subscribe,
        req_id=req_ids,
        symbols=symbol_lists,
        channels=channel_lists,
        after=_opt(md_ids),
        conflate=_opt(st.sampled_from(["100ms", "1s", "250ms"])),
    ),
    ops.Unsubscribe: st.builds(
        ops.Unsubscribe, req_id=req_ids, symbols=symbol_lists, channels=channel_lists
    ),
    ops.Ping: st.builds(ops.Ping, req_id=req_ids),
}

# ------------------------------------------------------------------ market payloads

STRATEGIES.update(
    {
        market.BookSnapshotPayload: st.builds(
            market.BookSnapshotPayload,
            symbol=symbols,
            seq=seqs,
            bids=levels,
            asks=levels,
            last_trade_id=seqs,
            checksum=checksums,
            ts=_opt(nanos),
        ),
        market.BookDeltaPayload: st.builds(
            market.BookDeltaPayload,
            symbol=symbols,
            first_seq=seqs,
            seq=seqs,
            bids=levels,
            asks=levels,
            checksum=checksums,
            ts=nanos,
        ),
        market.TradePayload: st.builds(
            market.TradePayload,
            symbol=symbols,
            trade_id=seqs,
            price=decimals,
            qty=decimals,
            taker_side=sides,
            ts=nanos,
        ),
        market.TickerPayload: st.builds(
            market.TickerPayload,
            symbol=symbols,
            bid=_opt(decimals),
            ask=_opt(decimals),
            last=_opt(decimals),
            open=_opt(decimals),
            high=_opt(decimals),
            low=_opt(decimals),
            volume=decimals,
            ts=nanos,
        ),
        market.CandlePayload: st.builds(
            market.CandlePayload,
            symbol=symbols,
            interval=st.sampled_from(["1s", "1m"]),
            t=nanos,
            o=decimals,
            h=decimals,
            l=decimals,
            c=decimals,
            v=decimals,
            closed=st.booleans(),
        ),
        market.StatusPayload: st.builds(
            market.StatusPayload,
            symbol=symbols,
            state=st.sampled_from(["open", "halted", "replay"]),
            ts=_opt(nanos),
            replay_clock=_opt(nanos),
            replay_speed=_opt(st.floats(min_value=1e-3, max_value=1e6)),
        ),
        market.ResetPayload: st.builds(
            market.ResetPayload,
            reason=st.sampled_from(["unknown_epoch", "too_old", "ahead", "bad_id"]) | texts,
        ),
    }
)

# ------------------------------------------------------------------ server messages


def _order_state(cls: type[WireModel], **extra: S[Any]) -> S[Any]:
    plain = _order_state_of(cls, ["limit", "market"], **extra)
    stops = _order_state_of(
        cls, ["stop", "stop_limit"], stop_price=decimals, triggered=st.booleans(), **extra
    )
    return plain | stops


def _order_state_of(cls: type[WireModel], types: list[str], **extra: S[Any]) -> S[Any]:
    return st.builds(
        cls,
        req_id=req_ids,
        client_order_id=identifiers,
        order_id=identifiers,
        symbol=symbols,
        side=sides,
        order_type=st.sampled_from(types),
        price=_opt(decimals),
        qty=decimals,
        tif=st.sampled_from(["gtc", "ioc", "fok"]),
        post_only=st.booleans(),
        status=st.sampled_from(["open", "partially_filled", "filled", "canceled"]),
        filled_qty=decimals,
        leaves_qty=decimals,
        ts=nanos,
        **extra,
    )


_codes = st.sampled_from(sorted(ALL_CODES))

STRATEGIES.update(
    {
        messages.Session: st.builds(
            messages.Session, account=identifiers, server_time=nanos, latest_exec_seq=seqs
        ),
        messages.ExecutionsResumed: st.builds(
            messages.ExecutionsResumed, req_id=req_ids, latest_exec_seq=seqs
        ),
        messages.OrderAck: st.one_of(
            _order_state(messages.OrderAck, duplicate=st.just(False), exec_seq=exec_seqs),
            _order_state(messages.OrderAck, duplicate=st.just(True)),
        ),
        messages.OrderStatus: _order_state(messages.OrderStatus),
        messages.OrderReject: st.builds(
            messages.OrderReject,
            req_id=req_ids,
            client_order_id=_opt(identifiers),
            code=_codes,
            message=texts,
        ),
        messages.OrderFill: st.builds(
            messages.OrderFill,
            order_id=identifiers,
            client_order_id=identifiers,
            trade_id=seqs,
            symbol=symbols,
            side=sides,
            price=decimals,
            qty=decimals,
            leaves_qty=decimals,
            liquidity=st.sampled_from(["maker", "taker"]),
            fee=decimals,
            ts=nanos,
            exec_seq=exec_seqs,
        ),
        messages.OrderCanceled: st.builds(
            messages.OrderCanceled,
            req_id=req_ids,
            order_id=identifiers,
            client_order_id=identifiers,
            symbol=_opt(symbols),
            reason=st.sampled_from(["canceled", "ioc_expired", "self_trade", "deadman"]),
            filled_qty=decimals,
            ts=nanos,
            duplicate=st.booleans(),
            exec_seq=_opt(exec_seqs),
        ),
        messages.OrderTriggered: st.builds(
            messages.OrderTriggered,
            order_id=identifiers,
            client_order_id=identifiers,
            symbol=symbols,
            side=sides,
            order_type=st.sampled_from(["stop", "stop_limit"]),
            stop_price=decimals,
            trigger_price=decimals,
            ts=nanos,
            exec_seq=exec_seqs,
        ),
        messages.OrdersCanceledAll: st.builds(
            messages.OrdersCanceledAll, req_id=req_ids, count=seqs
        ),
        messages.DrillSet: st.builds(
            messages.DrillSet,
            req_id=req_ids,
            fault=st.just("withhold_ack"),
            count=st.integers(0, ops.MAX_DRILL_COUNT),
        ),
        messages.DeadmanSet: st.builds(
            messages.DeadmanSet, req_id=req_ids, timeout_ms=st.integers(0, ops.MAX_DEADMAN_MS)
        ),
        messages.Subscribed: st.builds(
            messages.Subscribed,
            req_id=req_ids,
            symbols=symbol_lists,
            channels=channel_lists,
            after=_opt(md_ids),
            conflate=_opt(st.sampled_from(["100ms", "1s", "250ms"])),
        ),
        messages.Unsubscribed: st.builds(
            messages.Unsubscribed, req_id=req_ids, symbols=symbol_lists, channels=channel_lists
        ),
        messages.Error: st.builds(
            messages.Error,
            req_id=req_ids,
            code=st.sampled_from(["BAD_REQUEST", "UNKNOWN_OP", "RATE_LIMITED"]),
            message=texts,
        ),
        messages.Pong: st.builds(messages.Pong, req_id=req_ids, server_time=nanos),
    }
)

_ENVELOPES: dict[type[WireModel], type[WireModel]] = {
    messages.MdSnapshot: market.BookSnapshotPayload,
    messages.MdBook: market.BookDeltaPayload,
    messages.MdTrade: market.TradePayload,
    messages.MdTicker: market.TickerPayload,
    messages.MdCandle: market.CandlePayload,
    messages.MdStatus: market.StatusPayload,
    messages.MdReset: market.ResetPayload,
}
for _env, _payload in _ENVELOPES.items():
    STRATEGIES[_env] = st.builds(_env, id=md_ids, data=STRATEGIES[_payload])

# ------------------------------------------------------------------ REST bodies

_positions = st.builds(
    rest.PositionInfo,
    symbol=symbols,
    qty=decimals,
    avg_price=_opt(decimals),
    realized_pnl=signed_decimals,
)
_balances = st.builds(rest.Balance, total=signed_decimals, available=signed_decimals)
STRATEGIES.update(
    {
        rest.Balance: _balances,
        rest.SessionRequest: st.builds(
            rest.SessionRequest, account=identifiers, secret=_opt(texts)
        ),
        rest.SessionResponse: st.builds(
            rest.SessionResponse, account=identifiers, token=texts, expires_at=nanos
        ),
        rest.SymbolInfo: st.builds(
            rest.SymbolInfo,
            symbol=symbols,
            tick_size=decimals,
            lot_size=decimals,
            min_qty=decimals,
            price_decimals=st.integers(0, 18),
            qty_decimals=st.integers(0, 18),
        ),
        rest.PositionInfo: _positions,
        rest.AccountInfo: st.builds(
            rest.AccountInfo,
            account=identifiers,
            balances=st.dictionaries(st.sampled_from(["cash", "USD"]), _balances, max_size=2),
            positions=st.lists(_positions, max_size=3).map(tuple),
            fees_paid=_opt(decimals),
            latest_exec_seq=seqs,
        ),
        rest.OrderRequest: st.builds(
            rest.OrderRequest,
            client_order_id=identifiers,
            symbol=symbols,
            side=sides | raw_strings,
            order_type=st.sampled_from(["limit", "market"]) | raw_strings,
            qty=raw_strings,
            price=_opt(raw_strings),
            tif=_opt(raw_strings),
            post_only=st.booleans(),
        ),
        rest.ErrorBody: st.builds(rest.ErrorBody, code=_codes, message=texts),
    }
)
_POLL: dict[type[WireModel], type[WireModel]] = {
    rest.PollSnapshot: market.BookSnapshotPayload,
    rest.PollBook: market.BookDeltaPayload,
    rest.PollTrade: market.TradePayload,
    rest.PollTicker: market.TickerPayload,
    rest.PollCandle: market.CandlePayload,
    rest.PollStatus: market.StatusPayload,
    rest.PollReset: market.ResetPayload,
}
for _poll, _payload in _POLL.items():
    STRATEGIES[_poll] = st.builds(_poll, id=md_ids, data=STRATEGIES[_payload])
STRATEGIES[rest.PollResponse] = st.builds(
    rest.PollResponse,
    events=st.lists(st.one_of([STRATEGIES[p] for p in _POLL]), max_size=4).map(tuple),
    cursor=md_ids,
)


def strategy_for(model: type[WireModel]) -> S[Any]:
    """Valid instances of ``model``; ``KeyError`` for a model without a strategy."""
    return STRATEGIES[model]


def _union(module: Any) -> S[Any]:
    return st.one_of([s for cls, s in STRATEGIES.items() if cls.__module__ == module.__name__])


def client_ops() -> S[Any]:
    """Any valid client op."""
    return _union(ops)


def server_messages() -> S[Any]:
    """Any valid server message (including ``md.*`` envelopes)."""
    return _union(messages)


def market_payloads() -> S[Any]:
    return _union(market)


def rest_bodies() -> S[Any]:
    return _union(rest)


def any_model() -> S[Any]:
    return st.one_of(list(STRATEGIES.values()))
