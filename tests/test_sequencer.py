"""The sequencer's stamp: a command rebuilt with the clock's ``ts``, every field kept."""

from __future__ import annotations

import dataclasses

from exchange.engine import types as t
from exchange.sequencer import _KIND, Sequencer


def _sample(cls: type) -> t.Command:
    samples: dict[type, t.Command] = {
        t.NewOrder: t.NewOrder(
            "a", "c1", "BTC-USD", "buy", "stop_limit", "0.1", "100", ts=7, stop_price="90"
        ),
        t.CancelOrder: t.CancelOrder("a", client_order_id="c1", ts=7),
        t.ReplaceOrder: t.ReplaceOrder("a", "c2", "c1", price="101", ts=7),
        t.CancelAll: t.CancelAll("a", symbol="BTC-USD", reason="deadman", ts=7),
        t.OpenAccount: t.OpenAccount("a", 10**9, (("BTC-USD", 10),), False, 7),
        t.SetSymbolState: t.SetSymbolState("BTC-USD", "halted", ts=7),
        t.Tick: t.Tick(7),
        t.Publish: t.Publish(7),
    }
    return samples[cls]


def test_the_stamp_keeps_every_field_of_every_command() -> None:
    clock = iter([100, 90, 200] * len(_KIND))
    seq = Sequencer(None, None, None, deliver=lambda e, o: None, render_market=None,  # type: ignore[arg-type]
                    clock=lambda: next(clock))  # fmt: skip
    for cls in _KIND:
        cmd = _sample(cls)
        seq.last_ts = 0
        first = seq.stamp(cmd)
        assert first == dataclasses.replace(cmd, ts=100) and type(first) is cls
        assert seq.stamp(cmd).ts == 100  # the clock went back: never earlier than the last
        assert seq.stamp(cmd) == dataclasses.replace(cmd, ts=200)
