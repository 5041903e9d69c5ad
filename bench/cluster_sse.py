"""Scenario 4 of ``bench.cluster``: SSE subscribers held by 1 gateway vs 2 on this machine,
and a projection to N machines from the measured per-subscriber CPU and memory.

Exports: ``SsePlan``, ``SseRow``, ``sse_sweep``, ``held``, ``projection``, ``ratio_line``,
``close_clients``.

A cluster (redis-server + engine with the synthetic feed at ``rate`` events/s + k
gateways) per configuration; subscribers are ``bench.md_client`` processes (pinned to the
client core), split evenly across the gateways and connected to them directly (no HAProxy:
it would be one more process on the two cores, and SSE needs no balancing once connected).
Pinning: gateway i on core ``i % 2``, so with one gateway core 0 is the gateway's alone and
with two the second gateway shares core 1 with the clients, the engine and redis.

Per step: open subscribers, wait ``warm_s``, count for ``window_s`` in every client process
at once; delivered events/s vs offered (rate x open), latency p50/p99 (``ts`` -> receipt,
see ``bench.md_client``), CPU % of each gateway, of redis and of the engine, each gateway's
RSS. A step is *held* when at least 95 % is delivered with p99 under the bound.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.cluster_procs import Stack
from bench.fanout import Clients, hist_percentile
from bench.procs import CLIENT_CORE, SERVER_CORE, cpu_seconds, rss_bytes

__all__ = ["SsePlan", "SseRow", "close_clients", "held", "projection", "sse_sweep"]

HELD_SHARE = 0.95


@dataclass
class SsePlan:
    rate: float
    steps: tuple[int, ...]  # total subscribers (all gateways together)
    workers: int  # client processes per gateway
    warm_s: float
    window_s: float
    p99_bound_ms: float


@dataclass
class SseRow:
    gateways: int
    subs: int
    alive: int
    offered: float
    delivered: float
    p50: float
    p99: float
    gw_cpu: list[float]  # % of a core, per gateway
    redis_cpu: float
    engine_cpu: float
    client_cpu: float  # % of a core, all client processes together
    gw_rss_mb: list[float]
    gw_rss0_mb: list[float]  # each gateway's RSS before any subscriber
    failed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        return self.delivered >= HELD_SHARE * self.offered and self.alive >= self.subs * 0.99

    def line(self) -> str:
        gw = " + ".join(f"{c:.0f}" for c in self.gw_cpu)
        rss = " + ".join(f"{r:.0f}" for r in self.gw_rss_mb)
        return (
            f"| {self.gateways} | {self.subs:,} ({self.alive:,}) | {self.offered:,.0f} | "
            f"{self.delivered:,.0f} ({100 * self.delivered / max(1, self.offered):.0f} %) | "
            f"{self.p50:,.1f} | {self.p99:,.1f} | {gw} | {self.redis_cpu:.1f} | "
            f"{self.engine_cpu:.0f} | {self.client_cpu:.0f} | {rss} | "
            f"{'; '.join(self.notes)} |"
        )


HEADER = (
    "| gateways | subscribers (open) | offered ev/s | delivered ev/s | p50 ms | p99 ms "
    "| gateway CPU % | redis CPU % | engine CPU % | clients CPU % | gateway RSS MB | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def close_clients(clients: Clients) -> None:
    """``clients.close()``, then close the pipes it leaves open (no ResourceWarning)."""
    clients.close()
    for proc in clients.procs:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def _measure(stack: Stack, groups: list[Clients], plan: SsePlan, subs: int) -> SseRow:
    time.sleep(plan.warm_s)
    pids = stack.pids()
    gw_pids = [gw.pid for gw in stack.gateways]
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(groups)) as pool:
        replies = list(pool.map(lambda c: c.go(plan.window_s), groups))
    wall = time.monotonic() - t0
    cpu = {name: 100 * (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in pids.items()}
    hist: dict[int, int] = {}
    for r in replies:
        for b, c in r["hist"].items():
            hist[b] = hist.get(b, 0) + c
    window = max(r["wall"] for r in replies)
    alive = sum(r["alive"] for r in replies)
    return SseRow(
        len(gw_pids), subs, alive, plan.rate * alive,
        sum(r["events"] for r in replies) / window,
        hist_percentile(hist, 50), hist_percentile(hist, 99),
        [cpu[f"gateway{i}"] for i in range(len(gw_pids))], cpu["redis"], cpu["engine"],
        100 * sum(r["client_cpu"] for r in replies), [rss_bytes(p) / 2**20 for p in gw_pids], [],
    )  # fmt: skip


def sse_sweep(gateways: int, plan: SsePlan, env: dict[str, str]) -> list[SseRow]:
    """One configuration's sweep over ``plan.steps`` (stops once far past saturation)."""
    cores = [SERVER_CORE if i % 2 == 0 else CLIENT_CORE for i in range(gateways)]
    feed = {**env, "TICKWIRE_MD_SYNTHETIC_RATE": str(plan.rate)}
    stack = Stack(feed, cores, redis_core=CLIENT_CORE, engine_core=CLIENT_CORE).start()
    groups: list[Clients] = []
    rows: list[SseRow] = []
    try:
        time.sleep(1.0)
        rss0 = [rss_bytes(gw.pid) / 2**20 for gw in stack.gateways]
        groups = [Clients(gw.port, plan.workers) for gw in stack.gateways]
        for total in plan.steps:
            share = [total // gateways + (1 if i < total % gateways else 0)
                     for i in range(gateways)]  # fmt: skip
            with ThreadPoolExecutor(gateways) as pool:
                failed = sum(pool.map(lambda gs: gs[0].open_to(gs[1], "/md/stream"),
                                      zip(groups, share, strict=True)))  # fmt: skip
            row = _measure(stack, groups, plan, total)
            row.gw_rss0_mb = rss0
            row.failed = failed
            if failed:
                row.notes.append(f"{failed} connects failed")
            if row.client_cpu > 85:  # all client processes share one core
                row.notes.append("clients near a full core")
            print(row.line(), flush=True)
            rows.append(row)
            if row.delivered < 0.5 * row.offered:
                break  # far past saturation: more subscribers only take longer to connect
    finally:
        for g in groups:
            close_clients(g)
        stack.stop()
    return rows


def held(rows: list[SseRow], bound_ms: float) -> int:
    """The most subscribers of a sweep delivered in full (>= 95 %) with p99 <= bound."""
    ok = [r.subs for r in rows if r.kept and r.p99 <= bound_ms]
    return max(ok, default=0)


def projection(rows: list[SseRow], rate: float, bound_ms: float, machines: tuple[int, ...],
               cores: int = 2, mem_gib: float = 24.0) -> list[str]:  # fmt: skip
    """Markdown lines projecting N machines from the most loaded held row of a 1-gateway
    sweep (or its largest row when none was held); see docs/benchmarks.md for the model."""
    kept = [r for r in rows if r.kept and r.p99 <= bound_ms] or rows
    base = max(kept, key=lambda r: r.subs)
    per_gw = base.subs / base.gateways
    cpu_sub = sum(base.gw_cpu) / 100 / base.subs  # core share per subscriber at `rate`
    rss_sub = max(1.0, sum(base.gw_rss_mb) - sum(base.gw_rss0_mb)) * 2**20 / base.subs
    per_core = 0.8 / cpu_sub if cpu_sub > 0 else float("inf")
    by_mem = 0.7 * mem_gib * 2**30 / rss_sub
    per_machine = min(cores * per_core, by_mem)
    redis_share = base.redis_cpu / 100  # redis core share with `gateways` followers
    out = [
        f"- basis: {base.subs:,} subscribers at {rate:g} events/s on {base.gateways} "
        f"gateway(s) ({per_gw:,.0f} each), p99 {base.p99:.0f} ms, "
        f"{100 * base.delivered / max(1, base.offered):.0f} % delivered",
        f"- gateway CPU per subscriber: {1e6 * cpu_sub:,.0f} µs/s "
        f"({1e6 * cpu_sub / rate:,.1f} µs per delivered event); at 80 % of a core: "
        f"{per_core:,.0f} subscribers per core",
        f"- gateway RSS per subscriber (under load, RSS growth / subscribers): "
        f"{rss_sub / 1024:,.1f} KiB; 70 % of {mem_gib:g} GiB holds {by_mem:,.0f}",
        f"- per {cores}-core machine (one gateway per core, engine and Redis elsewhere): "
        f"{per_machine:,.0f} subscribers ({'CPU' if cores * per_core <= by_mem else 'memory'}"
        f"-bound)",
        f"- Redis: {100 * redis_share:.1f} % of a core with the engine's XADDs and "
        f"{base.gateways} follower(s); each gateway adds one XREAD stream of {rate:g} events/s,"
        " whatever its subscribers",
        "",
        "| machines | gateways | subscribers (projected) | Redis follower reads/s |",
        "|---|---|---|---|",
    ]
    for n in machines:
        out.append(f"| {n} | {n * cores} | {n * per_machine:,.0f} | {n * cores * rate:,.0f} |")
    return out


def ratio_line(one: list[SseRow], two: list[SseRow], bound_ms: float) -> str:
    h1, h2 = held(one, bound_ms), held(two, bound_ms)
    d1 = max((r.delivered for r in one), default=0.0)
    d2 = max((r.delivered for r in two), default=0.0)
    held_ratio = f"{h2 / h1:.2f}x" if h1 else "n/a (1 gateway held no step)"
    return (
        f"- held with p99 <= {bound_ms:g} ms and >= 95 % delivered: 1 gateway {h1:,}, "
        f"2 gateways {h2:,} (ratio {held_ratio}); best delivered events/s: {d1:,.0f} vs "
        f"{d2:,.0f} (ratio {d2 / max(1.0, d1):.2f}x)"
    )


def summary_dict(rows: list[SseRow]) -> list[dict[str, Any]]:
    """Rows as plain dicts (for tests and JSON output)."""
    return [r.__dict__ | {"kept": r.kept} for r in rows]
