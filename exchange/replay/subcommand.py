"""The ``tickwire replay`` command, and ``--record`` for ``tickwire serve``.

Exports ``register`` (called by ``exchange.cli.build_parser``), ``cmd_replay`` and
``prepare`` (everything but running the server: load, cut, index, build the node).

``tickwire replay SOURCE... [--format F] [--speed S] [--start T] [--end T] [--symbol NAME]``
plus the server options: loads the files with a progress bar, indexes them (engine
checkpoints for seeking), then serves the exchange with the recording as its order source.
A bad file or option prints one line (``file.csv:12: ...``) and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["cmd_replay", "prepare", "register"]


def register(sub: Any) -> None:
    """Add ``replay`` to the CLI's subcommands and ``--record FILE`` to ``serve``."""
    from exchange.options import add_server_options
    from exchange.replay.load import FORMATS

    p = sub.add_parser(
        "replay",
        help="replay recorded market data as the exchange's order flow",
        description="Run the exchange with a recording (LOBSTER, Tardis trades, Kraken L2 or a "
        "tickwire recording) as its order source; clients trade against the replayed market. "
        "Controls: GET/POST /api/replay. TIME is 14:05:00 (UTC on the recording's day), "
        "+SECONDS from its start, an ISO date-time or ns since the epoch.",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", type=Path, help="recording file(s)")
    p.add_argument("--format", choices=FORMATS, help="file format (default: detected)")
    p.add_argument("--speed", default="1", help="1, 10, 100, any positive number or max")
    p.add_argument("--start", metavar="TIME", help="start playing at TIME")
    p.add_argument("--end", metavar="TIME", help="stop the recording at TIME")
    p.add_argument("--symbol", action="append", default=[], metavar="NAME",
                   help="replay only this symbol (repeatable)")  # fmt: skip
    p.add_argument("--paused", action="store_true", help="start paused")
    p.add_argument("--checkpoint-every", type=int, default=2000, metavar="STEPS",
                   help="engine checkpoint interval for seeking (default 2000)")  # fmt: skip
    add_server_options(p, simulator=False)
    p.set_defaults(func=cmd_replay)
    serve = sub.choices.get("serve")
    if serve is not None:
        serve.add_argument("--record", type=Path, metavar="FILE",
                           help="also write every command to FILE, a tickwire recording")  # fmt: skip


class UsageError(Exception):
    """A bad option value: printed as one line, exit status 2."""


@dataclass
class Prepared:
    settings: Any
    driver: Any
    node: Any
    tempdir: tempfile.TemporaryDirectory[str] | None


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """``update(label, done, total)`` drawing a rich progress bar on a terminal."""
    if not enabled:
        yield lambda label, done, total: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<10}"), BarColumn(), TaskProgressColumn(), transient=False
    ) as bar:

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=max(total, 1))
            bar.update(tasks[label], completed=done, total=max(total, 1))

        yield update


def prepare(args: argparse.Namespace, *, show_progress: bool | None = None) -> Prepared:
    """Load, cut and index the recording and build the node; raises ``ReplayError`` for a bad
    file and ``UsageError`` for a bad option."""
    from exchange.options import settings_from_args
    from exchange.replay.driver import ReplayDriver
    from exchange.replay.index import select
    from exchange.replay.load import load_replays
    from exchange.replay.player import parse_speed
    from exchange.replay.times import format_time, parse_time

    try:
        speed = parse_speed(args.speed)
    except ValueError as exc:
        raise UsageError(f"--speed: {exc}") from None
    if args.checkpoint_every < 1:
        raise UsageError("--checkpoint-every must be at least 1")
    settings = settings_from_args(args)
    tempdir: tempfile.TemporaryDirectory[str] | None = None
    if args.data_dir is None:
        tempdir = tempfile.TemporaryDirectory(prefix="tickwire-replay-")
        settings = settings.replace(data_dir=Path(tempdir.name))
    else:
        journal = Path(args.data_dir) / "journal"
        if journal.is_dir() and any(journal.iterdir()):
            raise UsageError(
                f"--data-dir {args.data_dir} holds an earlier session; give an empty one "
                "(or none: a temporary directory is used)"
            )
    try:
        show = sys.stderr.isatty() if show_progress is None else show_progress
        with _progress(show) as update:
            source = load_replays(
                args.sources, args.format, progress=lambda d, t: update("loading", d, t)
            )
            ref = source.start_ns or 0
            try:
                end = None if args.end is None else parse_time(args.end, ref)
                start = None if args.start is None else parse_time(args.start, ref)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            symbols = [*args.symbol, *settings.symbols]
            source = select(source, symbols=symbols, end_ns=end)
            if not source.steps:
                raise UsageError("nothing to replay: no message of the recording is selected")
            first, last = source.steps[0].ts, source.steps[-1].ts
            if start is not None and start > last:
                raise UsageError(
                    f"--start {args.start} is after the end of the recording, which runs "
                    f"{format_time(first)} .. {format_time(last)}"
                )
            driver = ReplayDriver(
                source, speed=speed, start_ns=start, checkpoint_every=args.checkpoint_every
            )
            chosen = [n for n in ("fsync",) if getattr(args, n, None) is not None]
            settings = driver.settings_for(settings, chosen)
            driver.build_index(settings, progress=lambda d, t: update("indexing", d, t))
        if args.paused:
            driver.player.pause()
        node = driver.build_node(settings)
    except BaseException:
        if tempdir is not None:  # a refused replay leaves no temporary directory behind
            tempdir.cleanup()
        raise
    return Prepared(settings, driver, node, tempdir)


def cmd_replay(args: argparse.Namespace) -> int:
    from exchange.gateway.app import create_app
    from exchange.gateway.server import build_server
    from exchange.options import configure_logging, exit_quietly_after_shutdown
    from exchange.replay.errors import ReplayError
    from exchange.replay.times import format_time

    try:
        prep = prepare(args)
    except (ReplayError, UsageError) as exc:
        print(f"tickwire replay: error: {exc}", file=sys.stderr)
        return 2
    try:
        settings, driver = prep.settings, prep.driver
        configure_logging(settings.log_level)
        src = driver.source
        app = create_app(settings, prep.node)
        server = build_server(app, settings)
        scheme = "https" if settings.tls_cert else "http"
        base = f"{scheme}://{settings.host}:{settings.port}"
        print(
            f"tickwire replaying {len(src.steps)} messages of {', '.join(s.symbol for s in src.symbols)}"
            f" ({src.format}) from {format_time(src.start_ns or 0)} to {format_time(src.end_ns or 0)}"
            f" at speed {args.speed}\n"
            f"  browser UI : {base}/\n"
            f"  controls   : {base}/api/replay (GET status, POST pause|resume|speed|seek)\n"
            f"  data dir   : {Path(settings.data_dir).resolve()}"
            f"{' (temporary)' if prep.tempdir else ''}\n"
            "  Ctrl-C stops",
            flush=True,
        )
        exit_quietly_after_shutdown()
        server.run()
    finally:  # also when building the app or the server failed
        if prep.tempdir is not None:
            prep.tempdir.cleanup()
    return 0
