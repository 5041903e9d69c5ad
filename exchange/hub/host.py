"""What a subscription, the push fan-out and the state codec need from their hub.

Exports: ``HubHost``.

``MarketHub`` implements it; ``subscription``, ``push`` and ``state`` are typed against this
protocol instead of importing the hub (which imports them), so the hub package has no import
circle and each part says what it uses of the others.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from exchange.hub.books import BookMirror
from exchange.hub.history import History

__all__ = ["HubHost", "HubStats"]


@dataclass(slots=True)
class HubStats:
    """Counters for metrics (monotonic except ``subscribers``, which is current)."""

    events_published: int = 0
    slow_consumer_disconnects: int = 0
    conflated_batches: int = 0
    resume_exact: int = 0
    resume_reset: Counter[str] = field(default_factory=Counter)
    subscribers: Counter[str] = field(default_factory=Counter)
    #: Events written to push subscribers, by kind (``sse``, ``ws``, ...).
    delivered: Counter[str] = field(default_factory=Counter)


class HubHost(Protocol):
    """The hub as its subscriptions see it."""

    epoch: str
    buffer_events: int
    max_pending: int
    slow_policy: Literal["conflate", "disconnect"]
    sweep_every: int
    last_ts: int
    stats: HubStats

    @property
    def ring(self) -> History:
        """The history ring every subscription reads from."""

    @property
    def books(self) -> BookMirror:
        """The L2 books built from what was published."""

    def drop_slow(self, sub: Any) -> None:
        """Close ``sub`` as a slow consumer (counted in ``stats``)."""

    def detach(self, sub: Any) -> None:
        """Forget a closed pull subscription."""

    def park(self, sub: Any) -> None:
        """A pull subscription waits for matching events (``Subscription.next_batch``)."""

    def unpark(self, sub: Any) -> None:
        """It no longer waits."""
