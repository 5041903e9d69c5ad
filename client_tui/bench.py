"""Headless benchmark of the terminal client against a running (or started) exchange.

Exports ``main(argv)``; run ``python -m client_tui.bench --help``.

It runs the real ``TickwireApp`` with Textual's headless driver for ``--seconds``, and
reports: market events per second, client CPU use, frames drawn per second, draw time per frame, market-data
lag (now - event ``ts``) p50/p99/max over the whole run, ping round trip, event-loop stall
p99 (how late a 10 ms sleep wakes up), resyncs and checksum failures. With
``--start-server`` it starts ``tickwire serve`` in a separate process (so the server does not
share the client's GIL) on a free port and stops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import httpx

from client_tui.app import TickwireApp
from client_tui.model.format import percentile

__all__ = ["main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(sim_rate: float) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    data = tempfile.mkdtemp(prefix="tickwire-bench-")
    cmd = [sys.executable, "-m", "exchange.cli", "serve", "--port", str(port), "--data-dir",
           data, "--sim-rate", str(sim_rate), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


async def _stall_probe(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append((time.perf_counter() - t0 - 0.01) * 1000)


async def run_bench(
    url: str, seconds: float, md_transport: str, size: tuple[int, int], every_frame: bool = False
) -> dict[str, float]:
    """Drive the app for ``seconds`` and return the figures (see module docstring).

    ``every_frame`` redraws the ladder, tape and watchlist on every 60 Hz frame (a stress
    test of the render path) instead of only when their data changed.
    """
    app = TickwireApp(url, "bench", md_transport, confirm_notional=None)
    app.redraw_every_frame = every_frame
    lags: list[float] = []
    rtts: list[float] = []
    stalls: list[float] = []
    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + 30
        while app.conn.md_state != "live" or not app.market.events:
            if time.monotonic() > deadline:
                raise SystemExit("no market data within 30 s")
            await pilot.pause(0.1)
        await pilot.pause(1.0)  # let the snapshot burst pass
        app.market.lag.clear()
        app.draw_ms.clear()
        events0, frames0 = app.market.events, app.frames
        stop = asyncio.Event()
        probe = asyncio.create_task(_stall_probe(stalls, stop))
        t0 = time.monotonic()
        cpu0 = time.process_time()
        while time.monotonic() - t0 < seconds:
            await pilot.pause(1.0)
            lags.extend(v for _, v in app.market.lag)
            app.market.lag.clear()
            if app.conn.rtt_ms is not None:
                rtts.append(app.conn.rtt_ms)
        elapsed = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        stop.set()
        await probe
        draws = list(app.draw_ms)
        result = {
            "seconds": elapsed,
            "events_per_s": (app.market.events - events0) / elapsed,
            "cpu_pct": cpu / elapsed * 100,  # of one core, client process only
            "frames_per_s": (app.frames - frames0) / elapsed,
            "draw_ms_p50": percentile(draws, 50) or 0.0,
            "draw_ms_p99": percentile(draws, 99) or 0.0,
            "lag_ms_p50": percentile(lags, 50) or 0.0,
            "lag_ms_p99": percentile(lags, 99) or 0.0,
            "lag_ms_max": max(lags, default=0.0),
            "rtt_ms_p50": percentile(rtts, 50) or 0.0,
            "stall_ms_p99": percentile(stalls, 99) or 0.0,
            "resyncs": float(app.market.resyncs),
            "checksum_bad": float(app.market.checksum_bad),
        }
        await app.conn.close()
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry: print one ``name value`` line per figure."""
    parser = argparse.ArgumentParser(prog="python -m client_tui.bench", description=__doc__)
    parser.add_argument("--url", help="exchange to connect to (default: start one)")
    parser.add_argument(
        "--sim-rate", type=float, default=10.0, help="simulator rate when starting a server"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--md-transport", default="sse", choices=("sse", "ws", "poll"))
    parser.add_argument("--size", default="160x48", help="terminal size COLSxROWS")
    parser.add_argument("--every-frame", action="store_true", help="redraw on every 60 Hz frame")
    args = parser.parse_args(argv)
    cols, rows = (int(x) for x in args.size.split("x"))
    proc = None
    url = args.url
    if url is None:
        proc, url = _start_server(args.sim_rate)
    try:
        result = asyncio.run(
            run_bench(url, args.seconds, args.md_transport, (cols, rows), args.every_frame)
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    for name, value in result.items():
        print(f"{name:<14} {value:10.2f}")


if __name__ == "__main__":
    main()
