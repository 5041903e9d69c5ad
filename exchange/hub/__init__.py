"""Market-data hub: global offsets, encode-once frames, history ring, resume, fan-out.

Exports: ``MarketHub`` (the hub: ``publish``, ``seed``, ``subscribe``, ``resume``, ``poll``,
``snapshot_event``, ``to_state``/``from_state``, ``stats``), ``HubStats``, ``Subscription``
(``next_batch``, ``close``, ``closed_reason``, ``add_close_callback``), ``MdEvent`` (shared
event with cached ``sse``/``ws``/``poll`` frames), ``Filter`` (``Filter.parse``),
``parse_conflate`` (the ``conflate=100ms`` query value to ns),
``CHANNELS``, ``RESET_REASONS``, the exceptions ``HubError``, ``SubscriptionClosed``,
``SlowConsumer``, and ``HubBackend``/``MemoryBackend`` (the fan-out backend interface).
"""

from __future__ import annotations

from exchange.hub.backend import HubBackend, MemoryBackend
from exchange.hub.errors import HubError, SlowConsumer, SubscriptionClosed
from exchange.hub.events import CHANNELS, Filter, MdEvent, parse_conflate
from exchange.hub.hub import RESET_REASONS, HubStats, MarketHub
from exchange.hub.subscription import Subscription

__all__ = [
    "CHANNELS",
    "RESET_REASONS",
    "Filter",
    "HubBackend",
    "HubError",
    "HubStats",
    "MarketHub",
    "MdEvent",
    "MemoryBackend",
    "SlowConsumer",
    "Subscription",
    "SubscriptionClosed",
    "parse_conflate",
]
