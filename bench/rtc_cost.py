"""Rough server CPU cost of a market-data message over a WebRTC data channel vs /ws/md.

Run from the repository root: ``python -m bench.rtc_cost [--rate R] [--clients N]
[--seconds S]``. Prints one Markdown table row per transport. A measurement, not a test.
``--pair N`` measures only aiortc: two peers in this process exchanging N messages.

A ``tickwire serve`` subprocess (simulator off, ``TICKWIRE_MD_SYNTHETIC_RATE=R`` synthetic
events/s, pinned to core 0 by ``bench.procs``) serves N clients in this process (pinned to
core 1): ``rtc`` clients open only the reliable ``book`` channel subscribed to every hub
channel (so they receive the same messages as a /ws/md client), ``rtc-ticker`` clients only
the ``ticker`` channel, ``ws`` clients /ws/md, ``none`` no client (the publishing baseline).
Over the window: messages received, server CPU (``/proc``), and the server CPU microseconds
per delivered message above the ``none`` baseline. aiortc does SCTP, DTLS
(AES-GCM via OpenSSL) and the ICE/UDP sends in Python on the event loop, so expect several
times the WebSocket cost per message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from typing import Any

import orjson
import websockets

from exchange.gateway.rtc.client import RtcMarketClient

__all__ = ["main", "measure"]

ALL = ("book", "trades", "ticker", "candles", "status")


async def _ws_reader(url: str, counter: list[int], stop: asyncio.Event) -> None:
    ws_url = "ws" + url.removeprefix("http")
    async with websockets.connect(f"{ws_url}/ws/md", max_size=2**24) as ws:
        await ws.send(orjson.dumps({"op": "subscribe", "req_id": 1}).decode())
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)
                counter[0] += 1


async def _rtc_reader(
    url: str, counter: list[int], stop: asyncio.Event, channels: tuple[str, ...]
) -> None:
    async with RtcMarketClient(url, channels=channels, book_channels=ALL) as c:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await c.next(0.5)
                counter[0] += 1


async def measure(
    url: str, pid: int, transport: str, clients: int, seconds: float
) -> dict[str, Any]:
    """Attach ``clients`` readers of ``transport``; count what arrives in ``seconds``."""
    from bench.procs import cpu_seconds

    counter, stop = [0], asyncio.Event()
    if transport == "none":
        readers = []
    elif transport == "ws":
        readers = [_ws_reader(url, counter, stop) for _ in range(clients)]
    else:
        chans = ("ticker",) if transport == "rtc-ticker" else ("book",)
        readers = [_rtc_reader(url, counter, stop, chans) for _ in range(clients)]
    tasks = [asyncio.create_task(r) for r in readers]
    await asyncio.sleep(3.0)  # connect, snapshots
    n0, cpu0, own0, t0 = counter[0], cpu_seconds(pid), time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    n1, cpu1, own1, t1 = counter[0], cpu_seconds(pid), time.process_time(), time.perf_counter()
    stop.set()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise RuntimeError(f"a {transport} reader failed") from outcome
    msgs = n1 - n0
    return {
        "transport": transport,
        "clients": clients,
        "msgs_per_s": msgs / (t1 - t0),
        "server_cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
        "client_cpu_pct": 100 * (own1 - own0) / (t1 - t0),
    }


_SAMPLE = (
    '{"type":"md.book","id":"9dbc20-1000","data":{"symbol":"BTC-USD","first_seq":1,"seq":1,'
    '"bids":[["60000.00","0.5000"]],"asks":[],"checksum":123456789,"ts":1700000000000000000}}'
)


async def pair(n: int, ordered: bool = True) -> dict[str, Any]:
    """Two aiortc peers in this process on loopback: send ``n`` book-sized messages (with
    the same bufferedAmount flow control as the server) and return the CPU per message for
    sending and receiving together. No server, no hub: aiortc's own cost."""
    from aiortc import RTCPeerConnection

    from exchange.gateway.rtc.ice import gather_addresses, ice_configuration

    a, b = RTCPeerConnection(ice_configuration([])), RTCPeerConnection(ice_configuration([]))
    done, count = asyncio.Event(), [0]

    def on_message(_: Any) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    b.on("datachannel", lambda ch: ch.on("message", on_message))
    kw: dict[str, Any] = {} if ordered else {"ordered": False, "maxRetransmits": 0}
    dc = a.createDataChannel("x", **kw)
    opened, low = asyncio.Event(), asyncio.Event()
    dc.on("open", opened.set)
    dc.on("bufferedamountlow", low.set)
    dc.bufferedAmountLowThreshold = 64 * 1024
    try:
        with gather_addresses(("127.0.0.1",)):
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        await opened.wait()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for i in range(n):
            while dc.bufferedAmount > 256 * 1024:
                low.clear()
                await low.wait()
            dc.send(_SAMPLE)
            if i % 50 == 0:
                await asyncio.sleep(0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 30)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    finally:
        await a.close()
        await b.close()
    return {"received": count[0], "us_per_msg": 1e6 * cpu / max(1, count[0]), "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    from bench.procs import CLIENT_CORE, pin, start_tickwire

    ap = argparse.ArgumentParser(prog="python -m bench.rtc_cost", description=__doc__)
    ap.add_argument("--rate", type=float, default=200.0, help="synthetic events/s")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--transports", default="none,ws,rtc,rtc-ticker")
    ap.add_argument("--pair", type=int, default=0, help="only aiortc's own cost: N messages")
    args = ap.parse_args(argv)
    if args.pair:
        for ordered in (True, False):
            r = asyncio.run(pair(args.pair, ordered))
            print(
                f"aiortc pair, {'ordered reliable' if ordered else 'unordered, no retransmit'}: "
                f"{r['received']}/{args.pair} received, {r['us_per_msg']:.0f} µs CPU per "
                f"message (send + receive), {r['wall_s']:.1f} s"
            )
        return
    pin(os.getpid(), CLIENT_CORE)
    print("| transport | clients | msg/s delivered | server CPU % | server µs/msg over idle "
          "| client CPU % |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    idle = 0.0
    for transport in args.transports.split(","):
        server = start_tickwire({"TICKWIRE_MD_SYNTHETIC_RATE": str(args.rate)})
        try:
            row = asyncio.run(
                measure(server.base, server.pid, transport, args.clients, args.seconds)
            )
        finally:
            server.stop()
        if transport == "none":
            idle = row["server_cpu_pct"]
        extra = (row["server_cpu_pct"] - idle) / 100 * 1e6 / max(1.0, row["msgs_per_s"])
        print(
            f"| {row['transport']} | {row['clients']} | {row['msgs_per_s']:.0f} | "
            f"{row['server_cpu_pct']:.1f} | {extra:.0f} | {row['client_cpu_pct']:.1f} |"
        )


if __name__ == "__main__":
    main()
