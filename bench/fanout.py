"""Market-data fan-out benchmark: SSE subscribers of tickwire vs a naive sse-starlette server.

Run: ``python -m bench.fanout [--quick] [--nice N]``. Prints Markdown; docs/benchmarks.md
("## Market-data fan-out") holds the figures. Not a test: nothing asserts speed.

Servers (each a subprocess pinned to core 0, fresh temp data dir): ``tickwire serve`` with
the simulator off and ``TICKWIRE_MD_SYNTHETIC_RATE=R`` (``MarketSim`` events published
straight into the hub at R events/s, ``ts`` stamped at publish), and ``bench.naive_sse``
fed the same events on the same schedule. Subscribers are ``bench.sse_client`` processes
(lean ``asyncio.Protocol`` readers) pinned to core 1; their CPU is printed so a run where
the clients, not the server, were the limit shows itself.

Per (server, rate, subscribers): delivered events/s against offered (rate x subscribers),
delivery latency p50/p99 (publish ``ts`` -> receipt; see ``bench.sse_client`` for why it is
an upper bound), server CPU % (``/proc``), server RSS. Then: resident memory per idle
subscriber, SSE framing bytes per event from a captured stream, and tickwire at twice its
saturation with ``?conflate=100ms``.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bench.procs import (
    CLIENT_CORE,
    PYTHON,
    REPO,
    ServerProc,
    boost,
    cpu_seconds,
    free_port,
    loadavg,
    pin,
    raise_nofile,
    rss_bytes,
    start_python,
    start_tickwire,
    versions,
)

RATES = (5, 20, 100)
KEEP_UP = 0.9  # delivered / offered at or above this: the server keeps up


@dataclass
class Plan:
    subs: tuple[int, ...]
    naive_subs: tuple[int, ...]  # the naive server saturates early; it connects slowly then
    sat_subs: tuple[int, ...]  # the subscriber sweep at 100 events/s
    workers: int
    warm_s: float
    window_s: float
    idle_subs: int


#: 10,000 live subscribers are not in the sweeps: on one core tickwire saturates near 3,000
#: x 5 events/s, and connecting 10,000 then took over 5 minutes (see docs/benchmarks.md).
FULL = Plan((100, 1000, 3000), (100, 1000), (100, 1000, 3000), 4, 2.0, 4.0, 10000)
QUICK = Plan((100, 1000), (100, 1000), (100, 1000), 2, 1.5, 3.0, 1000)


class Clients:
    """``workers`` ``bench.sse_client`` processes on the client core, driven over pipes."""

    def __init__(self, port: int, workers: int) -> None:
        self.procs = []
        for _ in range(workers):
            proc = subprocess.Popen(
                [PYTHON, "-m", "bench.sse_client", "--port", str(port)],
                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                preexec_fn=raise_nofile,
            )  # fmt: skip
            pin(proc.pid, CLIENT_CORE)
            self.procs.append(proc)
        self.total = 0

    def _ask(self, lines: list[str]) -> list[dict[str, Any]]:
        for proc, line in zip(self.procs, lines, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        out = []
        for proc in self.procs:
            assert proc.stdout is not None
            out.append(orjson.loads(proc.stdout.readline()))
        return out

    def open_to(self, n: int, path: str) -> int:
        """Open streams until ``n`` are open in total; returns how many failed to connect."""
        more = n - self.total
        if more > 0:
            k = len(self.procs)
            shares = [more // k + (1 if i < more % k else 0) for i in range(k)]
            replies = self._ask([f"open {s} {path}" for s in shares])
            self.total = n
            return sum(int(r["failed"]) for r in replies)
        return 0

    def go(self, seconds: float) -> dict[str, Any]:
        replies = self._ask([f"go {seconds}"] * len(self.procs))
        hist: dict[int, int] = {}
        for r in replies:
            for b, c in r["hist"].items():
                hist[int(b)] = hist.get(int(b), 0) + c
        wall = max(r["wall"] for r in replies)
        return {
            "events": sum(r["events"] for r in replies),
            "wall": wall,
            "hist": hist,
            "client_cpu": sum(r["cpu"] for r in replies) / wall,
            "alive": sum(r["alive"] for r in replies),
        }

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                assert proc.stdin is not None
                try:
                    proc.stdin.write(b"quit\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def hist_percentile(hist: dict[int, int], q: float) -> float:
    """Percentile ``q`` in ms of a ``bench.sse_client`` histogram."""
    total = sum(hist.values())
    if not total:
        return float("nan")
    rank = q / 100 * total
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return math.exp(b / 20) / 1000
    return float("nan")


def start_server(kind: str, rate: float) -> ServerProc:
    if kind == "tickwire":
        return start_tickwire({"TICKWIRE_MD_SYNTHETIC_RATE": str(rate)})
    port = free_port()
    server = start_python("naive", ["-m", "bench.naive_sse", "--port", str(port),
                                    "--rate", str(rate)], port)  # fmt: skip
    server.wait_ready("/stats")
    return server


@dataclass
class Row:
    server: str
    rate: float
    subs: int
    alive: int
    offered: float
    delivered: float
    p50: float
    p99: float
    server_cpu: float
    client_cpu: float
    rss_mb: float
    note: str = ""

    def line(self) -> str:
        return (
            f"| {self.server} | {self.rate:g} | {self.subs} ({self.alive}) | {self.offered:,.0f} | "
            f"{self.delivered:,.0f} ({100 * self.delivered / max(1, self.offered):.0f} %) | "
            f"{self.p50:,.1f} | {self.p99:,.1f} | {self.server_cpu:.0f} | "
            f"{100 * self.client_cpu:.0f} | {self.rss_mb:.0f} | {self.note} |"
        )


HEADER = (
    "| server | events/s | subscribers (open) | offered ev/s | delivered ev/s | p50 ms | p99 ms "
    "| server CPU % | clients CPU % | server RSS MB | note |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def measure(
    server: ServerProc, clients: Clients, name: str, rate: float, subs: int, plan: Plan
) -> Row:
    time.sleep(plan.warm_s)
    cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
    r = clients.go(plan.window_s)
    cpu = 100 * (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
    row = Row(
        name, rate, subs, r["alive"], rate * r["alive"], r["events"] / r["wall"],
        hist_percentile(r["hist"], 50), hist_percentile(r["hist"], 99), cpu,
        r["client_cpu"], rss_bytes(server.pid) / 2**20,
    )  # fmt: skip
    if r["client_cpu"] > 0.85:
        row.note = "clients near a full core"
    print(row.line(), flush=True)
    return row


def sweep(kind: str, rate: float, subs: tuple[int, ...], plan: Plan) -> list[Row]:
    server = start_server(kind, rate)
    clients = Clients(server.port, plan.workers)
    rows = []
    try:
        for n in subs:
            failed = clients.open_to(n, "/md/stream")
            row = measure(server, clients, kind, rate, n, plan)
            if failed:
                row.note += f" {failed} connects failed"
            rows.append(row)
            if rate > 5 and row.delivered < 0.5 * row.offered:
                break  # far past saturation: more subscribers only take longer to connect
    finally:
        clients.close()
        server.stop()
    return rows


def framing(base_url: str, seconds: float = 2.0) -> tuple[int, float, int]:
    """(events, mean and max bytes per event beyond the JSON) of a captured stream: each
    frame's bytes, blank-line terminator included, minus its ``data`` JSON."""
    import re

    buf = b""
    with httpx.stream("GET", base_url + "/md/stream", timeout=10.0) as r:
        end = time.monotonic() + seconds
        for chunk in r.iter_bytes():
            buf += chunk
            if time.monotonic() > end:
                break
    overheads = []
    for m in re.finditer(rb"(.*?)(\r\n\r\n|\n\n)", buf, re.S):
        frame = m.group(1)
        if b"data:" not in frame or b"event:" not in frame:
            continue  # retry: line, heartbeat comments
        line = next(x for x in re.split(rb"\r\n|\n", frame) if x.startswith(b"data:"))
        data = line[5:]
        if data.startswith(b" "):
            data = data[1:]
        overheads.append(len(m.group(0)) - len(data))
    overheads = overheads[:-1]  # the last frame may be cut by the capture
    return len(overheads), sum(overheads) / max(1, len(overheads)), max(overheads, default=0)


def idle_memory(kind: str, n: int, plan: Plan) -> float:
    """Resident bytes per idle subscriber (no events flowing), from the server's RSS."""
    server = start_server(kind, 0)
    clients = Clients(server.port, plan.workers)
    try:
        clients.open_to(10, "/md/stream")  # warm the paths first
        time.sleep(2.0)
        before = rss_bytes(server.pid)
        clients.open_to(n + 10, "/md/stream")
        time.sleep(3.0)
        after = rss_bytes(server.pid)
        alive = clients.go(0.5)["alive"]
    finally:
        clients.close()
        server.stop()
    print(f"- {kind}: RSS {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB with {n} idle "
          f"subscribers ({alive} open): {(after - before) / n / 1024:.1f} KiB each")  # fmt: skip
    return (after - before) / n


def conflated(subs: int, plan: Plan, windows: int = 3) -> list[Row]:
    server = start_server("tickwire", 100)
    clients = Clients(server.port, plan.workers)
    rows = []
    try:
        failed = clients.open_to(subs, "/md/stream?conflate=100ms")
        for _ in range(windows):
            row = measure(server, clients, "tickwire conflate=100ms", 100, subs, plan)
            if failed:
                row.note += f" {failed} connects failed"
            rows.append(row)
    finally:
        clients.close()
        server.stop()
    return rows


def saturation(rows: list[Row]) -> tuple[float, str]:
    """Highest delivered events/s in a sweep, and where it was reached."""
    best = max(rows, key=lambda r: r.delivered)
    kept = "kept up" if best.delivered >= KEEP_UP * best.offered else "behind"
    return best.delivered, f"{best.subs} subscribers x {best.rate:g}/s ({kept})"


def main(quick: bool, nice: int) -> None:
    pin(0, CLIENT_CORE)
    raise_nofile()
    sched = boost(nice) if nice else "default priority"
    plan = QUICK if quick else FULL
    started = time.monotonic()
    print(f"## bench.fanout{' --quick' if quick else ''}\n")
    print(f"- versions: {versions()}")
    print(
        f"- servers pinned to core 0; {plan.workers} client processes pinned to core "
        f"{CLIENT_CORE}; {sched}; warm-up {plan.warm_s} s, window {plan.window_s} s"
    )
    print(f"- load average before: {loadavg()}\n")  # fmt: skip
    print(HEADER)
    rows: dict[tuple[str, float], list[Row]] = {}
    frames: dict[str, tuple[int, float, int]] = {}
    for rate in RATES:
        for kind in ("naive", "tickwire"):
            subs = plan.sat_subs if rate == 100 else plan.subs
            if kind == "naive":
                subs = plan.naive_subs
            rows[(kind, rate)] = sweep(kind, rate, subs, plan)
    print(f"\nload average: {loadavg()}\n")
    for kind in ("tickwire", "naive"):
        server = start_server(kind, 20)
        try:
            frames[kind] = framing(server.base)
        finally:
            server.stop()
        n, mean, top = frames[kind]
        print(f"- framing, {kind}: {n} events captured, {mean:.1f} bytes/event beyond the "
              f"JSON (max {top})")  # fmt: skip
    sat = {kind: saturation(rows[(kind, 100)]) for kind in ("tickwire", "naive")}
    for kind, (value, where) in sat.items():
        print(f"- saturation, {kind}: {value:,.0f} delivered events/s at {where}")
    ratio = sat["tickwire"][0] / max(1.0, sat["naive"][0])
    print(f"\n### tickwire at 2x its saturation with ?conflate=100ms (load {loadavg()})\n")
    subs2 = min(18000, math.ceil(2 * sat["tickwire"][0] / 100))
    print(HEADER)
    conf = conflated(subs2, plan)
    print(f"\n### idle subscribers (load {loadavg()})\n")
    idle = {kind: idle_memory(kind, plan.idle_subs, plan) for kind in ("tickwire", "naive")}
    print("\n### verdicts\n")
    print(f"- saturation throughput tickwire/naive: {ratio:.1f}x (goal >= 3x: "
          f"{'met' if ratio >= 3 else 'MISSED'})")  # fmt: skip
    big = [r for r in rows[("tickwire", 5)] if r.subs == max(plan.subs)]
    if big:
        ok = big[0].p99 <= 250 and big[0].delivered >= KEEP_UP * big[0].offered
        print(f"- {big[0].subs} subscribers at 5 events/s: p99 {big[0].p99:.1f} ms, delivered "
              f"{100 * big[0].delivered / max(1, big[0].offered):.0f} % (goal p99 <= 250 ms: "
              f"{'met' if ok else 'MISSED'})")  # fmt: skip
    worst = max(r.p99 for r in conf)
    growth = conf[-1].rss_mb - conf[0].rss_mb
    print(f"- 2x saturation, conflate=100ms, {subs2} subscribers: worst p99 {worst:.1f} ms, RSS "
          f"{' -> '.join(f'{r.rss_mb:.0f}' for r in conf)} MB (goal p99 <= 250 ms and flat: "
          f"{'met' if worst <= 250 and growth < 0.05 * conf[0].rss_mb else 'MISSED'})")  # fmt: skip
    kib = idle["tickwire"] / 1024
    print(f"- idle subscriber: {kib:.1f} KiB resident (goal <= 32 KiB: "
          f"{'met' if kib <= 32 else 'MISSED'}); naive {idle['naive'] / 1024:.1f} KiB")  # fmt: skip
    mean = frames["tickwire"][1]
    print(f"- framing: {mean:.1f} bytes/event, max {frames['tickwire'][2]} (goal <= 30: "
          f"{'met' if frames['tickwire'][2] <= 30 else 'MISSED'}); naive {frames['naive'][1]:.1f}")  # fmt: skip
    print(f"\nload average after: {loadavg()}; wall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="SSE fan-out: tickwire vs a naive sse-starlette")
    p.add_argument("--quick", action="store_true", help="100 and 1,000 subscribers only")
    p.add_argument("--nice", type=int, default=0, help="scheduling priority of all processes")
    a = p.parse_args()
    main(a.quick, a.nice)
