"""A cluster gateway's Redis gauges in its ``/metrics`` (read when scraped, no bookkeeping).

Exports: ``register``.

* ``tickwire_cluster_cmd_xadds``: ``tw:cmd`` XADDs sent and not yet answered by Redis (the
  gateway's command writer queue; it grows while Redis is slow or down);
* ``tickwire_cluster_pending_submits``: commands waiting for the sequencer's answer;
* ``tickwire_cluster_replica_seq``: the journal seq the replica engine has applied;
* ``tickwire_cluster_follower_lag{stream}``: entries behind the head of ``tw:seq`` and
  ``tw:md`` (refreshed every second);
* ``tickwire_cluster_submit_outcomes{outcome}``: executed, not_executed, unconfirmed;
* ``tickwire_cluster_engine{stat}``: the engine's own figures from ``tw:stats``: ``seq_queue``
  (its ``tw:seq`` writer queue), ``md_queue`` (``tw:md`` publisher queue), ``pending``
  (commands waiting for the group commit), ``journal_seq``, ``redis_resets`` (times it
  found Redis emptied).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import Gauge

__all__ = ["register"]

_ENGINE_STATS = ("seq_queue", "md_queue", "pending", "journal_seq", "redis_resets")


def register(node: Any) -> None:
    """Add the gauges above to the node's metrics registry, reading ``node`` (the gateway's
    ``RedisReplica``)."""
    r = node.node.metrics.registry
    Gauge("tickwire_cluster_cmd_xadds", "tw:cmd XADDs awaiting Redis",
          registry=r).set_function(lambda: node.cmd_xadds)  # fmt: skip
    Gauge("tickwire_cluster_pending_submits", "Commands waiting for the sequencer",
          registry=r).set_function(lambda: len(node._waiting))  # fmt: skip
    Gauge("tickwire_cluster_replica_seq", "Journal seq applied by the replica engine",
          registry=r).set_function(lambda: node.applied_seq)  # fmt: skip
    lag = Gauge("tickwire_cluster_follower_lag", "Entries behind the stream's head",
                ["stream"], registry=r)  # fmt: skip
    lag.labels("tw:seq").set_function(lambda: node.seq_lag)
    lag.labels("tw:md").set_function(lambda: node.md_lag)
    outcomes = Gauge("tickwire_cluster_submit_outcomes", "Commands by outcome",
                     ["outcome"], registry=r)  # fmt: skip
    for name in ("executed", "not_executed", "unconfirmed"):
        outcomes.labels(name).set_function(_reader(node.outcomes, name))
    engine = Gauge("tickwire_cluster_engine", "The engine's figures from tw:stats",
                   ["stat"], registry=r)  # fmt: skip
    for stat in _ENGINE_STATS:
        engine.labels(stat).set_function(_engine_reader(node, stat))


def _reader(values: dict[str, int], key: str) -> Callable[[], float]:
    return lambda: values[key]


def _engine_reader(node: Any, stat: str) -> Callable[[], float]:
    return lambda: node.engine_stats.get(stat, 0)
