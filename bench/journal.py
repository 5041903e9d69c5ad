"""Journal benchmark: codec cost, append throughput, sync latency per fsync policy, recovery.

Run: ``python -m bench.journal [--records N] [--dir PATH]`` (default: a temporary directory
on the filesystem of ``--dir``, or the system temp dir). Prints a Markdown table; the
figures in docs/benchmarks.md ("## Journal") come from it.

Not a test: nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from exchange.engine.types import CancelOrder, Command, NewOrder
from exchange.journal import FsyncPolicy, Journal, decode_command, encode_command

POLICIES: tuple[FsyncPolicy, ...] = ("always", "batch", "off")


def sample_commands(n: int) -> list[Command]:
    """A realistic order-entry mix: 80 % new limit orders, 20 % cancels."""
    out: list[Command] = []
    ts = 1_700_000_000_000_000_000
    for i in range(n):
        ts += 1_000
        if i % 5 == 4:
            out.append(CancelOrder("trader-17", client_order_id=f"cl-{i - 3:08d}", ts=ts))
        else:
            out.append(
                NewOrder(
                    "trader-17",
                    f"cl-{i:08d}",
                    "BTC-USD",
                    "buy" if i % 2 else "sell",
                    "limit",
                    "0.0150",
                    f"{100 + i % 50}.25",
                    None,
                    False,
                    ts,
                )
            )
    return out


def per_op_ns(fn: Callable[[], object], ops: int, repeat: int = 5) -> float:
    """Best of ``repeat`` runs of ``fn`` (which does ``ops`` operations), in CPU ns per op.

    CPU time of this thread (syscalls included, waiting excluded): on a shared, loaded machine
    it varies far less than wall time.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time_ns()
        fn()
        best = min(best, time.thread_time_ns() - t0)
    return best / ops


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_codec(cmds: list[Command]) -> list[str]:
    payloads = [encode_command(c) for c in cmds]

    # Results are dropped as they come, as on the hot path (keeping 50k results alive in a
    # list measures the allocator more than the codec).
    def encode_all() -> None:
        for c in cmds:
            encode_command(c)

    def decode_all() -> None:
        for p in payloads:
            decode_command(p)

    enc = per_op_ns(encode_all, len(cmds))
    dec = per_op_ns(decode_all, len(cmds))
    size = statistics.mean(len(p) for p in payloads)
    return [
        f"| codec encode_command | {enc:,.0f} ns/command | {1e9 / enc:,.0f} commands/s |",
        f"| codec decode_command | {dec:,.0f} ns/command | {1e9 / dec:,.0f} commands/s |",
        f"| payload size (mean) | {size:.0f} bytes | + 16 bytes record header |",
    ]


def bench_append(base: Path, payloads: list[bytes]) -> list[str]:
    rows = []
    n = len(payloads)

    def run(flush_each: bool) -> None:
        with tempfile.TemporaryDirectory(dir=base) as tmp, Journal.open(tmp, "off") as journal:
            journal.recover()
            append, flush = journal.append, journal.flush
            if flush_each:
                for p in payloads:
                    append(p)
                    flush()
            else:
                for p in payloads:
                    append(p)
                flush()

    for label, flush_each in (("append, one flush at the end", False), ("append + flush", True)):
        ns = per_op_ns(functools.partial(run, flush_each), n, repeat=3)
        rows.append(f"| {label} | {ns:,.0f} ns/record | {1e9 / ns:,.0f} records/s |")
    return rows


def bench_hot_path(base: Path, cmds: list[Command]) -> str:
    """What the sequencer pays per command: encode + append, a flush every 100 commands."""

    def run() -> None:
        with tempfile.TemporaryDirectory(dir=base) as tmp, Journal.open(tmp, "off") as journal:
            journal.recover()
            append, flush = journal.append, journal.flush
            for i, cmd in enumerate(cmds):
                append(encode_command(cmd))
                if i % 100 == 99:
                    flush()
            flush()

    ns = per_op_ns(run, len(cmds), repeat=3)
    return (
        f"| encode + append, flush every 100 | {ns:,.0f} ns/command | {1e9 / ns:,.0f} commands/s |"
    )


def bench_sync(base: Path, payloads: list[bytes], batches: tuple[int, ...]) -> list[str]:
    """Group commit: append ``batch`` records, then ``sync()``; per policy and batch size."""
    rows = []
    for policy in POLICIES:
        for batch in batches:
            rounds = max(50, min(400, 4000 // batch))
            lat: list[float] = []
            with tempfile.TemporaryDirectory(dir=base) as tmp, Journal.open(tmp, policy) as j:
                j.recover()
                t_all = time.perf_counter_ns()
                for r in range(rounds):
                    for k in range(batch):
                        j.append(payloads[(r * batch + k) % len(payloads)])
                    t0 = time.perf_counter_ns()
                    j.sync()
                    lat.append((time.perf_counter_ns() - t0) / 1000)
                total_s = (time.perf_counter_ns() - t_all) / 1e9
            rate = rounds * batch / total_s
            rows.append(
                f"| {policy} | {batch} | {pct(lat, 0.5):,.0f} | {pct(lat, 0.99):,.0f} | "
                f"{rate:,.0f} |"
            )
    return rows


def bench_recover(base: Path, payloads: list[bytes]) -> str:
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        with Journal.open(tmp, "off") as journal:
            journal.recover()
            for p in payloads:
                journal.append(p)
        size = sum(f.stat().st_size for f in Path(tmp).glob("journal-*"))
        t0 = time.thread_time()
        with Journal.open(tmp) as journal:
            rec = journal.recover()
        scan = time.thread_time() - t0
        t0 = time.thread_time()
        for _, payload in rec.records:
            decode_command(payload)
        decode = time.thread_time() - t0
    n = len(payloads)
    return (
        f"| recover() {n:,} records ({size / 1e6:.0f} MB) | {scan * 1000:,.0f} ms "
        f"({n / scan:,.0f} records/s) | + decode {decode * 1000:,.0f} ms |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    cmds = sample_commands(args.records)
    payloads = [encode_command(c) for c in cmds]
    load = os.getloadavg()[0]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load:.1f}, "
        f"{args.records:,} records, files under {args.dir}\n"
    )
    print("CPU time of the benchmark thread (best of several runs).\n")
    print("| what | cost | rate |\n|---|---|---|")
    for row in bench_codec(cmds[:50_000]):
        print(row)
    for row in bench_append(args.dir, payloads):
        print(row)
    print(bench_hot_path(args.dir, cmds))
    print(bench_recover(args.dir, payloads))
    print(
        "\nGroup commit: append `batch` records then `sync()`; wall-clock latency of the "
        "sync call and wall-clock records/s.\n"
    )
    print("| policy | batch | sync p50 µs | sync p99 µs | records/s |\n|---|---|---|---|---|")
    for row in bench_sync(args.dir, payloads, (1, 10, 100)):
        print(row)


if __name__ == "__main__":
    main()
