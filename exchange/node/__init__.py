"""The exchange node: one instance's engine, journal, hub, sequencer and simulator, wired
(``core``), and what the node holds for every gateway transport.

Exports: ``ExchangeNode``.

* ``core``: ``ExchangeNode``, the wiring, the publish tap and the REST read models.
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
