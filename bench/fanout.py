"""Market-data fan-out benchmark: tickwire against the bare-write limit, per transport.

Run: ``python -m bench.fanout [--quick] [--nice N] [--transports sse,ws,poll]``. Prints
Markdown; docs/benchmarks.md ("## Market-data fan-out") holds the figures. Not a test:
nothing asserts speed.

Servers (each a subprocess pinned to core 0, fresh temp data dir): ``tickwire serve`` with
the simulator off, fsync off and ``TICKWIRE_MD_SYNTHETIC_RATE=R`` (``MarketSim`` events
published straight into the hub at R events/s, ``ts`` stamped at publish); the **limit**,
``bench.bare_md``, a bare asyncio server fed the same events on the same schedule that writes
each pre-framed event to every socket and does nothing else; and (full run, SSE only) the
naive sse-starlette server ``bench.naive_sse``. Subscribers are ``bench.md_client``
processes (lean ``asyncio.Protocol`` readers, 200 connects at a time) pinned to core 1; their
CPU is printed so a run where the clients, not the server, were the limit shows itself.
Every subscriber asks for ``symbols=BTC-USD,ETH-USD,SOL-USD`` (the whole feed).

Per (server, transport, rate, subscribers): time to connect them, delivered events/s against
expected (rate x subscribers), delivery latency p50/p99 (publish ``ts`` -> receipt; see
``bench.md_client`` for why it is an upper bound), server CPU % and CPU per delivered event
(``/proc``), server RSS and its growth per subscriber. Then resident memory per idle
subscriber (rate 0) and SSE framing bytes per event from a captured stream.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import time
from dataclasses import dataclass, field
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

SYMBOLS = "BTC-USD,ETH-USD,SOL-USD"
PATHS = {
    "sse": f"/md/stream?symbols={SYMBOLS}",
    "ws": f"/ws/md?symbols={SYMBOLS}",
    "poll": f"/md/poll?symbols={SYMBOLS}",
}
TRANSPORTS = ("sse", "ws", "poll")


@dataclass
class Plan:
    subs: tuple[int, ...]  # the sweep at 5 events/s (cumulative: each step adds subscribers)
    fast: tuple[int, ...]  # subscribers at 100 events/s
    workers: int
    warm_s: float
    window_s: float
    idle_subs: int
    naive_subs: tuple[int, ...] = field(default=())


FULL = Plan((1000, 5000, 10000), (1000,), 4, 2.0, 5.0, 10000, (1000,))
QUICK = Plan((1000,), (1000,), 2, 1.5, 3.0, 1000)


class Clients:
    """``workers`` ``bench.md_client`` processes on the client core, driven over pipes."""

    def __init__(self, port: int, workers: int) -> None:
        self.procs = []
        for _ in range(workers):
            proc = subprocess.Popen(
                [PYTHON, "-m", "bench.md_client", "--port", str(port)],
                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                preexec_fn=raise_nofile,
            )  # fmt: skip
            pin(proc.pid, CLIENT_CORE)
            self.procs.append(proc)
        self.total = 0
        #: Seconds spent connecting, summed over ``open_to`` calls (the slowest worker each).
        self.connect_s = 0.0

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

    def open_to(self, n: int, path: str, transport: str = "sse") -> int:
        """Open subscribers until ``n`` are open in total; returns how many failed."""
        more = n - self.total
        if more > 0:
            k = len(self.procs)
            shares = [more // k + (1 if i < more % k else 0) for i in range(k)]
            replies = self._ask([f"open {s} {path} {transport}" for s in shares])
            self.total = n
            self.connect_s += max(float(r["seconds"]) for r in replies)
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
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def hist_percentile(hist: dict[int, int], q: float) -> float:
    """Percentile ``q`` in ms of a ``bench.md_client`` histogram."""
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
        return start_tickwire({"TICKWIRE_MD_SYNTHETIC_RATE": str(rate)}, fsync="off")
    port = free_port()
    module = "bench.bare_md" if kind == "limit" else "bench.naive_sse"
    server = start_python(kind, ["-m", module, "--port", str(port), "--rate", str(rate)], port)
    server.wait_ready("/stats")
    return server


@dataclass
class Row:
    server: str
    transport: str
    rate: float
    subs: int
    alive: int
    connect_s: float
    expected: float
    delivered: float
    p50: float
    p99: float
    server_cpu: float
    us_per_delivery: float
    client_cpu: float
    rss_mb: float
    kib_per_sub: float
    note: str = ""

    @property
    def fraction(self) -> float:
        return self.delivered / max(1.0, self.expected)

    def line(self) -> str:
        return (
            f"| {self.server} | {self.transport} | {self.rate:g} | {self.subs} ({self.alive}) | "
            f"{self.connect_s:.1f} | {self.expected:,.0f} | {self.delivered:,.0f} "
            f"({100 * self.fraction:.1f} %) | {self.p50:,.1f} | {self.p99:,.1f} | "
            f"{self.server_cpu:.0f} | {self.us_per_delivery:.1f} | {100 * self.client_cpu:.0f} | "
            f"{self.rss_mb:.0f} | {self.kib_per_sub:.1f} | {self.note} |"
        )


HEADER = (
    "| server | transport | events/s | subscribers (open) | connect s (total) | expected ev/s "
    "| delivered ev/s | p50 ms | p99 ms | server CPU % | server µs/delivery | clients CPU % "
    "| server RSS MB | KiB/subscriber | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def measure(
    server: ServerProc, clients: Clients, name: str, transport: str, rate: float, subs: int,
    plan: Plan, base_rss: int,
) -> Row:  # fmt: skip
    time.sleep(plan.warm_s)
    cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
    r = clients.go(plan.window_s)
    cpu_s = cpu_seconds(server.pid) - cpu0
    wall = time.monotonic() - t0
    delivered = r["events"] / r["wall"]
    rss = rss_bytes(server.pid)
    row = Row(
        name, transport, rate, subs, r["alive"], clients.connect_s, rate * subs, delivered,
        hist_percentile(r["hist"], 50), hist_percentile(r["hist"], 99), 100 * cpu_s / wall,
        1e6 * cpu_s / max(1, r["events"]), r["client_cpu"], rss / 2**20,
        (rss - base_rss) / max(1, subs) / 1024,
    )  # fmt: skip
    if r["client_cpu"] > 0.85:
        row.note = "clients near a full core"
    print(row.line(), flush=True)
    return row


def sweep(kind: str, transport: str, rate: float, subs: tuple[int, ...], plan: Plan) -> list[Row]:
    server = start_server(kind, rate)
    clients = Clients(server.port, plan.workers)
    base_rss = rss_bytes(server.pid)
    rows = []
    try:
        for n in subs:
            failed = clients.open_to(n, PATHS[transport], transport)
            row = measure(server, clients, kind, transport, rate, n, plan, base_rss)
            if failed:
                row.note += f" {failed} connects failed"
            rows.append(row)
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


def idle_memory(kind: str, transport: str, n: int, plan: Plan) -> float:
    """Resident bytes per idle subscriber (no events flowing), from the server's RSS."""
    server = start_server(kind, 0)
    clients = Clients(server.port, plan.workers)
    try:
        clients.open_to(10, PATHS[transport], transport)  # warm the paths first
        time.sleep(2.0)
        before = rss_bytes(server.pid)
        clients.open_to(n + 10, PATHS[transport], transport)
        time.sleep(3.0)
        after = rss_bytes(server.pid)
        alive = clients.go(0.5)["alive"]
    finally:
        clients.close()
        server.stop()
    print(f"- {kind} {transport}: RSS {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB with "
          f"{n} idle subscribers ({alive} open): {(after - before) / n / 1024:.1f} KiB each")  # fmt: skip
    return (after - before) / n


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def verdicts(rows: list[Row], idle: dict[tuple[str, str], float], plan: Plan) -> None:
    print("\n### verdicts (against the limit in the same run)\n")
    by = {(r.server, r.transport, r.rate, r.subs): r for r in rows}
    top = max(plan.subs)
    sse = by.get(("tickwire", "sse", 5, top))
    for transport in TRANSPORTS:
        tw, lim = by.get(("tickwire", transport, 5, top)), by.get(("limit", transport, 5, top))
        if tw is None or lim is None:
            continue
        connect = tw.connect_s / max(1e-9, lim.connect_s)
        cpu = tw.us_per_delivery / max(1e-9, lim.us_per_delivery)
        print(f"- {transport}, {top} subscribers x 5/s: connect {tw.connect_s:.1f} s vs "
              f"{lim.connect_s:.1f} s ({connect:.1f}x, goal <= 2x: {_verdict(connect <= 2)}); "
              f"delivered {100 * tw.fraction:.1f} % (goal >= 99 %: {_verdict(tw.fraction >= 0.99)}); "
              f"p99 {tw.p99:.0f} ms vs {lim.p99:.0f} (goal <= 250: {_verdict(tw.p99 <= 250)}); "
              f"CPU/delivery {tw.us_per_delivery:.1f} vs {lim.us_per_delivery:.1f} µs "
              f"({cpu:.1f}x, goal <= 2x: {_verdict(cpu <= 2)})")  # fmt: skip
        if transport != "sse" and sse is not None:
            worst = max(
                tw.connect_s / max(1e-9, sse.connect_s),
                tw.p99 / max(1e-9, sse.p99),
                tw.us_per_delivery / max(1e-9, sse.us_per_delivery),
                sse.fraction / max(1e-9, tw.fraction),
            )
            print(f"  - against SSE: worst of connect, p99, CPU/delivery, delivered: "
                  f"{worst:.2f}x (goal <= 1.5x: {_verdict(worst <= 1.5)})")  # fmt: skip
    for (kind, transport), per in sorted(idle.items()):
        kib = per / 1024
        goal = f" (goal <= 16 KiB: {_verdict(kib <= 16)})" if kind == "tickwire" else ""
        print(f"- idle {kind} {transport}: {kib:.1f} KiB per subscriber{goal}")


def main(quick: bool, nice: int, transports: tuple[str, ...]) -> None:
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
    rows: list[Row] = []
    for transport in transports:
        for kind in ("limit", "tickwire"):
            rows += sweep(kind, transport, 5, plan.subs, plan)
            rows += sweep(kind, transport, 100, plan.fast, plan)
        if transport == "sse" and plan.naive_subs:
            rows += sweep("naive", "sse", 5, plan.naive_subs, plan)
    print(f"\nload average: {loadavg()}\n")
    if "sse" in transports:
        server = start_server("tickwire", 20)
        try:
            n, mean, top = framing(server.base)
        finally:
            server.stop()
        print(f"- framing, tickwire SSE: {n} events captured, {mean:.1f} bytes/event beyond "
              f"the JSON (max {top})")  # fmt: skip
    print(f"\n### idle subscribers (load {loadavg()})\n")
    idle = {
        (kind, transport): idle_memory(kind, transport, plan.idle_subs, plan)
        for transport in transports
        for kind in ("limit", "tickwire")
    }
    verdicts(rows, idle, plan)
    print(f"\nload average after: {loadavg()}; wall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="market-data fan-out: tickwire vs the bare limit")
    p.add_argument("--quick", action="store_true", help="1,000 subscribers only")
    p.add_argument("--nice", type=int, default=0, help="scheduling priority of all processes")
    p.add_argument("--transports", default="sse,ws,poll", help="comma-separated: sse,ws,poll")
    a = p.parse_args()
    chosen = tuple(t for t in a.transports.split(",") if t)
    unknown = [t for t in chosen if t not in TRANSPORTS]
    if unknown:
        p.error(f"unknown transport(s): {', '.join(unknown)}")
    main(a.quick, a.nice, chosen)
