"""Claim 2 in a real browser: Chromium opens N ``EventSource`` streams to one origin.

Exports: ``run_browser_demo`` (async) -> dict, ``main`` (``python -m exchange.lab.browser
[--out DIR] [--streams N]``, writes ``browser.json``).

Three scenarios, each in a fresh browser context on a page of the server's own origin:

* ``http1``: N streams (one symbol each) to uvicorn over HTTP/1.1. Chromium allows 6
  connections per origin (per host and port), so streams 7.. never connect while the first
  six are open: they receive nothing;
* ``multiplexed``: one stream for every symbol over the same HTTP/1.1 server: one
  connection, every symbol's events;
* ``h2``: the same N streams to hypercorn over TLS with HTTP/2 (``exchange.lab.h2serve``,
  self-signed certificate made with ``openssl``): one connection, N streams, all flowing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from exchange.lab.h2serve import make_cert
from exchange.lab.runner import REPO, start_server

__all__ = ["main", "run_browser_demo"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

OPEN_STREAMS = """async ({paths, waitMs}) => {
  const t0 = performance.now();
  const got = paths.map(() => 0), first = paths.map(() => -1), symbols = {};
  const sources = paths.map((path, i) => {
    const es = new EventSource(path);
    const on = (ev) => {
      got[i]++;
      if (first[i] < 0) first[i] = Math.round(performance.now() - t0);
      const sym = JSON.parse(ev.data).symbol;
      if (sym) symbols[sym] = (symbols[sym] || 0) + 1;
    };
    for (const name of ["snapshot", "book", "trade", "ticker"]) es.addEventListener(name, on);
    return es;
  });
  await new Promise((r) => setTimeout(r, waitMs));
  const states = sources.map((es) => es.readyState);
  sources.forEach((es) => es.close());
  const nav = performance.getEntriesByType("navigation")[0];
  return {got, first, symbols, states, protocol: nav ? nav.nextHopProtocol : ""};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _scenario(browser: Any, origin: str, paths: list[str], wait_ms: int) -> dict[str, Any]:
    context = await browser.new_context(ignore_https_errors=True)
    try:
        page = await context.new_page()
        await page.goto(f"{origin}/healthz")
        result: dict[str, Any] = await page.evaluate(
            OPEN_STREAMS, {"paths": paths, "waitMs": wait_ms}
        )
    finally:
        await context.close()
    result["streams"] = len(paths)
    result["with_events"] = sum(1 for g in result["got"] if g > 0)
    result["stalled"] = [i + 1 for i, g in enumerate(result["got"]) if g == 0]
    return result


@contextlib.contextmanager
def _h2_server(rate: float) -> Any:
    tmp = Path(tempfile.mkdtemp(prefix="tickwire-h2-"))
    cert, key = make_cert(tmp)
    port = _free_port()
    env = dict(os.environ, TICKWIRE_MD_SYNTHETIC_RATE=str(rate), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "exchange.lab.h2serve", "--port", str(port), "--cert", str(cert),
           "--key", str(key), "--data-dir", str(tmp / "data")]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", verify=False, timeout=1.0).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the HTTP/2 server did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


async def run_browser_demo(streams: int = 8, rate: float = 50.0, wait_ms: int = 3000) -> dict:
    """Run the three scenarios; figures per scenario (``with_events``, ``stalled``...)."""
    from playwright.async_api import async_playwright

    port = _free_port()
    out: dict[str, Any] = {"streams": streams, "rate": rate, "wait_ms": wait_ms}
    with start_server("127.0.0.1", port, rate) as _srv:
        origin = f"http://127.0.0.1:{port}"
        symbols = [s["symbol"] for s in httpx.get(f"{origin}/api/symbols").json()]
        paths = [f"/md/stream?symbols={symbols[i % len(symbols)]}" for i in range(streams)]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                out["browser"] = browser.version
                out["http1"] = await _scenario(browser, origin, paths, wait_ms)
                out["multiplexed"] = await _scenario(
                    browser, origin, [f"/md/stream?symbols={','.join(symbols)}"], wait_ms
                )
                out["multiplexed"]["symbols_total"] = len(symbols)
                with _h2_server(rate) as h2:
                    out["h2"] = await _scenario(browser, h2, paths, wait_ms)
            finally:
                await browser.close()
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
    for name in ("http1", "multiplexed", "h2"):
        r = result[name]
        print(f"{name:12} protocol={r['protocol'] or '?':9} streams={r['streams']} "
              f"with events={r['with_events']} stalled={r['stalled']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
