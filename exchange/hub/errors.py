"""Exceptions of the market-data hub.

Exports: ``HubError``, ``SubscriptionClosed``, ``SlowConsumer``.

Hierarchy::

    HubError
    └── SubscriptionClosed   next_batch on a closed subscription; ``reason`` is its
        │                    ``closed_reason`` ("closed", "hub_closed", ...)
        └── SlowConsumer     closed because it fell too far behind ("slow_consumer")
"""

from __future__ import annotations

__all__ = ["HubError", "SlowConsumer", "SubscriptionClosed"]


class HubError(Exception):
    """Base class of the hub's exceptions."""


class SubscriptionClosed(HubError):
    """The subscription is closed; ``reason`` is its ``closed_reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlowConsumer(SubscriptionClosed):
    """The subscriber did not keep up and was disconnected (``reason == "slow_consumer"``)."""
