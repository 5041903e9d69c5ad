"""ICE and SDP helpers (``exchange.gateway.rtc.ice``) and the two WebRTC settings."""

from __future__ import annotations

import asyncio

import aioice.ice
import pytest
from aiortc import RTCPeerConnection

from exchange.config import ConfigError, Settings, from_env
from exchange.gateway.rtc.ice import (
    OfferError,
    check_offer,
    gather_addresses,
    ice_configuration,
    is_loopback_host,
    parse_ice_server,
    strip_mdns_candidates,
)


def test_ice_server_urls() -> None:
    stun = parse_ice_server("stun:stun.example.net:3478")
    assert stun.urls == "stun:stun.example.net:3478" and stun.username is None
    turn = parse_ice_server("turn:al%40ice:s%3Acret@turn.example.net:3478?transport=tcp")
    assert turn.urls == "turn:turn.example.net:3478?transport=tcp"
    assert (turn.username, turn.credential) == ("al@ice", "s:cret")
    for bad in ("http://x", "turn:turn.example.net:3478", "stun:u:p@h:1", "stun:", "nothing"):
        with pytest.raises(ValueError):
            parse_ice_server(bad)
    # always an explicit list: aiortc's default would be a public STUN server
    assert ice_configuration([]).iceServers == []


def test_settings_validate_and_read_the_environment() -> None:
    with pytest.raises(ConfigError, match="rtc_max_peers"):
        Settings(rtc_max_peers=-1)
    with pytest.raises(ConfigError, match="rtc_ice_servers"):
        Settings(rtc_ice_servers=("http://stun.example.net",))
    s = from_env(
        environ={
            "TICKWIRE_RTC_MAX_PEERS": "7",
            "TICKWIRE_RTC_ICE_SERVERS": "stun:a.example:3478, turn:u:p@b.example:3478",
        }
    )
    assert s.rtc_max_peers == 7
    assert s.rtc_ice_servers == ("stun:a.example:3478", "turn:u:p@b.example:3478")
    assert Settings().rtc_ice_servers == () and Settings().rtc_max_peers > 0


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_host(host), host
    for other in ("192.0.2.2", "fd00::2", "example.net", "", None, "10.0.0.1"):
        assert not is_loopback_host(other), other


async def test_gather_addresses_is_scoped_to_the_block_and_its_tasks() -> None:
    shipped = aioice.ice.get_host_addresses(True, True)
    assert "127.0.0.1" not in shipped  # aioice never offers loopback by itself
    with gather_addresses(("127.0.0.1", "::1")):
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(False, True) == ["::1"]
        inner = asyncio.create_task(asyncio.sleep(0, aioice.ice.get_host_addresses(True, True)))
        assert await inner == ["127.0.0.1", "::1"]
    assert aioice.ice.get_host_addresses(True, True) == shipped


async def test_offers_gather_only_loopback_in_scope() -> None:
    pc = RTCPeerConnection(ice_configuration([]))
    try:
        pc.createDataChannel("book")
        with gather_addresses(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        sdp = pc.localDescription.sdp
        hosts = [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]
        assert hosts == ["127.0.0.1"]
        assert check_offer({"sdp": sdp, "type": "offer"}) == sdp
    finally:
        await pc.close()


def test_check_offer_shapes() -> None:
    for body, why in (
        ([], "JSON object"),
        ({"type": "answer", "sdp": "v=0"}, "offer"),
        ({"type": "offer"}, "non-empty string"),
        ({"type": "offer", "sdp": "   "}, "non-empty string"),
        ({"type": "offer", "sdp": "v=0\r\n"}, "data channel"),
    ):
        with pytest.raises(OfferError, match=why):
            check_offer(body)


def test_mdns_candidates_are_dropped() -> None:
    sdp = (
        "v=0\r\n"
        "a=candidate:1 1 udp 2113937151 0f3a9c1e-8d7b-4d0e-9f1a-2b3c4d5e6f70.local 5000 typ host\r\n"
        "a=candidate:2 1 udp 2113937151 192.0.2.7 5001 typ host\r\n"
        "a=candidate:3 1 udp 1677729535 198.51.100.4 5002 typ srflx raddr 0.0.0.0 rport 0\r\n"
        "a=end-of-candidates\r\n"
    )
    out = strip_mdns_candidates(sdp)
    assert ".local" not in out
    assert "192.0.2.7 5001" in out and "198.51.100.4 5002" in out and out.endswith("candidates\r\n")
