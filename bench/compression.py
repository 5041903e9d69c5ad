"""Compressed market data: SSE gzip and brotli against plain SSE and WebSocket deflate.

Run: ``python -m bench.compression [--subs 200] [--rate 200] [--window 5]``. Prints Markdown;
docs/benchmarks.md ("## Compressed market data") holds the figures. Not a test: nothing
asserts speed.

For each lane a fresh ``tickwire serve`` (simulator off, fsync off,
``TICKWIRE_MD_SYNTHETIC_RATE=rate``: the same synthetic events published straight into the
hub) pinned to core 0; this process, pinned to core 1, runs the lab's solo phase on it
(``exchange.lab.probe.solo_phase``: ``subs`` metered clients of that lane on the whole feed,
each decoding what it asked for). The server's idle CPU (the feed alone) is measured first
and subtracted.

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
from typing import Any

import uvloop

from bench.procs import CLIENT_CORE, loadavg, pin, raise_nofile, start_tickwire, versions
from exchange.lab.probe import ProbeConfig, idle_cpu, solo_phase

LANES = ("sse", "sse-gzip", "sse-br", "ws", "ws-deflate")


async def measure(lane: str, subs: int, rate: float, window: float) -> dict[str, Any]:
    """One lane on a fresh server: the lab's solo phase (``exchange.lab.probe.solo_phase``)."""
    env = {"TICKWIRE_MD_SYNTHETIC_RATE": str(rate), "TICKWIRE_SSE_ENCODINGS": "gzip,br"}
    server = start_tickwire(env, fsync="off")
    try:
        cfg = ProbeConfig(url=server.base, server_pid=server.pid, clients=subs, rate=rate)
        await asyncio.sleep(1.0)
        idle = await idle_cpu(cfg, 2.0)
        row = await solo_phase(cfg, lane, idle, window, warm_s=1.5)
    finally:
        server.stop()
    row["idle_cpu"] = idle
    row["delivered"] = row["events"] / max(1e-9, rate * subs * row["window_s"])
    row["agreed"] = row.get("content_encoding", row.get("deflate_agreed"))
    return row


async def run(subs: int, rate: float, window: float, lanes: tuple[str, ...]) -> None:
    print("## bench.compression\n")
    print(f"- versions: {versions()}")
    print(f"- {subs} subscribers per lane, {rate:g} events/s synthetic feed, window {window} s;"
          f" server on core 0, clients (one process) on core {CLIENT_CORE}")  # fmt: skip
    print(f"- load average before: {loadavg()}\n")
    print("| lane | agreed | B/event | vs sse | server µs/event delivered | vs sse | "
          "RSS KiB/conn | p50 ms | p99 ms | delivered | server CPU | client CPU |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base: dict[str, Any] | None = None
    for lane in lanes:
        r = await measure(lane, subs, rate, window)
        if lane == "sse":
            base = r
        b = base or r
        size, cpu = r["down_per_event"], r["cpu_us_per_event_delivered"]
        lat = r["latency"]
        print(f"| {lane} | {r['agreed']} | {size:.1f} | "
              f"{size / max(1e-9, b['down_per_event']):.2f}x | {cpu:.2f} | "
              f"{cpu / max(1e-9, b['cpu_us_per_event_delivered']):.2f}x | "
              f"{r['rss_bytes_per_connection'] / 1024:.1f} | {lat['p50_ms']:.2f} | "
              f"{lat['p99_ms']:.2f} | {100 * r['delivered']:.1f} % | "
              f"{r['server_cpu_cores']:.2f} (idle {r['idle_cpu']:.2f}) | "
              f"{r['probe_cpu_cores']:.2f} |", flush=True)  # fmt: skip
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
