"""Signalling over HTTP: ``POST /rtc/offer`` answers a client's SDP offer.

Exports: ``router``, ``install``, ``client_address``, ``TOO_MANY_PEERS``, ``MAX_BODY_BYTES``.

Contract of ``POST /rtc/offer[?symbols=A,B]`` with ``{"sdp": "...", "type": "offer"}``:

* 200 ``{"sdp": "...", "type": "answer"}``: a peer connection now waits for the client's
  ICE checks; the channels the client opened (``ticker``, ``book``) are served when they open.
  ``symbols`` (default: all) is what the ``ticker`` channel starts with.
* 413 ``BAD_REQUEST``: the body is over ``MAX_BODY_BYTES`` (refused on its ``Content-Length``
  before reading, or as soon as a chunked body passes the limit).
* 400 ``BAD_REQUEST``: the body is not JSON, not an object, not an offer, the SDP does not
  parse or aiortc refuses it, it has no data-channel m-line (or has media), or ``symbols``
  names an unknown symbol. Nothing stays allocated.
* 403 ``FORBIDDEN``: a browser ``Origin`` that is neither this host nor in
  ``allowed_origins`` (the rule of the WebSocket handshakes).
* 401 ``UNAUTHORIZED``: a token was given (``Authorization: Bearer``) and is not valid, or
  one was given as ``?token=`` (never taken in a URL here). A token is never required:
  market data is public.
* 429 ``RATE_LIMITED``: over ``rtc_offer_rate`` offers per second (burst ``rtc_offer_burst``)
  from this client address (``client_address``); 429 ``TOO_MANY_PEERS``: the address already
  has ``rtc_max_peers_per_ip`` peers negotiating or open. Checked before the body is read.
* 503 ``TOO_MANY_PEERS`` at ``rtc_max_peers`` open peers; ``TRANSPORT_DISABLED`` when
  ``rtc`` is not among ``transports`` (``--transports``), ``rtc_max_peers`` is 0 or the server
  is stopping.

Candidates: when the request comes from this machine's loopback (and names no proxy), the
answer offers only loopback host candidates (see ``exchange.gateway.rtc.ice``); otherwise every
interface aioice finds, plus server-reflexive/relay ones from ``rtc_ice_servers``.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request

from exchange.gateway.deps import Node, api_error, origin_allowed, parse_filter
from exchange.gateway.rtc.peer import TOO_MANY_PEERS, RtcPeer, RtcPeers
from exchange.node.auth import AuthError, bearer_from_header

__all__ = [
    "LOOPBACK_ADDRESSES",
    "MAX_BODY_BYTES",
    "TOO_MANY_PEERS",
    "client_address",
    "install",
    "router",
]

router = APIRouter()

MAX_BODY_BYTES = 64 * 1024
#: Host candidates offered to a client on this machine's loopback.
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def _peers(request: Request) -> RtcPeers:
    peers: RtcPeers = request.app.state.rtc_peers
    return peers


def _check_token(request: Request, node: Node) -> None:
    if "token" in request.query_params:  # as for REST: a token in a URL ends up in logs
        raise api_error(401, "UNAUTHORIZED", "the token goes in an Authorization: Bearer "
                        "header, not ?token=")  # fmt: skip
    token = bearer_from_header(request.headers.get("authorization"))
    if token:
        try:
            node.issuer.verify(token)
        except AuthError as exc:
            raise api_error(401, "UNAUTHORIZED", str(exc)) from exc


def client_address(request: Request) -> str:
    """The address the per-address limits count: the TCP peer's, or, when that is this
    machine's loopback (a local reverse proxy such as the cluster's HAProxy with
    ``option forwardfor``), the last ``X-Forwarded-For`` entry, which that proxy appended."""
    from exchange.gateway.rtc.ice import is_loopback_host

    host = request.client.host if request.client is not None else ""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and is_loopback_host(host):
        last = forwarded.rsplit(",", 1)[-1].strip()
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(last))
    return host


def _local_client(request: Request) -> bool:
    from exchange.gateway.rtc.ice import is_loopback_host

    client = request.client
    if client is None or not is_loopback_host(client.host):
        return False
    return not any(h in request.headers for h in _PROXY_HEADERS)


async def _read_body(request: Request) -> bytes:
    """The body, or ``ValueError`` as soon as it is known to exceed ``MAX_BODY_BYTES``: a
    declared ``Content-Length`` over the limit is refused unread, and a chunked body is read
    only until it passes the limit (never held whole in memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise ValueError(f"body over {MAX_BODY_BYTES} bytes (Content-Length {declared[:20]})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValueError(f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/rtc/offer", summary="WebRTC signalling: an SDP offer in, the SDP answer out")
async def rtc_offer(request: Request, symbols: str | None = None) -> dict[str, str]:
    # aiortc and aioice load with the first offer, not with the app: ~30 MiB and most of a
    # second that a server nobody asks for WebRTC should not pay.
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from exchange.gateway.rtc.ice import (
        OfferError,
        check_offer,
        gather_addresses,
        ice_configuration,
        strip_mdns_candidates,
    )

    node: Node = request.app.state.node
    peers = _peers(request)
    offers = peers.metrics.offers
    settings = node.settings
    if "rtc" not in settings.transports or settings.rtc_max_peers <= 0 or node.shutting_down:
        raise api_error(503, "TRANSPORT_DISABLED", "WebRTC market data is off on this server")
    if not origin_allowed(
        request.headers.get("origin"),
        request.headers.get("host"),
        settings.allowed_origins,
        request.url.scheme,
    ):
        # as for WebSocket handshakes: a page of another site may not open peers here
        raise api_error(403, "FORBIDDEN", "origin not allowed")
    address = client_address(request)
    refused = peers.refusal(address)
    if refused is not None:
        status, code, message = refused
        offers.labels("full" if code == TOO_MANY_PEERS else "limited").inc()
        raise api_error(status, code, message)
    _check_token(request, node)
    try:
        raw = await _read_body(request)
    except ValueError as exc:
        offers.labels("bad").inc()
        raise api_error(413, "BAD_REQUEST", str(exc)) from exc
    try:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise OfferError("the body is not JSON") from exc
        sdp = check_offer(body)
        parse_filter(node, symbols, "ticker")
    except ValueError as exc:  # OfferError is one
        offers.labels("bad").inc()
        raise api_error(400, "BAD_REQUEST", str(exc)) from exc
    if peers.full:  # the body was read meanwhile: look again, so the cap stays exact
        offers.labels("full").inc()
        raise api_error(503, TOO_MANY_PEERS, f"{len(peers)} WebRTC peers open: try later")
    cap = settings.rtc_max_peers_per_ip
    if cap and peers.per_address.get(address, 0) >= cap:
        offers.labels("full").inc()
        raise api_error(429, TOO_MANY_PEERS, f"{cap} WebRTC peers open from {address}")
    pc = RTCPeerConnection(ice_configuration(node.settings.rtc_ice_servers))
    peer = RtcPeer(peers, pc, symbols, address)
    peers.add(peer)  # no await since the cap checks: the caps are exact
    try:
        with gather_addresses(LOOPBACK_ADDRESSES if _local_client(request) else None):
            await pc.setRemoteDescription(
                RTCSessionDescription(strip_mdns_candidates(sdp), "offer")
            )
            await pc.setLocalDescription(await pc.createAnswer())
    except BaseException as exc:
        await peer.close_soon()
        if not isinstance(exc, Exception):
            raise
        offers.labels("bad").inc()
        raise api_error(400, "BAD_REQUEST", f"offer refused: {exc}") from exc
    local = pc.localDescription
    if local is None:  # closed meanwhile (shutdown)
        await peer.close_soon()
        raise api_error(503, "TRANSPORT_DISABLED", "the server is stopping")
    offers.labels("answered").inc()
    peer.start_watch()
    return {"sdp": local.sdp, "type": local.type}


def install(app: FastAPI) -> None:
    """Serve ``/rtc/offer`` on ``app`` (whose ``state.node`` is set), and close every peer
    when the app's lifespan ends (before the node stops)."""
    peers = app.state.rtc_peers = RtcPeers(app.state.node)
    app.include_router(router)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            try:
                yield state
            finally:
                await peers.aclose()

    app.router.lifespan_context = lifespan
