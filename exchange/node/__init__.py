"""The exchange node: what one instance holds for every gateway transport (``core``), over a
backend that owns its state and commands (``local``).

Exports: ``ExchangeNode``.

* ``core``: ``ExchangeNode``: engine and hub as the transports read them, the REST read
  models, sessions, rate limits and socket bookkeeping, over its backend.
* ``local``: ``LocalBackend`` (journal, sequencer, snapshots, simulator, the publish tap)
  and the ``NodeBackend`` and ``NodeHost`` protocols.
* ``auth``: session tokens (``TokenIssuer``, bearer parsing).
* ``metrics``: the Prometheus metrics, loop-owned counters and histograms.
* ``ratelimit``: token buckets per connection, account and address.
* ``delivery``: private delivery: each connection's ``Outbox`` and the ``PrivateDelivery``
  that releases an account's executions to its connections.

These sit below ``exchange.gateway`` (which serves them over HTTP and WebSockets) so the
node never imports a transport.
"""

from exchange.node.core import ExchangeNode

__all__ = ["ExchangeNode"]
