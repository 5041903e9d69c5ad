"""Compressed market data: SSE gzip and brotli against plain SSE and WebSocket deflate.

Run: ``python -m bench.compression [--subs 200] [--rate 200] [--window 5]``. Prints Markdown;
docs/benchmarks.md ("## Compressed market data") holds the figures. Not a test: nothing
asserts speed.

For each lane a fresh ``tickwire serve`` (simulator off, fsync off,
``TICKWIRE_MD_SYNTHETIC_RATE=rate``: the same synthetic events published straight into the
hub) pinned to core 0; this process, pinned to core 1, opens ``subs`` lab clients of that lane
(``exchange.lab.clients.open_client``: each decodes what it asked for) on the whole feed. The
server's idle CPU (the feed alone) is measured first and subtracted.

Lanes: ``sse`` (the baseline: the same bytes for every subscriber), ``sse-gzip``, ``sse-br``
(one compressor per connection, ``exchange.gateway.content_coding``), ``ws`` and
``ws-deflate`` (permessage-deflate, a compressor per connection too).

Per lane: bytes on the socket per event, server CPU per event delivered (µs), server RSS
growth per connection (KiB), delivery latency p50/p99 (publish ``ts`` to receipt), delivered
fraction, and this process's CPU (if it nears one core the client was the limit). Ratios are
against ``sse`` in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from bench.procs import (
    CLIENT_CORE,
    cpu_seconds,
    loadavg,
    pin,
    raise_nofile,
    rss_bytes,
    start_tickwire,
    versions,
)
from exchange.lab.clients import open_client
from exchange.lab.lifecycle import close_all, per_event, settle, wait_first
from exchange.lab.wire import Meter

LANES = ("sse", "sse-gzip", "sse-br", "ws", "ws-deflate")


async def measure(lane: str, subs: int, rate: float, window: float) -> dict[str, float]:
    env = {"TICKWIRE_MD_SYNTHETIC_RATE": str(rate), "TICKWIRE_SSE_ENCODINGS": "gzip,br"}
    server = start_tickwire(env, fsync="off")
    try:
        await asyncio.sleep(1.0)
        c0, t0 = cpu_seconds(server.pid), time.monotonic()
        await asyncio.sleep(2.0)
        idle = (cpu_seconds(server.pid) - c0) / (time.monotonic() - t0)
        rss0 = rss_bytes(server.pid)
        meter = Meter(counting=False)
        clients = [await open_client(server.base, lane, meter) for _ in range(subs)]
        try:
            await wait_first(clients)
            await asyncio.sleep(1.5)
            meter.reset()
            meter.counting = True
            c0, t0, p0 = cpu_seconds(server.pid), time.monotonic(), time.process_time()
            await asyncio.sleep(window)
            meter.counting = False
            wall = time.monotonic() - t0
            cpu = (cpu_seconds(server.pid) - c0) / wall
            client_cpu = (time.process_time() - p0) / wall
            rss1 = rss_bytes(server.pid)
            agreed = {
                str(getattr(c, "coding_agreed", None) or getattr(c, "deflate_agreed", None))
                for c in clients
            }
        finally:
            close_all(clients)
            await settle(clients)
    finally:
        server.stop()
    row = per_event(meter)
    events = max(1, meter.events)
    lat = row["latency"]
    assert isinstance(lat, dict)
    return {
        "bytes_per_event": float(row["down_per_event"]),  # type: ignore[arg-type]
        "cpu_us_per_event": max(0.0, cpu - idle) * wall / events * 1e6,
        "server_cpu": cpu,
        "idle_cpu": idle,
        "rss_kib_per_conn": max(0, rss1 - rss0) / subs / 1024,
        "p50_ms": float(lat["p50_ms"]),
        "p99_ms": float(lat["p99_ms"]),
        "delivered": meter.events / max(1e-9, rate * subs * wall),
        "client_cpu": client_cpu,
        "agreed": ",".join(sorted(agreed)),  # type: ignore[dict-item]
    }


async def run(subs: int, rate: float, window: float, lanes: tuple[str, ...]) -> None:
    print("## bench.compression\n")
    print(f"- versions: {versions()}")
    print(f"- {subs} subscribers per lane, {rate:g} events/s synthetic feed, window {window} s;"
          f" server on core 0, clients (one process) on core {CLIENT_CORE}")  # fmt: skip
    print(f"- load average before: {loadavg()}\n")
    print("| lane | agreed | B/event | vs sse | server µs/event delivered | vs sse | "
          "RSS KiB/conn | p50 ms | p99 ms | delivered | server CPU | client CPU |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base: dict[str, float] | None = None
    for lane in lanes:
        r = await measure(lane, subs, rate, window)
        if lane == "sse":
            base = r
        b = base or r
        print(f"| {lane} | {r['agreed']} | {r['bytes_per_event']:.1f} | "
              f"{r['bytes_per_event'] / max(1e-9, b['bytes_per_event']):.2f}x | "
              f"{r['cpu_us_per_event']:.2f} | "
              f"{r['cpu_us_per_event'] / max(1e-9, b['cpu_us_per_event']):.2f}x | "
              f"{r['rss_kib_per_conn']:.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{100 * r['delivered']:.1f} % | {r['server_cpu']:.2f} (idle {r['idle_cpu']:.2f}) | "
              f"{r['client_cpu']:.2f} |", flush=True)  # fmt: skip
    print(f"\n- load average after: {loadavg()}")


def main() -> None:
    p = argparse.ArgumentParser(description="SSE gzip/brotli against plain SSE and WS deflate")
    p.add_argument("--subs", type=int, default=200, help="subscribers per lane")
    p.add_argument("--rate", type=float, default=200.0, help="synthetic events per second")
    p.add_argument("--window", type=float, default=5.0, help="seconds measured per lane")
    p.add_argument("--lanes", default=",".join(LANES), help="comma-separated: " + ",".join(LANES))
    a = p.parse_args()
    lanes = tuple(t for t in a.lanes.split(",") if t)
    unknown = [t for t in lanes if t not in LANES]
    if unknown:
        p.error(f"unknown lane(s): {', '.join(unknown)}")
    pin(0, CLIENT_CORE)
    raise_nofile()
    uvloop.run(run(a.subs, a.rate, a.window, lanes))


if __name__ == "__main__":
    main()
