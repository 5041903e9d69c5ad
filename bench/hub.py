"""Market-data hub benchmark: publish cost and fan-out cost vs subscriber count, memory.

Run: ``python -m bench.hub [--subs 100,1000,10000] [--repeat 3]``. Prints Markdown tables;
the figures in docs/benchmarks.md ("## Hub") come from it. Not a test: nothing asserts speed.

Scenarios (events come from ``exchange.sim.feed.MarketSim``: ~2.5 events per publish
call, the mix of one command's market data):

* ``stalled``: N subscribers that never read (the hub never touches them on publish; with
  the default limits the sweep drops them, so here ``max_pending`` is raised to keep them).
* ``reading``: N tasks looping ``await sub.next_batch()`` and touching each event's ``sse``
  frame (the gateway's work minus the socket write). CPU per publish includes waking every
  reader, its ``next_batch`` and re-waiting.
* ``naive``: the baseline the design card warns about: one ``asyncio.Queue`` per
  subscriber, the payload JSON-encoded and framed per subscriber.

All times are CPU time (``time.process_time`` for a whole run, ``time.thread_time`` around
each ``publish`` call) per published event, median of ``--repeat`` runs with [min-max]:
CPU time, not wall time, because the machine this runs on is shared and loaded. Memory is
``tracemalloc`` bytes per subscriber. ``--loop uvloop`` (default, as the server) or
``asyncio``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from exchange.hub import Filter, MarketHub, Subscription
from exchange.sim.feed import MarketSim

#: Event loop used by the runs (``--loop``): the server runs uvloop, so that is the default.
LOOP_FACTORY: Callable[[], asyncio.AbstractEventLoop] | None = None

Items = list[tuple[str, str | None, dict[str, Any]]]
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")


def workload(
    publishes: int, seed: int = 1
) -> tuple[MarketSim, list[dict[str, Any]], list[tuple[Items, int]]]:
    sim = MarketSim(seed, symbols=SYMBOLS)
    snaps = sim.snapshots()
    steps = [(sim.step(), sim.ts) for _ in range(publishes)]
    return sim, snaps, steps


def new_hub(snaps: list[dict[str, Any]], **kwargs: Any) -> MarketHub:
    hub = MarketHub("bench", **kwargs)
    hub.seed(snaps, 0)
    return hub


def publishes_for(n_subs: int) -> int:
    """Enough publishes to measure, few enough that 10,000 readers finish in seconds."""
    return max(100, min(3_000, 1_000_000 // max(1, n_subs)))


async def run_stalled(n: int, publishes: int) -> tuple[float, float]:
    """(CPU ns per event for publish with n stalled subscribers, events)."""
    _, snaps, steps = workload(publishes)
    hub = new_hub(snaps, max_pending=10**9, history_size=10**6)
    subs = [hub.subscribe(Filter(), hub.last_id) for _ in range(n)]
    gc.collect()
    t0 = time.process_time_ns()
    for items, ts in steps:
        hub.publish(items, ts)
    cpu = time.process_time_ns() - t0
    del subs
    return cpu / hub.last_offset, hub.last_offset


async def run_reading(n: int, publishes: int, *, stalled: int = 0) -> tuple[float, float]:
    """(CPU ns per event: publish + every reader's wake-up and batch, publish-call-only ns)."""
    _, snaps, steps = workload(publishes)
    hub = new_hub(snaps, max_pending=10**9, history_size=10**6)
    idle = [hub.subscribe(Filter(), hub.last_id) for _ in range(stalled)]
    delivered = [0]

    async def reader(sub: Subscription) -> None:
        while True:
            batch = await sub.next_batch()
            for ev in batch:
                ev.sse  # noqa: B018 - build (or fetch the cached) frame like a transport
            delivered[0] += len(batch)

    tasks = [asyncio.create_task(reader(hub.subscribe(Filter(), hub.last_id))) for _ in range(n)]
    await asyncio.sleep(0)
    gc.collect()
    publish_ns = 0
    t0 = time.process_time_ns()
    for items, ts in steps:
        p0 = time.thread_time_ns()
        hub.publish(items, ts)
        publish_ns += time.thread_time_ns() - p0
        await asyncio.sleep(0)  # let every woken reader take its batch
    await asyncio.sleep(0)
    cpu = time.process_time_ns() - t0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert delivered[0] == n * hub.last_offset, (delivered[0], n, hub.last_offset)
    del idle
    return cpu / hub.last_offset, publish_ns / hub.last_offset


async def run_naive(n: int, publishes: int) -> tuple[float, float]:
    """The baseline: per-subscriber queues, JSON and SSE framing per subscriber."""
    _, _, steps = workload(publishes)
    queues: list[asyncio.Queue[bytes]] = [asyncio.Queue(4096) for _ in range(n)]
    delivered = [0]

    async def reader(q: asyncio.Queue[bytes]) -> None:
        while True:
            await q.get()
            delivered[0] += 1

    tasks = [asyncio.create_task(reader(q)) for q in queues]
    await asyncio.sleep(0)
    gc.collect()
    events = 0
    publish_ns = 0
    t0 = time.process_time_ns()
    for items, _ in steps:
        p0 = time.thread_time_ns()
        for name, _, payload in items:
            events += 1
            for q in queues:
                data = orjson.dumps(payload)
                q.put_nowait(b"id:bench-%d\nevent:%s\ndata:%s\n\n" % (events, name.encode(), data))
        publish_ns += time.thread_time_ns() - p0
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    cpu = time.process_time_ns() - t0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert delivered[0] == n * events
    return cpu / events, publish_ns / events


async def memory_per_subscriber(n: int, *, with_reader: bool) -> float:
    _, snaps, _ = workload(1)
    hub = new_hub(snaps)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    subs = [hub.subscribe(Filter(), hub.last_id) for _ in range(n)]
    tasks = []
    if with_reader:
        tasks = [asyncio.create_task(s.next_batch()) for s in subs]
        await asyncio.sleep(0)  # each is now waiting on its future
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return (after - before) / n


def encode_costs(repeat: int) -> dict[str, float]:
    """ns per event for the parts of publish, and bytes of framing per event."""
    _, snaps, steps = workload(3_000)
    out: dict[str, float] = {}
    best = float("inf")
    for _ in range(repeat):
        hub = new_hub(snaps, history_size=10**6)
        t0 = time.process_time_ns()
        for items, ts in steps:
            hub.publish(items, ts)
        best = min(best, (time.process_time_ns() - t0) / hub.last_offset)
    out["publish, no subscribers"] = best
    events = hub.history()
    t0 = time.process_time_ns()
    for ev in events:
        ev.sse  # noqa: B018
        ev.ws  # noqa: B018
        ev.poll  # noqa: B018
    out["build sse+ws+poll frames once"] = (time.process_time_ns() - t0) / len(events)
    out["sse framing bytes/event (mean)"] = statistics.fmean(
        len(e.sse) - len(e.data) for e in events
    )
    out["payload bytes/event (mean)"] = statistics.fmean(len(e.data) for e in events)
    return out


def median_range(values: list[float]) -> str:
    return f"{statistics.median(values) / 1000:,.1f} [{min(values) / 1000:,.1f}-{max(values) / 1000:,.1f}]"


def repeat_async(
    fn: Callable[[], Coroutine[Any, Any, tuple[float, float]]], repeat: int
) -> tuple[list[float], list[float]]:
    """Run ``fn`` in a fresh event loop ``repeat`` times; both of its figures, per run."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
            x, y = runner.run(fn())
        a.append(x)
        b.append(y)
    return a, b


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subs", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--gc-gen0",
        type=int,
        default=None,
        help="gc.set_threshold(N, 10, 10) before running (default: Python's 700)",
    )
    args = parser.parse_args(argv)
    if args.gc_gen0:
        gc.set_threshold(args.gc_gen0, 10, 10)
    global LOOP_FACTORY
    if args.loop == "uvloop":
        import uvloop

        LOOP_FACTORY = uvloop.new_event_loop
    counts = [int(x) for x in args.subs.split(",")]
    print(
        f"python {sys.version.split()[0]}, orjson {orjson.__version__}, loop {args.loop}, "
        f"gc thresholds {gc.get_threshold()}\n"
    )

    costs = encode_costs(args.repeat)
    print("| part | value |\n|---|---|")
    for key, value in costs.items():
        unit = "" if "bytes" in key else " µs"
        shown = f"{value:.1f}" if "bytes" in key else f"{value / 1000:.2f}"
        print(f"| {key} | {shown}{unit} |")

    print("\nCPU µs per published event, median [min-max] of", args.repeat, "runs\n")
    print(
        "| subscribers | stalled: publish | reading: publish call | reading: publish + delivery "
        "| per reader | naive: publish call | naive: total | hub vs naive total |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in counts:
        pubs = publishes_for(n)
        stalled, _ = repeat_async(functools.partial(run_stalled, n, pubs), args.repeat)
        total, call = repeat_async(functools.partial(run_reading, n, pubs), args.repeat)
        ntotal, ncall = repeat_async(functools.partial(run_naive, n, pubs), args.repeat)
        per_reader = statistics.median(total) / n / 1000
        ratio = statistics.median(ntotal) / statistics.median(total)
        print(
            f"| {n:,} | {median_range(stalled)} | {median_range(call)} | {median_range(total)} "
            f"| {per_reader:.2f} | {median_range(ncall)} | {median_range(ntotal)} | {ratio:.1f}x |"
        )

    print("\nStalled subscribers do not slow the readers (100 readers):\n")
    print("| stalled | publish + delivery µs/event |\n|---|---|")
    for stalled_n in (0, 1_000, 10_000):
        total, _ = repeat_async(
            functools.partial(run_reading, 100, 3_000, stalled=stalled_n), args.repeat
        )
        print(f"| {stalled_n:,} | {median_range(total)} |")

    print("\n| memory per subscriber (tracemalloc) | bytes |\n|---|---|")
    for with_reader in (False, True):
        with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
            per = runner.run(memory_per_subscriber(10_000, with_reader=with_reader))
        label = (
            "subscription + a task waiting in next_batch" if with_reader else "subscription only"
        )
        print(f"| {label} | {per:,.0f} |")


if __name__ == "__main__":
    main()
