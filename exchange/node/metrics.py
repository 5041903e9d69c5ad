"""Prometheus metrics of one server instance (its own registry, so tests can run many).

The counters and histograms updated per order or per message are plain Python integers
(``LoopCounter``, ``LoopHistogram``), turned into Prometheus families only when ``/metrics``
is scraped: prometheus-client's own ``inc``/``observe`` take a lock and walk its value
objects on every call, 7-8 % of an order's server CPU in the issue 16 profile. They are
updated from the event loop only (a scrape reads them there too, or sees a value a moment
old from a thread), so they need no lock. Gauges stay prometheus-client's: they change per
connection, not per message.

Exports: ``Metrics``, ``LoopCounter``, ``LoopHistogram``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["LoopCounter", "LoopHistogram", "Metrics"]

_LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


class _Cell:
    """One labelled counter's value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        self.value += amount


class LoopCounter(Collector):
    """A labelled counter as prometheus-client's ``Counter`` offers it (``labels(...).inc()``,
    exported as ``<name>_total``), held in plain floats."""

    def __init__(
        self, name: str, doc: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name, self.doc, self.labelnames = name, doc, tuple(labelnames)
        self._cells: dict[tuple[str, ...], _Cell] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Cell:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        key = tuple(str(v) for v in values)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell()
        return cell

    def value(self, *values: str) -> float:
        """The count for these labels (0 if never incremented)."""
        cell = self._cells.get(tuple(values))
        return 0.0 if cell is None else cell.value

    def collect(self) -> Iterator[Any]:
        family = CounterMetricFamily(self.name, self.doc, labels=list(self.labelnames))
        for key, cell in sorted(self._cells.items()):
            family.add_metric(list(key), cell.value)
        yield family


class LoopHistogram(Collector):
    """An unlabelled histogram (``observe(seconds)``) as cumulative buckets at scrape time."""

    def __init__(
        self, name: str, doc: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self.name, self.doc = name, doc
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound falls in that bound's bucket (le is <=)
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def collect(self) -> Iterator[Any]:
        family = HistogramMetricFamily(self.name, self.doc)
        cumulative, running = [], 0
        for bound, n in zip((*map(_le, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            cumulative.append((bound, running))
        family.add_metric([], cumulative, sum_value=self.sum)
        yield family


def _le(bound: float) -> str:
    return repr(float(bound))


class Metrics:
    """All counters, gauges and histograms the gateway and sequencer update."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.connections = Gauge(
            "tickwire_connections", "Open connections by transport", ["transport"], registry=r
        )
        self.messages_in = LoopCounter(
            "tickwire_messages_in", "Messages received by transport and type",
            ["transport", "type"], r,
        )  # fmt: skip
        self.messages_out = LoopCounter(
            "tickwire_messages_out", "Messages sent by transport and type",
            ["transport", "type"], r,
        )  # fmt: skip
        self.rejects = LoopCounter("tickwire_rejects", "Order rejects by code", ["code"], r)
        self.errors = LoopCounter("tickwire_errors", "Protocol errors by code", ["code"], r)
        self.rate_limited = LoopCounter(
            "tickwire_rate_limited", "Messages refused by a rate limit", ["scope"], r
        )
        self.slow_consumers = LoopCounter(
            "tickwire_slow_consumer_disconnects", "Subscribers dropped for not reading",
            ["transport"], r,
        )  # fmt: skip
        self.resumes = LoopCounter(
            "tickwire_resumes", "Market-data resume outcomes", ["transport", "outcome"], r
        )
        self.order_latency = LoopHistogram(
            "tickwire_order_ack_seconds", "Command receipt to reply release", _LATENCY_BUCKETS, r
        )
        self.fsync_latency = LoopHistogram(
            "tickwire_journal_fsync_seconds", "Journal group-commit sync time", _LATENCY_BUCKETS, r
        )
        self.queue_depth = Gauge(
            "tickwire_engine_queue_depth", "Commands waiting for durability", registry=r
        )
        self._resume_children: dict[tuple[str, str], Any] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.commands = LoopCounter("tickwire_commands", "Commands sequenced by kind", ["kind"], r)

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
