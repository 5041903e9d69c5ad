"""ICE and SDP helpers shared by the server and the client: which addresses to gather, which
STUN/TURN servers to use, and what an acceptable offer looks like.

Exports: ``ice_configuration``, ``parse_ice_server``, ``gather_addresses``,
``is_loopback_host``, ``check_offer``, ``strip_mdns_candidates``, ``OfferError``,
``MAX_OFFER_CANDIDATES``.

Contracts:

* ``ice_configuration(urls)`` always passes an explicit (possibly empty) server list: aiortc's
  default, used when none is given, is a public STUN server, which would send traffic off the
  machine for nothing on loopback.
* aioice 0.13 gathers host candidates from every interface *except* 127.0.0.1 and ::1
  (RFC 8445 forbids loopback candidates) and has no option to choose addresses (aiortc/aioice
  issue 2 is still open). ``gather_addresses(addrs)`` scopes, for the current task and the
  tasks it starts, the addresses aioice gathers on; outside such a scope aioice behaves as
  shipped. Server and client use it to stay on 127.0.0.1 when the other side is on this
  machine's loopback, so loopback tests never touch another interface.
* ``check_offer(body)`` returns the offer's SDP or raises ``OfferError`` (the message says
  why); it parses the SDP and insists on exactly one DTLS/SCTP data-channel m-line, no
  media, a DTLS fingerprint and at most ``MAX_OFFER_CANDIDATES`` candidates (aiortc checks the rest, e.g. ICE credentials, when applied).
* ``strip_mdns_candidates(sdp)`` drops ``<uuid>.local`` host candidates (Chromium's default
  hides host IPs behind mDNS names): resolving them would multicast on the LAN. The browser's
  connectivity checks still reach the server, which learns their source as a peer-reflexive
  candidate, so the connection comes up without the browser flag.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

import aioice.ice as _aioice
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.sdp import SessionDescription

__all__ = [
    "MAX_OFFER_CANDIDATES",
    "OfferError",
    "check_offer",
    "gather_addresses",
    "ice_configuration",
    "is_loopback_host",
    "parse_ice_server",
    "strip_mdns_candidates",
]

#: Largest SDP accepted (a browser's offer with many candidates is a few KiB).
MAX_SDP_BYTES = 32 * 1024
#: Most ``a=candidate`` lines accepted in an offer: each one is a path aioice checks (a
#: browser offers a handful; more is a way to make the server send connectivity checks).
MAX_OFFER_CANDIDATES = 32

_ONLY: ContextVar[tuple[str, ...] | None] = ContextVar("tickwire_rtc_addresses", default=None)
_shipped_host_addresses = _aioice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    only = _ONLY.get()
    if only is None:
        return _shipped_host_addresses(use_ipv4, use_ipv6)
    return [a for a in only if (use_ipv6 if ":" in a else use_ipv4)]


# aioice's gather_candidates looks the function up in its module at call time; with no scope
# set, the wrapper answers exactly what aioice would.
if _aioice.get_host_addresses is not _host_addresses:
    _aioice.get_host_addresses = _host_addresses


@contextlib.contextmanager
def gather_addresses(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within the block (and tasks created in it), aioice gathers host candidates on exactly
    ``addresses``; ``None`` keeps aioice's own choice."""
    token = _ONLY.set(None if addresses is None else tuple(addresses))
    try:
        yield
    finally:
        _ONLY.reset(token)


def is_loopback_host(host: str | None) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_ice_server(url: str) -> RTCIceServer:
    """``stun:host:port`` or ``turn:user:password@host:port[?transport=tcp]`` (``turns:`` too);
    user and password are percent-decoded. ``ValueError`` for anything else."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "turn", "turns") or not rest:
        raise ValueError(f"ICE server {url!r}: use stun:HOST:PORT or turn:USER:PASS@HOST:PORT")
    if "@" in rest:
        creds, _, hostpart = rest.rpartition("@")
        user, _, password = creds.partition(":")
        if scheme == "stun" or not user:
            raise ValueError(f"ICE server {url!r}: credentials belong to turn: URLs")
        return RTCIceServer(f"{scheme}:{hostpart}", unquote(user), unquote(password))
    if scheme != "stun":
        raise ValueError(f"ICE server {url!r}: a TURN server needs USER:PASS@")
    return RTCIceServer(url)


def ice_configuration(urls: Sequence[str]) -> RTCConfiguration:
    """An ``RTCConfiguration`` with exactly these servers (none: host candidates only)."""
    return RTCConfiguration(iceServers=[parse_ice_server(u) for u in urls])


class OfferError(ValueError):
    """The signalling body is not an acceptable offer; ``str()`` says why."""


def check_offer(body: Any) -> str:
    """The SDP of a ``{"sdp": ..., "type": "offer"}`` object, or ``OfferError``."""
    if not isinstance(body, dict):
        raise OfferError('the body must be a JSON object {"sdp": ..., "type": "offer"}')
    kind, sdp = body.get("type"), body.get("sdp")
    if kind != "offer":
        raise OfferError(f'type must be "offer", not {kind!r}')
    if not isinstance(sdp, str) or not sdp.strip():
        raise OfferError("sdp must be a non-empty string")
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise OfferError(f"sdp over {MAX_SDP_BYTES} bytes")
    candidates = sum(line.startswith("a=candidate:") for line in sdp.splitlines())
    if candidates > MAX_OFFER_CANDIDATES:
        raise OfferError(f"{candidates} ICE candidates: at most {MAX_OFFER_CANDIDATES}")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the text trips it on
        raise OfferError(f"unreadable SDP: {type(exc).__name__}") from exc
    kinds = [m.kind for m in parsed.media]
    if kinds.count("application") != 1 or len(kinds) != 1:
        raise OfferError(f"offer exactly one data channel m-line and no media (got {kinds})")
    media = parsed.media[0]
    if "DTLS/SCTP" not in media.profile:
        raise OfferError(f"the data channel m-line must use DTLS/SCTP, not {media.profile}")
    if media.sctpCapabilities is None and media.sctpmap == {} and media.sctp_port is None:
        raise OfferError("the data channel m-line carries no SCTP parameters")
    if media.dtls is None or not media.dtls.fingerprints:
        raise OfferError("the offer has no DTLS fingerprint")
    return sdp


def strip_mdns_candidates(sdp: str) -> str:
    """``sdp`` without ``a=candidate`` lines whose address is an mDNS ``.local`` name."""
    out = []
    for line in sdp.splitlines(keepends=True):
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4 and parts[4].lower().rstrip(".").endswith(".local"):
                continue
        out.append(line)
    return "".join(out)
