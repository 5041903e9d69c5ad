"""Fixtures of the WebRTC tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from exchange.gateway.rtc.ice import gather_addresses, ice_configuration


@pytest.fixture
async def offer_sdp() -> AsyncIterator[str]:
    """A real offer (one data channel, loopback candidates) whose offerer never answers ICE:
    to send as is or to mutate."""
    pc = RTCPeerConnection(ice_configuration([]))
    pc.createDataChannel("book")
    with gather_addresses(("127.0.0.1",)):
        await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    yield pc.localDescription.sdp
    await pc.close()
