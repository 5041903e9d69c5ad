"""Scale-out on Redis: one sequencer process, many gateway processes, HAProxy in front.

Exports: ``register`` (adds the ``engine``, ``gateway`` and ``cluster`` subcommands to the
``tickwire`` command line). The pieces live in ``bus`` (stream names and entry codecs),
``sequencer_proc`` (``EngineProcess``), ``gateway_proc`` (``gateway_node``, a node over a ``RedisReplica``) and ``cluster``
(the local launcher).
"""

from __future__ import annotations

from exchange.cluster.subcommands import register

__all__ = ["register"]
