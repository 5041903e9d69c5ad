"""Flame graphs of the server under a benchmark's load (py-spy), for docs/img.

Run: ``python -m bench.profile fanout --transport sse --subs 1000 --rate 20 --seconds 10
--out docs/img/fanout-sse-before.svg``. Starts ``tickwire serve`` as ``bench.fanout`` does
(pinned to core 0, fsync off, synthetic feed at ``--rate`` events/s), connects ``--subs``
``bench.md_client`` subscribers on core 1, then records the server with ``py-spy record``
(100 Hz, idle frames left out) while the feed runs, and prints the window's delivered
events and server CPU per delivery so the graph has its figures beside it.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from bench.fanout import PATHS, Clients, start_server
from bench.procs import CLIENT_CORE, cpu_seconds, loadavg, pin, raise_nofile


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start ``py-spy record`` of ``pid`` for ``seconds`` writing a flame graph SVG."""
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", "100", "--format", "flamegraph", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def fanout(transport: str, subs: int, rate: float, seconds: float, out: Path) -> None:
    server = start_server("tickwire", rate)
    clients = Clients(server.port, 2)
    try:
        clients.open_to(subs, PATHS[transport], transport)
        time.sleep(1.0)
        spy = py_spy(server.pid, seconds, out)
        cpu0 = cpu_seconds(server.pid)
        r = clients.go(seconds)
        cpu = cpu_seconds(server.pid) - cpu0
        _, err = spy.communicate(timeout=60)
        if spy.returncode:
            raise SystemExit(f"py-spy failed: {err.decode()[-500:]}")
    finally:
        clients.close()
        server.stop()
    print(f"- {transport}, {subs} subscribers x {rate:g} events/s, {seconds:g} s: "
          f"{r['events'] / r['wall']:,.0f} deliveries/s ({r['alive']} open), server "
          f"{1e6 * cpu / max(1, r['events']):.1f} µs CPU per delivery; load {loadavg()}; "
          f"flame graph {out}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("fanout", help="market-data subscribers on the synthetic feed")
    f.add_argument("--transport", choices=sorted(PATHS), default="sse")
    f.add_argument("--subs", type=int, default=1000)
    f.add_argument("--rate", type=float, default=20.0)
    f.add_argument("--seconds", type=float, default=10.0)
    f.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    pin(0, CLIENT_CORE)
    raise_nofile()
    fanout(a.transport, a.subs, a.rate, a.seconds, a.out)


if __name__ == "__main__":
    main()
