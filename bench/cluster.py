"""Redis scale-out benchmark: what the Redis hop costs and what a second gateway buys.

Run: ``python -m bench.cluster [--quick] [--only 1234] [--nice N] [--fsync off|batch]
[--layout shared|spread] [--md-subs N] [--md-rate R]``. Prints Markdown;
docs/benchmarks.md ("## Redis scale-out") holds the figures. Not a test: nothing asserts
speed. Each scenario measures its baseline in the same run:

1. **Order round trip** (``order.new`` -> ``order.ack``, one sequential client, the
   ``bench.orders_load.sequential`` driver): a gateway of a 1-gateway cluster (redis-server
   + ``tickwire engine`` + ``tickwire gateway``, no HAProxy) vs ``tickwire serve``, same
   fsync policy (default off), simulator off, rate limits raised. This generator is on core
   1; every server process on core 0 (``--layout shared``: the cluster gets the single
   process's CPU budget) or the gateway on core 0 and redis + engine on core 1
   (``spread``). Both targets run at once and repetitions alternate.
2. **Market-data delivery at 5,000 events/s** (``--md-rate``; ``--md-subs`` subscribers,
   default 10). ``TICKWIRE_MD_SYNTHETIC_RATE``: the engine's node publishes the synthetic
   feed into its hub, whose listener queues it for ``tw:md``; the gateway follows ``tw:md``.
   Publish ``ts`` -> SSE receipt p50/p99 (``bench.md_client``, core 1) through the gateway
   vs from ``tickwire serve``. The two run in turns (each alone on the machine), fresh
   processes per repetition.
3. **Publisher** (``bench.cluster_publish``): sustained XADD rate of ``RedisBackend`` and
   ``StreamWriter`` vs an unpipelined redis-py publisher, same events, same redis-server.
4. **SSE subscribers, 1 gateway vs 2** (``bench.cluster_sse``), and a projection to N
   machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from dataclasses import dataclass

import uvloop

from bench.cluster_procs import Stack, start_redis
from bench.cluster_publish import PUBLISHERS, md_events, publish_rate
from bench.cluster_sse import (
    HEADER,
    SsePlan,
    close_clients,
    projection,
    ratio_line,
    sse_sweep,
)
from bench.fanout import Clients, hist_percentile
from bench.orders_load import RATE_ENV, Target, connect_tickwire, sequential
from bench.procs import (
    CLIENT_CORE,
    SERVER_CORE,
    ServerProc,
    boost,
    cpu_seconds,
    fmt_range,
    loadavg,
    percentile,
    pin,
    raise_nofile,
    start_tickwire,
    summary,
    versions,
)

__all__ = ["FULL", "QUICK", "Plan", "main", "md_hop", "order_hop", "publisher", "scaling"]


@dataclass
class Plan:
    seq_n: int
    seq_warm: int
    reps: int
    md_rate: float
    md_subs: int
    md_warm_s: float
    md_window_s: float
    pub_events: int
    pub_tick: int
    sse: SsePlan


FULL = Plan(2000, 300, 5, 5000.0, 10, 2.0, 5.0, 50_000, 10,
            SsePlan(20.0, (500, 1000, 1500, 2000, 3000), 2, 2.0, 4.0, 250.0))  # fmt: skip
QUICK = Plan(500, 100, 3, 5000.0, 10, 1.5, 3.0, 20_000, 10,
             SsePlan(20.0, (200, 600), 1, 1.5, 3.0, 250.0))  # fmt: skip
Series = dict[str, dict[str, list[float]]]


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _diff_line(res: Series, key: str, goal_us: float | None) -> float:
    diffs = [c - s for c, s in zip(res["cluster"][key], res["single"][key], strict=True)]
    med = summary(diffs)[0]
    goal = "" if goal_us is None else f" (goal <= {goal_us:.0f} µs: {_verdict(med <= goal_us)})"
    print(f"- {key} added by the Redis hop (cluster - single, per repetition): "
          f"{fmt_range(diffs, '{:+,.0f}')} µs{goal}")  # fmt: skip
    return med


# ---------------------------------------------------------------------- 1. order round trip


def _stack(env: dict[str, str], layout: str, fsync: str = "off") -> Stack:
    """A 1-gateway cluster: every part on the server core (``shared``: the single process's
    CPU budget), or the gateway there and redis + engine on the client core (``spread``)."""
    other = SERVER_CORE if layout == "shared" else CLIENT_CORE
    return Stack(env, (SERVER_CORE,), redis_core=other, engine_core=other, fsync=fsync)


async def order_hop(plan: Plan, fsync: str, layout: str = "shared") -> Series:
    """Scenario 1; prints its table and returns the figures per target."""
    print(f"\n### 1. order round trip, one sequential client, fsync {fsync}, {layout} "
          f"layout ({plan.seq_n} "
          f"orders after {plan.seq_warm} warm-up, {plan.reps} repetitions; "
          f"load {loadavg()})\n")  # fmt: skip
    single = start_tickwire(RATE_ENV, fsync=fsync)
    stack = _stack(RATE_ENV, layout, fsync)
    res: Series = {}
    try:
        stack.start()
        gw = stack.gateways[0]
        targets = [
            (Target("single", single, lambda a: connect_tickwire(single.port, a), True),
             [single.pid]),
            (Target("cluster", gw, lambda a: connect_tickwire(gw.port, a), True),
             list(stack.pids().values())),
        ]  # fmt: skip
        for _ in range(plan.reps):
            for target, pids in targets:
                cpu0 = sum(cpu_seconds(p) for p in pids)
                lat, errors = await sequential(target, plan.seq_n, plan.seq_warm)
                # CPU covers the warm-up orders too
                cpu = (sum(cpu_seconds(p) for p in pids) - cpu0) / (len(lat) + plan.seq_warm)
                r = res.setdefault(target.name, {})
                r.setdefault("p50", []).append(percentile(lat, 50))
                r.setdefault("p99", []).append(percentile(lat, 99))
                r.setdefault("mean", []).append(statistics.fmean(lat))
                r.setdefault("cpu", []).append(1e6 * cpu)
                r.setdefault("err", []).append(errors)
    finally:
        stack.stop()
        single.stop()
    print("| target | p50 µs | p99 µs | mean µs | server CPU µs/order (all processes) | errors |")
    print("|---|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {fmt_range(r['p50'], '{:,.0f}')} | {fmt_range(r['p99'], '{:,.0f}')} | "
              f"{fmt_range(r['mean'], '{:,.0f}')} | {fmt_range(r['cpu'], '{:,.0f}')} | "
              f"{sum(r['err']):.0f} |")  # fmt: skip
    print()
    _diff_line(res, "p50", None)
    _diff_line(res, "p99", 500.0)
    return res


# ---------------------------------------------------------------------- 2. market data


def _md_window(server: ServerProc, pids: list[int], plan: Plan) -> dict[str, float]:
    clients = Clients(server.port, 1)
    try:
        failed = clients.open_to(plan.md_subs, "/md/stream")
        time.sleep(plan.md_warm_s)
        cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        r = clients.go(plan.md_window_s)
        cpu = (sum(cpu_seconds(p) for p in pids) - cpu0) / (time.monotonic() - t0)
    finally:
        close_clients(clients)
    return {
        "p50": 1000 * hist_percentile(r["hist"], 50),  # µs
        "p99": 1000 * hist_percentile(r["hist"], 99),
        "delivered": r["events"] / r["wall"],
        "cpu": 100 * cpu,
        "failed": float(failed),
        "alive": float(r["alive"]),
    }


def md_hop(plan: Plan, layout: str = "shared") -> Series:
    """Scenario 2; prints its table and returns the figures per target."""
    rate = plan.md_rate
    print(f"\n### 2. market-data delivery at {rate:,.0f} events/s, {plan.md_subs} SSE "
          f"subscribers, {layout} layout ({plan.md_window_s:g} s after {plan.md_warm_s:g} s "
          f"warm-up, {plan.reps} repetitions, in turns; load {loadavg()})\n")  # fmt: skip
    env = {"TICKWIRE_MD_SYNTHETIC_RATE": str(rate)}
    res: Series = {}
    for _ in range(plan.reps):
        single = start_tickwire(env, fsync="off")
        try:
            r = _md_window(single, [single.pid], plan)
        finally:
            single.stop()
        for k, v in r.items():
            res.setdefault("single", {}).setdefault(k, []).append(v)
        with _stack(env, layout) as stack:
            r = _md_window(stack.gateways[0], list(stack.pids().values()), plan)
        for k, v in r.items():
            res.setdefault("cluster", {}).setdefault(k, []).append(v)
    print(
        "| target | p50 µs | p99 µs | delivered ev/s (offered "
        f"{rate * plan.md_subs:,.0f}) | server CPU % (all processes) | failed connects |"
    )
    print("|---|---|---|---|---|---|")
    for name, row in res.items():
        print(f"| {name} | {fmt_range(row['p50'], '{:,.0f}')} | {fmt_range(row['p99'], '{:,.0f}')} | "
              f"{fmt_range(row['delivered'], '{:,.0f}')} | {fmt_range(row['cpu'])} | "
              f"{sum(row['failed']):.0f} |")  # fmt: skip
    print("\n(latency buckets are ~5 % wide: figures are bucket bounds, see bench.md_client)")
    _diff_line(res, "p50", None)
    _diff_line(res, "p99", 500.0)
    return res


# ---------------------------------------------------------------------- 3. publisher


async def publisher(plan: Plan) -> Series:
    """Scenario 3; prints its table and returns events/s per publisher."""
    print(f"\n### 3. tw:md publisher, {plan.pub_events:,} events handed over "
          f"{plan.pub_tick} per tick, {plan.reps} repetitions (load {loadavg()})\n")  # fmt: skip
    events = md_events(plan.pub_events)
    redis = start_redis(SERVER_CORE)
    res: Series = {}
    run = 0
    try:
        for _ in range(plan.reps):
            for name in PUBLISHERS:
                run += 1
                cpu0 = cpu_seconds(redis.pid)
                rate, length = await publish_rate(name, redis.url, events, plan.pub_tick, run)
                r = res.setdefault(name, {})
                r.setdefault("rate", []).append(rate)
                r.setdefault("redis_us", []).append(
                    1e6 * (cpu_seconds(redis.pid) - cpu0) / len(events)
                )
                r.setdefault("missing", []).append(len(events) - length)
    finally:
        redis.stop()
    base = res["unpipelined xadd"]["rate"]
    print("| publisher | events/s | x unpipelined | redis-server CPU µs/event | missing |")
    print("|---|---|---|---|---|")
    for name, r in res.items():
        ratios = [a / b for a, b in zip(r["rate"], base, strict=True)]
        print(f"| {name} | {fmt_range(r['rate'], '{:,.0f}')} | {fmt_range(ratios, '{:.1f}')} | "
              f"{fmt_range(r['redis_us'], '{:.1f}')} | {sum(r['missing']):.0f} |")  # fmt: skip
    ratios = [a / b for a, b in zip(res["RedisBackend (pipelined)"]["rate"], base, strict=True)]
    print(f"\n- RedisBackend / unpipelined: {fmt_range(ratios, '{:.1f}')}x (goal >= 5x: "
          f"{_verdict(summary(ratios)[0] >= 5)})")  # fmt: skip
    return res


# ---------------------------------------------------------------------- 4. scaling


def scaling(plan: Plan, machines: tuple[int, ...] = (1, 2, 4, 8, 16)) -> None:
    sse = plan.sse
    print(
        f"\n### 4. SSE subscribers at {sse.rate:g} events/s, 1 gateway vs 2 "
        f"({sse.window_s:g} s after {sse.warm_s:g} s warm-up per step; load {loadavg()})\n"
    )
    print(HEADER)
    one = sse_sweep(1, sse, RATE_ENV)
    two = sse_sweep(2, sse, RATE_ENV)
    print()
    print(ratio_line(one, two, sse.p99_bound_ms))
    print("\nProjection from the 1-gateway sweep:\n")
    for line in projection(one, sse.rate, sse.p99_bound_ms, machines):
        print(line)


async def main(
    quick: bool,
    only: str,
    nice: int,
    fsync: str,
    layout: str,
    md_subs: int = 0,
    md_rate: float = 0.0,
) -> None:
    pin(0, CLIENT_CORE)
    raise_nofile()
    sched = boost(nice) if nice else "default priority"
    plan = QUICK if quick else FULL
    if md_subs:
        plan = dataclasses.replace(plan, md_subs=md_subs)
    if md_rate:
        plan = dataclasses.replace(plan, md_rate=md_rate)
    started = time.monotonic()
    print(f"## bench.cluster{' --quick' if quick else ''}\n")
    print(f"- versions: {versions()}")
    print(f"- scheduling: {sched}; this process on core {CLIENT_CORE}; "
          f"load average before: {loadavg()}")  # fmt: skip
    if "1" in only:
        await order_hop(plan, fsync, layout)
    if "2" in only:
        md_hop(plan, layout)
    if "3" in only:
        await publisher(plan)
    if "4" in only:
        scaling(plan)
    print(f"\nload average after: {loadavg()}; wall time {time.monotonic() - started:.0f} s")


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="the Redis hop and gateway scaling")
    p.add_argument("--quick", action="store_true", help="fewer and shorter repetitions")
    p.add_argument("--only", default="1234", help="scenarios to run, e.g. '13'")
    p.add_argument("--nice", type=int, default=0, help="scheduling priority (negative: more)")
    p.add_argument("--fsync", default="off", choices=["off", "batch", "always"],
                   help="fsync policy of both targets in scenario 1 (default off)")  # fmt: skip
    p.add_argument("--layout", default="shared", choices=["shared", "spread"],
                   help="scenarios 1-2: cluster parts all on core 0 (shared, default) or "
                   "redis + engine on core 1 (spread)")  # fmt: skip
    p.add_argument("--md-subs", type=int, default=0,
                   help="scenario 2: SSE subscribers (default 10)")  # fmt: skip
    p.add_argument("--md-rate", type=float, default=0.0,
                   help="scenario 2: synthetic events/s (default 5000)")  # fmt: skip
    return p.parse_args(argv)


if __name__ == "__main__":
    a = _args()
    uvloop.run(main(a.quick, a.only, a.nice, a.fsync, a.layout, a.md_subs, a.md_rate))
