"""Opening a metered market-data client of any transport (the lab's one entry point).

Exports: ``open_client``.

The TCP clients are in ``exchange.lab.wire``, the WebRTC one in ``exchange.lab.rtcwire``;
this module sits above both so neither imports the other.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from exchange.lab.rtcwire import open_rtc
from exchange.lab.wire import Meter, MeteredClient, PollClient, SseClient, WsClient

__all__ = ["open_client"]


async def open_client(
    url: str,
    transport: str,
    meter: Meter,
    *,
    query: dict[str, str] | None = None,
    resume: str | None = None,
    deflate: bool = False,
    record_ids: bool = False,
) -> MeteredClient:
    """Connect one client of ``transport`` (``ws``, ``ws-deflate``, ``sse``, ``sse-gzip``,
    ``sse-br``, ``poll``, ``rtc``)
    to ``url`` (``http://host:port``) and return it once the TCP connection is up (``rtc``:
    once its data channels are open; ``exchange.gateway.rtc.RtcConnectError`` if they do not).

    ``record_ids`` is set before connecting: a long poll's first answer (a resume backlog) can
    arrive before this coroutine's caller runs again, and must be recorded too."""
    if transport == "rtc":
        tickers_only = (query or {}).get("channels") == "ticker"
        return await open_rtc(
            url, meter, resume=resume, record_ids=record_ids, tickers_only=tickers_only
        )
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    q = dict(query or {})
    client: MeteredClient
    if transport.startswith("ws"):
        client = WsClient(host, port, meter, q, resume, deflate or transport == "ws-deflate")
    elif transport in ("sse", "sse-gzip", "sse-br"):
        coding = transport[4:] or None
        client = SseClient(host, port, meter, q, resume, coding)
    elif transport == "poll":
        client = PollClient(host, port, meter, q, resume)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    client.record_ids = record_ids
    started = time.time_ns()
    await loop.create_connection(lambda: client, host, port)
    client.started_ns = started
    return client
