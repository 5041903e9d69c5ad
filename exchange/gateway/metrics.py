"""Prometheus metrics of one server instance (its own registry, so tests can run many).

Exports: ``Metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


class Metrics:
    """All counters, gauges and histograms the gateway and sequencer update."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.connections = Gauge(
            "tickwire_connections", "Open connections by transport", ["transport"], registry=r
        )
        self.messages_in = Counter(
            "tickwire_messages_in", "Messages received by transport and type",
            ["transport", "type"], registry=r,
        )  # fmt: skip
        self.messages_out = Counter(
            "tickwire_messages_out", "Messages sent by transport and type",
            ["transport", "type"], registry=r,
        )  # fmt: skip
        self.rejects = Counter("tickwire_rejects", "Order rejects by code", ["code"], registry=r)
        self.errors = Counter("tickwire_errors", "Protocol errors by code", ["code"], registry=r)
        self.rate_limited = Counter(
            "tickwire_rate_limited", "Messages refused by a rate limit", ["scope"], registry=r
        )
        self.slow_consumers = Counter(
            "tickwire_slow_consumer_disconnects", "Subscribers dropped for not reading",
            ["transport"], registry=r,
        )  # fmt: skip
        self.resumes = Counter(
            "tickwire_resumes", "Market-data resume outcomes", ["transport", "outcome"], registry=r
        )
        self.order_latency = Histogram(
            "tickwire_order_ack_seconds", "Command receipt to reply release",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.fsync_latency = Histogram(
            "tickwire_journal_fsync_seconds", "Journal group-commit sync time",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "tickwire_engine_queue_depth", "Commands waiting for durability", registry=r
        )
        self._resume_children: dict[tuple[str, str], Any] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.commands = Counter(
            "tickwire_commands", "Commands sequenced by kind", ["kind"], registry=r
        )

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: prometheus-client's ``labels`` takes a
        lock and builds a tuple per call, which is per order on the hot path."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def resume_counter(self, transport: str, outcome: str) -> Any:
        """``resumes.labels(transport, outcome)``, looked up once (it is per request)."""
        key = (transport, outcome)
        child = self._resume_children.get(key)
        if child is None:
            child = self._resume_children[key] = self.resumes.labels(transport, outcome)
        return child

    def watch_hub(self, hub: Callable[[], Any]) -> None:
        """Export the market-data hub's own counters (read at scrape time, so delivering an
        event costs no metric update): events delivered and subscribers, by transport."""
        self.registry.register(_HubCollector(hub))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _HubCollector(Collector):
    def __init__(self, hub: Callable[[], Any]) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Any]:
        hub = self._hub()
        delivered = CounterMetricFamily(
            "tickwire_md_delivered", "Market-data events written to subscribers, by transport",
            labels=["transport"],
        )  # fmt: skip
        subscribers = GaugeMetricFamily(
            "tickwire_md_subscribers", "Market-data subscriptions open, by transport",
            labels=["transport"],
        )  # fmt: skip
        if hub is not None:
            for kind, n in sorted(hub.stats.delivered.items()):
                delivered.add_metric([kind], n)
            for kind, n in sorted(hub.stats.subscribers.items()):
                subscribers.add_metric([kind], n)
        yield delivered
        yield subscribers
