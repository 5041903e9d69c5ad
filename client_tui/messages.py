"""Textual messages posted by the network workers (``client_tui.connection``) to the app.

Exports ``MarketEvent``, ``MarketReset``, ``OrderUpdate``, ``AccountUpdate``,
``ConnectionState``, ``PingResult``, ``SymbolsLoaded`` and ``TradesLoaded``.

Contract: the connection applies market data and order messages to the pure models
(``client_tui.model``) *before* posting, so a message means "this part of the state
changed"; handlers only mark widgets dirty, and the app redraws them once per frame.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

__all__ = [
    "AccountUpdate",
    "ConnectionState",
    "MarketEvent",
    "MarketReset",
    "OrderUpdate",
    "PingResult",
    "SymbolsLoaded",
    "TradesLoaded",
]


class MarketEvent(Message):
    """One market-data event was applied (``event`` is the §4 name, ``data`` its payload)."""

    def __init__(self, event: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.event = event
        self.data = data


class MarketReset(Message):
    """The client threw its books away and resynchronises (gap, bad checksum or ``reset``)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class OrderUpdate(Message):
    """A server message of the order socket was applied to the ``OrderTracker``.

    ``replayed`` is True for the account's history replayed on the first connect (not news:
    no fill notification).
    """

    def __init__(self, msg: dict[str, Any], *, replayed: bool = False) -> None:
        super().__init__()
        self.msg = msg
        self.replayed = replayed


class AccountUpdate(Message):
    """The ``Portfolio`` was reloaded from ``GET /api/account``."""


class SymbolsLoaded(Message):
    """``GET /api/symbols`` answered; the market state now knows every symbol."""


class TradesLoaded(Message):
    """``GET /api/trades`` / ``/api/candles`` answered for ``symbol``: its tape and chart hold
    what traded before the client connected (and its last trade price, on a quiet market)."""

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol


class ConnectionState(Message):
    """A connection changed state.

    ``channel`` is ``"md"`` or ``"orders"``; ``state`` is one of ``connecting``, ``live``,
    ``resyncing``, ``reconnecting``, ``closed``; ``detail`` says why (shown in the status bar).
    """

    def __init__(self, channel: str, state: str, detail: str = "") -> None:
        super().__init__()
        self.channel = channel
        self.state = state
        self.detail = detail


class PingResult(Message):
    """An application-level ``ping`` was answered after ``rtt_ms`` milliseconds."""

    def __init__(self, rtt_ms: float) -> None:
        super().__init__()
        self.rtt_ms = rtt_ms
