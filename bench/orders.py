"""Order-entry benchmark: ``order.new`` -> ``order.ack`` round trip against ``tickwire serve``,
with a raw ``websockets`` echo server (``bench.echo_ws``) as the floor, in the same run.

Run: ``python -m bench.orders [--quick]``. Prints Markdown; docs/benchmarks.md ("## Order
entry") holds the figures. Not a test: nothing asserts speed.

Setup: each server is a subprocess pinned to core 0 (tickwire: simulator off, fsync
``batch``, a fresh temp data dir per scenario; rate limits raised through
``TICKWIRE_CONN_RATE``/``_CONN_BURST``/``_ACCOUNT_RATE``/``_ACCOUNT_BURST`` so the
benchmark measures the path, not the limiter). This process is the load generator, pinned to
core 1, on uvloop, with ``websockets`` clients (compression off). The echo server pads its
replies to the size of a tickwire ``order.ack``, so both carry the same bytes.

Orders rest without matching: buys of 0.0001 BTC at 1.00 and sells at 900000.00 alternate.

Scenarios (every repetition alternates echo and tickwire, so both see the same machine load):

* ``sequential``: one connection, send, wait for the reply, repeat: p50/p99 vs the echo.
* ``open``: 50 connections (50 accounts), 5,000 orders/s in total, open loop: sends are
  scheduled by time and latency runs from the *scheduled* send time (no coordinated
  omission); p99, and errors (anything but an ``order.ack``, or no reply).
* ``closed``: sustained throughput with 200 requests outstanding: 10 connections x 20, and
  100 connections x 2 (tickwire reads a connection's next frame only once the previous
  order is released, so outstanding requests on one connection queue behind each other).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvloop

from bench.orders_load import (
    RATE_ENV,
    Target,
    close_conns,
    closed_loop,
    connect_echo,
    connect_tickwire,
    open_conns,
    open_loop,
    order_msg,
    sequential,
)
from bench.procs import (
    CLIENT_CORE,
    ServerProc,
    boost,
    cpu_seconds,
    fmt_range,
    free_port,
    loadavg,
    percentile,
    pin,
    raise_nofile,
    start_python,
    start_tickwire,
    summary,
    versions,
)

_ids = itertools.count(1)


def _pid(t: Target) -> int:
    assert t.server is not None
    return t.server.pid


# ---------------------------------------------------------------------- the run


@dataclass
class _Plan:
    seq_n: int
    seq_warm: int
    reps: int
    open_conns: int
    open_rate: float
    open_s: float
    open_reps: int
    closed_s: float


FULL = _Plan(2000, 300, 5, 50, 5000.0, 4.0, 3, 5.0)
QUICK = _Plan(500, 100, 3, 50, 5000.0, 2.0, 2, 3.0)
Results = dict[str, dict[str, list[float]]]


class _Servers:
    """The echo (started once) plus, per scenario, tickwire with fsync batch and with fsync
    off on fresh data dirs (off separates the disk's fsync from the server's own cost)."""

    def __init__(self, echo: ServerProc) -> None:
        self.echo = echo
        self.started: list[ServerProc] = []

    def __enter__(self) -> list[Target]:
        tw = start_tickwire(RATE_ENV)
        self.started.append(tw)
        off = start_tickwire(RATE_ENV, fsync="off")
        self.started.append(off)
        echo = self.echo
        return [
            Target("echo", echo, lambda a: connect_echo(echo.port, a), expect_ack=False),
            Target("tickwire", tw, lambda a: connect_tickwire(tw.port, a), expect_ack=True),
            Target("tickwire fsync=off", off, lambda a: connect_tickwire(off.port, a), True),
        ]

    def __exit__(self, *exc: object) -> None:
        for server in self.started:
            server.stop()


def _cpu_share(t: Target, cpu0: float, t0: float) -> float:
    return (cpu_seconds(_pid(t)) - cpu0) / (time.monotonic() - t0)


async def _ack_size(tw: ServerProc) -> int:
    ws = await connect_tickwire(tw.port, "probe")
    await ws.send(order_msg("probe", 1))
    reply = await ws.recv()
    await ws.close()
    return len(reply.encode() if isinstance(reply, str) else reply)


def _start_echo(reply_bytes: int) -> ServerProc:
    port = free_port()
    args = ["-m", "bench.echo_ws", "--port", str(port), "--reply-bytes", str(reply_bytes)]
    echo = start_python("echo", args, port)
    echo.wait_ready("/")
    return echo


def _ratio_line(res: Results, key: str, name: str, goal: str, ok: Callable[[float], bool]) -> None:
    ratios = [t / e for t, e in zip(res[name][key], res["echo"][key], strict=True)]
    verdict = "" if not goal else f" (goal {goal}: {'met' if ok(summary(ratios)[0]) else 'MISSED'})"
    print(f"- {key} ratio {name}/echo: {fmt_range(ratios, '{:.2f}')}{verdict}")


async def run_sequential(plan: _Plan, echo: ServerProc) -> None:
    print(f"\n### (a) one sequential client ({plan.seq_n} orders after {plan.seq_warm} "
          f"warm-up, {plan.reps} repetitions; load {loadavg()})\n")  # fmt: skip
    res: Results = {}
    with _Servers(echo) as targets:
        for _ in range(plan.reps):
            for target in targets:
                cpu0, t0 = cpu_seconds(_pid(target)), time.monotonic()
                g0 = time.process_time()
                lat, errors = await sequential(target, plan.seq_n, plan.seq_warm)
                gen = (time.process_time() - g0) / (time.monotonic() - t0)
                r = res.setdefault(target.name, {})
                r.setdefault("p50", []).append(percentile(lat, 50))
                r.setdefault("p99", []).append(percentile(lat, 99))
                r.setdefault("srv", []).append(100 * _cpu_share(target, cpu0, t0))
                r.setdefault("gen", []).append(100 * gen)
                r.setdefault("err", []).append(errors)
    print("| server | p50 µs | p99 µs | server CPU % | generator CPU % | errors |")
    print("|---|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {fmt_range(r['p50'])} | {fmt_range(r['p99'])} | "
              f"{fmt_range(r['srv'])} | {fmt_range(r['gen'])} | {sum(r['err']):.0f} |")  # fmt: skip
    print()
    _ratio_line(res, "p50", "tickwire", "<= 1.5x", lambda x: x <= 1.5)
    _ratio_line(res, "p99", "tickwire", "<= 2x", lambda x: x <= 2.0)
    _ratio_line(res, "p50", "tickwire fsync=off", "", bool)
    _ratio_line(res, "p99", "tickwire fsync=off", "", bool)


async def run_open(plan: _Plan, echo: ServerProc, rate: float) -> None:
    print(f"\n### (b) {plan.open_conns} connections, {rate:.0f} orders/s open loop "
          f"({plan.open_s:.0f} s x {plan.open_reps} repetitions after 1 s warm-up; "
          f"load {loadavg()})\n")  # fmt: skip
    res: Results = {}
    with _Servers(echo) as targets:
        conns = {t.name: await open_conns(t, plan.open_conns, f"ol{next(_ids)}-") for t in targets}
        for t in targets:
            await open_loop(t, conns[t.name], rate, 1.0)
        for _ in range(plan.open_reps):
            for t in targets:
                cpu0, t0, g0 = cpu_seconds(_pid(t)), time.monotonic(), time.process_time()
                lat, errors, sent, late = await open_loop(t, conns[t.name], rate, plan.open_s)
                gen = (time.process_time() - g0) / (time.monotonic() - t0)
                r = res.setdefault(t.name, {})
                r.setdefault("p50", []).append(percentile(lat, 50))
                r.setdefault("p99", []).append(percentile(lat, 99))
                r.setdefault("p999", []).append(percentile(lat, 99.9))
                r.setdefault("max", []).append(lat[-1] if lat else float("nan"))
                r.setdefault("srv", []).append(100 * _cpu_share(t, cpu0, t0))
                r.setdefault("gen", []).append(100 * gen)
                r.setdefault("err", []).append(errors)
                r.setdefault("sent", []).append(sent)
                r.setdefault("late", []).append(percentile(late, 99))
                r.setdefault("cpu_us", []).append(
                    1e6 * (cpu_seconds(_pid(t)) - cpu0) / max(1, sent)
                )
        for cs in conns.values():
            await close_conns(cs)
    print("| server | p50 µs | p99 µs | p99.9 µs | max µs | server CPU % | generator CPU % "
          "| server CPU µs/order | send lateness p99 µs | errors / sent |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {fmt_range(r['p50'])} | {fmt_range(r['p99'])} | "
              f"{fmt_range(r['p999'])} | {fmt_range(r['max'])} | {fmt_range(r['srv'])} | "
              f"{fmt_range(r['gen'])} | {fmt_range(r['cpu_us'])} | {fmt_range(r['late'])} | "
              f"{sum(r['err']):.0f} / {sum(r['sent']):.0f} |")  # fmt: skip
    tw_p99 = summary(res["tickwire"]["p99"])[0]
    errs = sum(res["tickwire"]["err"])
    ok = tw_p99 <= 2000 and errs == 0
    print(f"\n- tickwire (fsync batch) p99 {tw_p99:.0f} µs, errors {errs:.0f} "
          f"(goal at 5000/s: p99 <= 2000 µs and no errors: {'met' if ok else 'MISSED'})")  # fmt: skip


async def run_closed(plan: _Plan, echo: ServerProc, n_conns: int, window: int) -> float:
    """Prints the table; returns tickwire's (fsync batch) median sustained replies/s."""
    print(f"\n### (c) sustained: {n_conns} connections x {window} "
          f"outstanding ({plan.closed_s:.0f} s x {plan.reps} repetitions after 1 s warm-up; "
          f"load {loadavg()})\n")  # fmt: skip
    res: Results = {}
    with _Servers(echo) as targets:
        for _ in range(plan.reps):
            for t in targets:
                conns = await open_conns(t, n_conns, f"cl{next(_ids)}-")
                rate, errors, gen, srv = await closed_loop(
                    t, conns, window, plan.closed_s, 1.0, functools.partial(cpu_seconds, _pid(t))
                )
                await close_conns(conns)  # (it can wait seconds for a close: not counted)
                r = res.setdefault(t.name, {})
                r.setdefault("rate", []).append(rate)
                r.setdefault("srv", []).append(100 * srv)
                r.setdefault("gen", []).append(100 * gen)
                r.setdefault("err", []).append(errors)
    print("| server | replies/s | server CPU % | server CPU µs/reply | generator CPU % | errors |")
    print("|---|---|---|---|---|---|")
    for name, r in res.items():
        per = [1e4 * c / x for c, x in zip(r["srv"], r["rate"], strict=True)]
        print(f"| {name} | {fmt_range(r['rate'])} | {fmt_range(r['srv'])} | "
              f"{fmt_range(per)} | {fmt_range(r['gen'])} | {sum(r['err']):.0f} |")  # fmt: skip
    print()
    _ratio_line(res, "rate", "tickwire", ">= 0.6x", lambda x: x >= 0.6)
    _ratio_line(res, "rate", "tickwire fsync=off", "", bool)
    return summary(res["tickwire"]["rate"])[0]


async def main(quick: bool, only: str, nice: int) -> None:
    pin(0, CLIENT_CORE)
    raise_nofile()
    sched = boost(nice) if nice else "default priority"
    plan = QUICK if quick else FULL
    started = time.monotonic()
    print(f"## bench.orders{' --quick' if quick else ''}\n")
    print(f"- versions: {versions()}")
    print(f"- servers pinned to core 0, this load generator to core {CLIENT_CORE}")
    print(f"- tickwire env: {' '.join(f'{k}={v}' for k, v in RATE_ENV.items())}")
    print(f"- scheduling: {sched} (servers and generator); load average before: {loadavg()}")
    probe = start_tickwire(RATE_ENV)
    try:
        ack_bytes = await _ack_size(probe)
    finally:
        probe.stop()
    print(f"- order.new {len(order_msg('s123-1', 1001))} bytes, order.ack {ack_bytes} bytes "
          "(the echo pads its replies to that size)")  # fmt: skip
    echo = _start_echo(ack_bytes)
    try:
        if "a" in only:
            await run_sequential(plan, echo)
        sustained = 0.0
        if "c" in only:
            # the same 200 outstanding requests on few and on many connections
            sustained = await run_closed(plan, echo, 10, 20)
            sustained = max(sustained, await run_closed(plan, echo, 100, 2))
        if "b" in only:
            await run_open(plan, echo, plan.open_rate)
            if 0 < sustained / 2 < plan.open_rate:
                # also at a load tickwire carries here, for its latency profile
                await run_open(plan, echo, float(int(sustained / 2 / 50) * 50))
    finally:
        echo.stop()
    print(f"\nload average after: {loadavg()}; wall time {time.monotonic() - started:.0f} s")


def _args(argv: list[str] | None = None) -> Any:
    p = argparse.ArgumentParser(description="order-entry round trip vs a websockets echo")
    p.add_argument("--quick", action="store_true", help="fewer and shorter repetitions")
    p.add_argument("--only", default="abc", help="scenarios to run, e.g. 'ac' (default abc)")
    p.add_argument(
        "--nice", type=int, default=0, help="scheduling priority of servers and generator"
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    a = _args()
    uvloop.run(main(a.quick, a.only, a.nice))
