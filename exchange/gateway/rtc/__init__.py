"""WebRTC data channels for market data (issue 9): the server side and a Python client.

Exports: ``install`` (adds ``POST /rtc/offer`` to an app and closes its peers when it stops),
``RtcMarketClient`` (the aiortc client, see ``exchange.gateway.rtc.client``), ``RtcConnectError``,
``RtcPeers`` (the per-app registry of open peers), ``TOO_MANY_PEERS``.

Channels the client opens: ``ticker`` (unordered, no retransmits, latest value per symbol)
and ``book`` (ordered, reliable: the /ws/md subscribe conversation). See
``exchange.gateway.rtc.channels`` and docs/protocol.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.gateway.rtc.peer import RtcPeers
from exchange.gateway.rtc.signalling import TOO_MANY_PEERS, install

if TYPE_CHECKING:
    from exchange.gateway.rtc.client import RtcConnectError, RtcMarketClient

__all__ = ["TOO_MANY_PEERS", "RtcConnectError", "RtcMarketClient", "RtcPeers", "install"]


def __getattr__(name: str) -> Any:
    # The client imports aiortc; the gateway imports this package for ``install`` only.
    if name in ("RtcConnectError", "RtcMarketClient"):
        from exchange.gateway.rtc import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
