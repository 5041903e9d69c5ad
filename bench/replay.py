"""Replay benchmark: ``python -m bench.replay [--source FILE] [--seeks N]``.

Measures, on the LOBSTER AMZN day by default (``../shared/data``):

* ``load``: parsing the files (``load_replays``) and ``index``: the checkpoint pre-pass;
* ``engine``: the same messages through a bare ``Engine`` (no journal, hub or network);
* ``pipeline``: ``tickwire replay --speed max`` in its own process (engine, sequencer,
  journal with fsync off, hub, gateway) with one SSE subscriber attached in this process,
  from ``resume`` to the end of the recording: messages (recorded steps) per second, market
  events per second, and the server's CPU seconds (from ``/proc``, the machine is shared);
* ``seek``: ``POST /api/replay {"action": "seek"}`` to random times of the day, forward and
  backward, answered once the engine is rebuilt: round trip and the server's own figure.

Prints one table; speed figures depend on the machine and its load, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
AMZN = (
    ROOT
    / ".."
    / "shared"
    / "data"
    / "lobster-amzn-2012-06-21-level1"
    / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def offline(source: Path) -> dict[str, Any]:
    """Load, index and bare-engine figures (this process)."""
    from exchange.config import Settings
    from exchange.replay.driver import ReplayDriver
    from exchange.replay.index import apply_commands, apply_steps
    from exchange.replay.load import load_replays

    t0 = time.perf_counter()
    src = load_replays([source])
    load_s = time.perf_counter() - t0
    driver = ReplayDriver(src, speed=None)
    settings = driver.settings_for(Settings())
    t0 = time.perf_counter()
    index = driver.build_index(settings)
    index_s = time.perf_counter() - t0
    engine = index.engine_factory()
    last = apply_commands(engine, src.setup, 0)
    t0, c0 = time.perf_counter(), time.process_time()
    apply_steps(engine, src.steps, 0, len(src.steps), last, driver.step_cuts)
    engine_s, engine_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "steps": len(src.steps),
        "commands": sum(len(s.commands) for s in src.steps),
        "load_s": load_s,
        "index_s": index_s,
        "checkpoints": len(index.checkpoints),
        "checkpoint_mb": index.bytes / 1e6,
        "engine_rate": len(src.steps) / engine_s,
        "engine_cpu_rate": len(src.steps) / engine_cpu,
    }


class SseCounter(threading.Thread):
    """Reads the whole SSE stream (all channels) and counts events, until told to stop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events = 0
        self.bytes = 0
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with (
            httpx.Client(timeout=None) as http,
            http.stream("GET", f"{self.url}/md/stream") as resp,
        ):
            self.connected.set()
            for chunk in resp.iter_raw():
                self.bytes += len(chunk)
                self.events += chunk.count(b"\nevent:")
                if self.stop.is_set():
                    return


def pipeline(source: Path, seeks: int, seed: int) -> dict[str, Any]:
    """The real server in a subprocess, one SSE subscriber, then seeks."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "exchange.cli", "replay", str(source), "--speed", "max",
           "--paused", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                st = httpx.get(f"{url}/api/replay", timeout=2).json()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {proc.stderr}") from None
                time.sleep(0.2)
        total = st["total"]
        sse = SseCounter(url)
        sse.start()
        sse.connected.wait(30)
        time.sleep(0.5)
        events0, cpu0 = sse.events, _cpu_s(proc.pid)
        t0 = time.perf_counter()
        httpx.post(f"{url}/api/replay", json={"action": "resume"})
        while not httpx.get(f"{url}/api/replay").json()["finished"]:
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        cpu = _cpu_s(proc.pid) - cpu0
        time.sleep(1.0)  # let the subscriber drain
        delivered = sse.events - events0
        rng = random.Random(seed)
        start, end = st["start"], st["end"]
        rtts, server_ms, cpu_ms = [], [], []
        for _ in range(seeks):
            to = rng.randrange(start, end)
            t, c = time.perf_counter(), _cpu_s(proc.pid)
            r = httpx.post(f"{url}/api/replay", json={"action": "seek", "to": to}, timeout=120)
            rtts.append((time.perf_counter() - t) * 1e3)
            cpu_ms.append((_cpu_s(proc.pid) - c) * 1e3)
            server_ms.append(r.json()["last_seek_ms"])
        sse.stop.set()
        return {
            "rate": total / wall,
            "load_avg": os.getloadavg()[0],
            "wall_s": wall,
            "server_cpu_s": cpu,
            "cpu_rate": total / cpu if cpu else float("nan"),
            "sse_events": delivered,
            "event_rate": delivered / wall,
            "seek_rtt_p50": statistics.median(rtts) if rtts else None,
            "seek_rtt_max": max(rtts) if rtts else None,
            "seek_server_p50": statistics.median(server_ms) if server_ms else None,
            "seek_server_max": max(server_ms) if server_ms else None,
            "seek_cpu_p50": statistics.median(cpu_ms) if cpu_ms else None,
            "seek_cpu_max": max(cpu_ms) if cpu_ms else None,
        }
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=AMZN)
    p.add_argument("--seeks", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not args.source.exists():
        print(f"sample not found: {args.source}", file=sys.stderr)
        return 2
    off = offline(args.source)
    print(
        f"source      : {args.source.name}: {off['steps']} messages, {off['commands']} commands\n"
        f"load        : {off['load_s']:.2f} s\n"
        f"index       : {off['index_s']:.2f} s ({off['checkpoints']} checkpoints, "
        f"{off['checkpoint_mb']:.1f} MB)\n"
        f"engine only : {off['engine_rate']:,.0f} msg/s wall, {off['engine_cpu_rate']:,.0f} msg/s "
        "per CPU second",
        flush=True,
    )
    run = pipeline(args.source, args.seeks, args.seed)
    print(
        f"pipeline    : {run['rate']:,.0f} msg/s wall ({run['wall_s']:.2f} s), "
        f"{run['cpu_rate']:,.0f} msg/s per server CPU second ({run['server_cpu_s']:.2f} s)\n"
        f"sse         : {run['sse_events']:,} events delivered to 1 subscriber "
        f"({run['event_rate']:,.0f}/s)\n"
        f"seek        : round trip p50 {run['seek_rtt_p50']:.0f} ms, max "
        f"{run['seek_rtt_max']:.0f} ms; server p50 {run['seek_server_p50']:.0f} ms, max "
        f"{run['seek_server_max']:.0f} ms; server CPU p50 {run['seek_cpu_p50']:.0f} ms, max "
        f"{run['seek_cpu_max']:.0f} ms ({args.seeks} random seeks)\n"
        f"load avg    : {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
