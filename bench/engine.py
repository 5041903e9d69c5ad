"""Engine benchmark: tickwire vs orderly-chaos vs pyorderbook on the same seeded tapes.

Run: ``python -m bench.engine`` (about 1 M commands a tape), ``--quick`` (50 k),
``--write-doc`` to put the table between the engine-table markers of docs/benchmarks.md.

Tapes: (1) mixed, (2) cancel-heavy, (3) the LOBSTER AMZN day (skipped when the data is
absent). Before timing, a correctness gate checks that tickwire's trade stream (price, qty,
maker id, taker id) equals orderly-chaos's on a tape of limit/market/cancel/reduce; the
run stops if it does not.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from bench.engine_runners import (
    OrderlyChaosRunner,
    PyOrderbookRunner,
    Runner,
    TickwireRunner,
    time_tape,
)
from bench.engine_tapes import Op, cancel_heavy_tape, gate_tape, lobster_tape, mixed_tape
from exchange.compiled import engine_build
from exchange.options import tune_gc

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
Row = tuple[str, str, int, float, float, float]  # tape, engine, n, ops/s, p50 us, p99 us


def gate(n: int, batch: int = 0) -> tuple[bool, int]:
    """(tickwire trades == orderly-chaos trades, number of trades) on ``gate_tape(n)``;
    ``batch``: tickwire publishing market data every ``batch`` commands."""
    tape = gate_tape(n)
    ours = TickwireRunner(accounts=0, record=True, batch=batch)
    theirs = OrderlyChaosRunner(record=True)
    for runner in (ours, theirs):
        items = [runner.prepare(op) for op in tape]
        for item in items:
            runner.apply(item)
    ours.finish()
    return ours.trades() == theirs.trades(), len(theirs.trades())


def measure(tape_name: str, tape: list[Op], make: Callable[[], Runner], repeat: int) -> Row:
    """Best-of-``repeat`` throughput, and the latency percentiles of that best run."""
    best: tuple[float, list[int]] | None = None
    name = ""
    for _ in range(repeat):
        runner = make()
        name = runner.name
        tune_gc()  # every engine runs with the server's collector settings
        cpu, lat = time_tape(runner, tape)
        gc.unfreeze()
        if best is None or cpu < best[0]:
            best = (cpu, lat)
        del runner
    assert best is not None
    cpu, lat = best
    lat.sort()
    p50 = lat[len(lat) // 2] / 1000
    p99 = lat[int(len(lat) * 0.99)] / 1000
    return (tape_name, name, len(tape), len(tape) / cpu, p50, p99)


def table(rows: list[Row]) -> str:
    lines = [
        "| tape | engine | commands | ops/s (CPU) | p50 µs | p99 µs | vs pyorderbook | vs orderly-chaos |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(r[0], r[1]): r for r in rows}
    for tape, engine, n, ops, p50, p99 in rows:
        base = by.get((tape, "pyorderbook"))
        oc = by.get((tape, "orderly-chaos"))
        vs_py = f"{ops / base[3]:.2f}x" if base else "-"
        vs_oc = f"{ops / oc[3]:.2f}x" if oc else "-"
        lines.append(
            f"| {tape} | {engine} | {n:,} | {ops:,.0f} | {p50:.1f} | {p99:.1f} | {vs_py} | {vs_oc} |"
        )
    return "\n".join(lines)


BEGIN, END = "<!-- engine-table:begin -->", "<!-- engine-table:end -->"


def write_doc(body: str) -> bool:
    """Put ``body`` between the engine-table markers of docs/benchmarks.md (nothing else
    changes); False when the markers are missing."""
    text = DOC.read_text() if DOC.exists() else ""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return False
    DOC.write_text(text[: start + len(BEGIN)] + "\n" + body.rstrip("\n") + "\n" + text[end:])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="50,000 commands a tape")
    parser.add_argument("-n", type=int, default=None, help="commands per synthetic tape")
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per engine and tape (best kept)"
    )
    parser.add_argument(
        "--engines",
        default="tickwire,tickwire/b64,orderly-chaos,pyorderbook",
        help="tickwire/bN: market data published every N commands, as the server batches it",
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="print the doc section to stdout only"
    )
    args = parser.parse_args(argv)
    n = args.n or (50_000 if args.quick else 1_000_000)
    repeat = args.repeat or (3 if args.quick else 1)
    print(f"tickwire engine: {engine_build()}; load average {_load()}", flush=True)
    for batch in (0, 64):
        ok, trades = gate(20_000, batch)
        label = f"tickwire/b{batch}" if batch else "tickwire"
        print(f"correctness gate (20,000 ops, {trades:,} trades): {label} == orderly-chaos: {ok}")
        if not ok:
            return 1
    tapes: list[tuple[str, list[Op], int]] = [
        ("mixed", mixed_tape(n), 2),
        ("cancel-heavy", cancel_heavy_tape(n), 2),
    ]
    try:
        tapes.append(("lobster-amzn", lobster_tape(), 4))
    except FileNotFoundError:
        print("LOBSTER data absent: tape 3 skipped", file=sys.stderr)
    makers: dict[str, Callable[[int], Callable[[], Runner]]] = {
        "tickwire": lambda pd: lambda: TickwireRunner(price_decimals=pd),
        "orderly-chaos": lambda pd: OrderlyChaosRunner,
        "pyorderbook": lambda pd: PyOrderbookRunner,
    }
    for engine in args.engines.split(","):
        if engine.startswith("tickwire/b") and engine[10:].isdigit():
            makers[engine] = lambda pd, b=int(engine[10:]): (
                lambda: TickwireRunner(price_decimals=pd, batch=b)
            )
        elif engine not in makers:
            parser.error(f"unknown engine {engine!r}")
    rows: list[Row] = []
    for tape_name, tape, pd in tapes:
        for engine in args.engines.split(","):
            row = measure(tape_name, tape, makers[engine](pd), repeat)
            rows.append(row)
            print(
                f"{row[0]:>13} {row[1]:>14} {row[2]:>9,} {row[3]:>12,.0f} ops/s  p50 {row[4]:7.1f} µs  p99 {row[5]:8.1f} µs",
                flush=True,
            )
    cmd = (
        "python -m bench.engine"
        + (" --quick" if args.quick else "")
        + (f" -n {args.n}" if args.n else "")
    )
    body = (
        f"{table(rows)}\n\nCommand: `.venv/bin/{cmd}` (Python {platform.python_version()}, "
        f"{platform.machine()}; tickwire engine {engine_build()}; load average {_load()})."
    )
    print()
    print(body)
    if args.write_doc and not write_doc(body):
        print(f"no {BEGIN} markers in {DOC}", file=sys.stderr)
        return 1
    return 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
