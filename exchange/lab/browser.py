"""Claim 2 in a real browser: Chromium opens N ``EventSource`` streams to one origin.

Exports: ``run_browser_demo`` (async) -> dict, ``main`` (``python -m exchange.lab.browser
[--out DIR] [--streams N]``, writes ``browser.json``).

Scenarios, each in a fresh browser context on a page of the server's own origin, every one a
``tickwire serve`` child with the synthetic feed:

* ``http1``: N streams (one symbol each) to uvicorn over HTTP/1.1. Chromium allows 6
  connections per origin (per host and port), so streams 7.. never connect while the first
  six are open: they receive nothing;
* ``multiplexed``: one stream for every symbol over the same HTTP/1.1 server: one
  connection, every symbol's events;
* ``http1_tls``: six streams (the cap) to uvicorn over TLS, HTTP/1.1: the like-for-like
  baseline of the next two (same certificate, same encryption);
* ``h2_6`` and ``h2``: six, then N streams to ``tickwire serve --http2`` (hypercorn, TLS,
  ALPN ``h2``): one connection, every stream flowing.

Each scenario reports, besides the per-stream counts, the event-time-to-page latency of every
event after the first second (``lat_p50_ms``, ``lat_p99_ms``: the feed stamps ``ts`` at
publish) and the server's CPU per event delivered (``server_us_per_event``, from ``/proc`` of
the server process over the window). One server runs at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import orjson

from exchange.gateway.h2server import local_certificate
from exchange.lab.procstat import cpu_seconds
from exchange.lab.runner import start_server

__all__ = ["main", "run_browser_demo"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

OPEN_STREAMS = """async ({paths, waitMs}) => {
  const t0 = performance.now();
  const got = paths.map(() => 0), first = paths.map(() => -1), symbols = {}, lat = [];
  const sources = paths.map((path, i) => {
    const es = new EventSource(path);
    const on = (ev) => {
      got[i]++;
      if (first[i] < 0) first[i] = Math.round(performance.now() - t0);
      const data = JSON.parse(ev.data);
      const sym = data.symbol;
      if (sym) symbols[sym] = (symbols[sym] || 0) + 1;
      // event time (ns, stamped at publish) to this page; the first second is warm-up
      if (typeof data.ts === "number" && performance.now() - t0 > 1000) {
        lat.push(performance.timeOrigin + performance.now() - data.ts / 1e6);
      }
    };
    for (const name of ["snapshot", "book", "trade", "ticker"]) es.addEventListener(name, on);
    return es;
  });
  await new Promise((r) => setTimeout(r, waitMs));
  const states = sources.map((es) => es.readyState);
  sources.forEach((es) => es.close());
  const nav = performance.getEntriesByType("navigation")[0];
  lat.sort((a, b) => a - b);
  const q = (f) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] * 100) / 100 : null);
  return {got, first, symbols, states, protocol: nav ? nav.nextHopProtocol : "",
          lat_p50_ms: q(0.5), lat_p99_ms: q(0.99), lat_n: lat.length};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _scenario(
    browser: Any, origin: str, paths: list[str], wait_ms: int, pid: int = 0
) -> dict[str, Any]:
    context = await browser.new_context(ignore_https_errors=True)
    try:
        page = await context.new_page()
        await page.goto(f"{origin}/healthz")
        cpu0 = cpu_seconds(pid)
        result: dict[str, Any] = await page.evaluate(
            OPEN_STREAMS, {"paths": paths, "waitMs": wait_ms}
        )
        cpu = cpu_seconds(pid) - cpu0
    finally:
        await context.close()
    result["streams"] = len(paths)
    result["with_events"] = sum(1 for g in result["got"] if g > 0)
    result["stalled"] = [i + 1 for i, g in enumerate(result["got"]) if g == 0]
    delivered = sum(result["got"])
    result["server_cpu_s"] = round(cpu, 3)
    result["server_us_per_event"] = round(cpu / delivered * 1e6, 1) if delivered and pid else None
    return result


async def run_browser_demo(streams: int = 8, rate: float = 50.0, wait_ms: int = 3000) -> dict:
    """Run the scenarios; figures per scenario (``with_events``, ``stalled``, latency, CPU)."""
    from playwright.async_api import async_playwright

    port = _free_port()
    out: dict[str, Any] = {"streams": streams, "rate": rate, "wait_ms": wait_ms,
                           "load_before": round(os.getloadavg()[0], 2)}  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="tickwire-h2lab-"))
    cert, key, _ = local_certificate(tmp / "tls")
    trust = ssl.create_default_context(cafile=str(cert))
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    tls_runs = (("http1_tls", tls, 6), ("h2_6", ["--http2", *tls], 6),
                ("h2", ["--http2", *tls], streams))  # fmt: skip
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                out["browser"] = browser.version
                with start_server("127.0.0.1", port, rate) as srv:
                    origin = f"http://127.0.0.1:{port}"
                    symbols = [s["symbol"] for s in httpx.get(f"{origin}/api/symbols").json()]
                    paths = [
                        f"/md/stream?symbols={symbols[i % len(symbols)]}" for i in range(streams)
                    ]
                    out["http1"] = await _scenario(browser, origin, paths, wait_ms, srv.pid)
                    everything = [f"/md/stream?symbols={','.join(symbols)}"]
                    out["multiplexed"] = await _scenario(
                        browser, origin, everything, wait_ms, srv.pid
                    )
                    out["multiplexed"]["symbols_total"] = len(symbols)
                for name, extra, n in tls_runs:  # one server at a time on the 2 cores
                    p2 = _free_port()
                    url = f"https://127.0.0.1:{p2}"
                    with start_server("127.0.0.1", p2, rate, ready_url=url, extra=extra,
                                      verify=trust) as child:  # fmt: skip
                        out[name] = await _scenario(browser, url, paths[:n], wait_ms, child.pid)
            finally:
                await browser.close()
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Chromium's per-origin cap on EventSource, measured")
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--out", type=Path, default=Path("lab-out"))
    a = p.parse_args(argv)
    result = asyncio.run(run_browser_demo(a.streams, a.rate))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "browser.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"load average {result['load_before']} before, {result['load_after']} after")
    for name in ("http1", "multiplexed", "http1_tls", "h2_6", "h2"):
        r = result[name]
        print(f"{name:12} protocol={r['protocol'] or '?':9} streams={r['streams']} "
              f"with events={r['with_events']} stalled={r['stalled']} "
              f"latency p50/p99={r['lat_p50_ms']}/{r['lat_p99_ms']} ms "
              f"server={r['server_us_per_event']} us/event")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
