"""The loop-only counters and histograms export exactly what prometheus-client's own would
for the same updates (its Counter and Histogram are the oracle)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from exchange.node.metrics import LoopCounter, LoopHistogram, Metrics

BUCKETS = (0.00005, 0.0001, 0.001, 0.01, 0.1, 1.0)


def samples(registry: CollectorRegistry, prefix: str) -> list[str]:
    text = generate_latest(registry).decode()
    return sorted(
        line for line in text.splitlines() if line.startswith(prefix) and "_created" not in line
    )


@given(
    st.lists(
        st.tuples(st.sampled_from(["ws", "sse"]), st.sampled_from(["order.new", "ping"]),
                  st.floats(0, 1e6, allow_nan=False)),
        max_size=30,
    )
)  # fmt: skip
def test_counter_matches_prometheus_client(updates: list[tuple[str, str, float]]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    a = LoopCounter("x_msgs", "doc", ["transport", "type"], ours)
    b = Counter("x_msgs", "doc", ["transport", "type"], registry=theirs)
    for transport, kind, amount in updates:
        a.labels(transport, kind).inc(amount)
        b.labels(transport, kind).inc(amount)
    assert samples(ours, "x_msgs") == samples(theirs, "x_msgs")


@given(st.lists(st.floats(0, 10, allow_nan=False) | st.sampled_from(BUCKETS), max_size=50))
def test_histogram_matches_prometheus_client(values: list[float]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    a = LoopHistogram("x_seconds", "doc", BUCKETS, ours)
    b = Histogram("x_seconds", "doc", buckets=BUCKETS, registry=theirs)
    for v in values:
        a.observe(v)
        b.observe(v)
    assert samples(ours, "x_seconds") == samples(theirs, "x_seconds")
    assert a.count == len(values)


def test_bad_updates_are_refused() -> None:
    c = LoopCounter("y", "doc", ["code"], CollectorRegistry())
    with pytest.raises(ValueError):
        c.labels("A").inc(-1)
    with pytest.raises(ValueError):
        c.labels("A", "B")
    assert c.value("A") == 0


def test_metrics_render_has_the_order_path_series() -> None:
    m = Metrics()
    m.child(m.messages_in, "ws", "order.new").inc()
    m.order_latency.observe(0.0002)
    text = m.render().decode()
    assert 'tickwire_messages_in_total{transport="ws",type="order.new"} 1.0' in text
    assert 'tickwire_order_ack_seconds_bucket{le="0.00025"} 1.0' in text
    assert "tickwire_order_ack_seconds_count 1.0" in text
