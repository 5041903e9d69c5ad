"""The trades and candles a node (or a cluster gateway) keeps for REST."""

from __future__ import annotations

from exchange.node.recent import RecentMarket


def test_keeps_the_last_trades_and_replaces_a_candle_updated_in_place() -> None:
    recent = RecentMarket(kept=3)
    for i in range(5):
        recent.keep("trade", "BTC-USD", {"trade_id": i})
    recent.keep("trade", None, {"trade_id": 99})  # no symbol: not kept
    recent.keep("ticker", "BTC-USD", {"bid": "1"})  # not a trade or candle
    assert [t["trade_id"] for t in recent.trades("BTC-USD", 10)] == [2, 3, 4]
    assert [t["trade_id"] for t in recent.trades("BTC-USD", 2)] == [3, 4]
    assert recent.trades("ETH-USD", 10) == []
    recent.keep("candle", "BTC-USD", {"interval": "1m", "t": 60, "c": "1"})
    recent.keep("candle", "BTC-USD", {"interval": "1m", "t": 60, "c": "2"})  # same minute
    recent.keep("candle", "BTC-USD", {"interval": "1m", "t": 120, "c": "3"})
    recent.keep("candle", "BTC-USD", {"interval": "1s", "t": 61, "c": "4"})
    assert [c["c"] for c in recent.candles("BTC-USD", "1m", 10)] == ["2", "3"]
    assert [c["c"] for c in recent.candles("BTC-USD", "1s", 10)] == ["4"]
    recent.clear()
    assert recent.trades("BTC-USD", 10) == [] and recent.candles("BTC-USD", "1m", 10) == []
