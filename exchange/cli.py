"""The ``tickwire`` command line: ``serve``, ``tui``, ``bench`` (and more as they land).

Exports: ``main``, ``build_parser``, ``settings_from_args``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exchange.config import ConfigError
from exchange.options import (
    add_server_options,
    answers_health,
    configure_logging,
    exit_quietly_after_shutdown,
    preflight,
    settings_from_args,
    tune_gc,
)

__all__ = ["build_parser", "main", "settings_from_args"]


def cmd_serve(args: argparse.Namespace) -> int:
    from exchange.gateway.app import create_app
    from exchange.gateway.server import build_server

    settings = settings_from_args(args)
    preflight(settings)
    configure_logging(settings.log_level)
    node = None
    if getattr(args, "record", None) is not None:
        from exchange.replay.record import recording_node

        node, _recording = recording_node(settings, record=args.record)
    try:
        app = create_app(settings, node)
    except ValueError as exc:  # e.g. --symbols naming a symbol the exchange does not list
        raise ConfigError(str(exc)) from None
    scheme = "https" if settings.tls_cert or settings.http2 else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    tls_note = ""
    if settings.http2:
        from exchange.gateway.h2server import local_certificate, run_h2

        if settings.tls_cert and settings.tls_key:
            cert, key = settings.tls_cert, settings.tls_key
        else:
            cert, key, fingerprint = local_certificate(settings.data_dir / "tls", settings.host)
            tls_note = (f"  TLS        : self-signed {cert} (sha256 {fingerprint}); the browser "
                        "asks you to accept it once\n")  # fmt: skip
    print(
        f"tickwire serving on {base}{' (HTTP/2 over TLS, hypercorn)' if settings.http2 else ''}\n"
        f"  browser UI : {base}/\n"
        f"  API docs   : {base}/docs\n"
        f"  metrics    : {base}/metrics\n"
        f"  data dir   : {settings.data_dir.resolve()}\n"
        f"{tls_note}"
        "  Ctrl-C stops (journal flushed, sockets closed with 1001)",
        flush=True,
    )
    tune_gc()
    if settings.http2:
        run_h2(app, settings, cert, key)
        return 0
    server = build_server(app, settings)
    exit_quietly_after_shutdown()
    server.run()
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    """Run the terminal client; with ``--start-server``, start a local exchange first when
    nothing answers at ``--url`` (and stop it when the client exits)."""
    import subprocess
    import time
    from urllib.parse import urlsplit

    from client_tui.main import run

    server: subprocess.Popen[bytes] | None = None
    if args.start_server and not answers_health(args.url):
        parts = urlsplit(args.url)
        cmd = [sys.executable, "-m", "exchange.cli", "serve", "--host", parts.hostname or "127.0.0.1",
               "--port", str(parts.port or 8000), "--log-level", "warning"]  # fmt: skip
        log = open(Path(args.server_log), "ab")  # noqa: SIM115 - closed below
        server = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not answers_health(args.url):
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"could not start a local server; see {args.server_log}", file=sys.stderr)
                return 1
            time.sleep(0.1)
    try:
        run(args.url, args.account, args.md_transport, args.confirm_notional,
            args.default_notional, args.bell)  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    return 0


#: ``tickwire bench NAME`` -> the module under bench/ that measures it.
BENCHMARKS = {
    "engine": "matching engine vs pyorderbook and orderly-chaos",
    "journal": "journal append, sync and recovery",
    "hub": "market-data hub publish cost and memory per subscriber",
    "orders": "order round trip vs a websockets echo server",
    "fanout": "SSE fan-out vs a naive sse-starlette server",
}


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``python -m bench.NAME`` from the source tree (benchmarks are not installed)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / f"{args.name}.py").is_file():
        print(f"bench/{args.name}.py not found: run from a source checkout", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", f"bench.{args.name}", *args.bench_args]
    return subprocess.call(cmd, cwd=root)


class _VersionAction(argparse.Action):
    """``--version``: the package version and the engine's build, worked out only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from exchange.compiled import engine_build

        try:
            number = version("tickwire")
        except PackageNotFoundError:  # run from a checkout that is not installed
            number = "unknown"
        print(f"{parser.prog} {number} (engine: {engine_build()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickwire",
        description="A simulated exchange with live trading clients over WebSocket, SSE and long polling.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the version and the engine build (compiled or pure), then exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the exchange with a simulated market",
                           description="Run the exchange (engine, journal, simulator, gateway) in one process.")  # fmt: skip
    add_server_options(serve)
    serve.set_defaults(func=cmd_serve)

    from exchange.replay.subcommand import register as register_replay

    register_replay(sub)  # `replay`, and `serve --record FILE`

    tui = sub.add_parser("tui", help="the terminal trading client",
                         description="Trade from the terminal against a tickwire server.",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    from client_tui.main import add_arguments

    add_arguments(tui)
    tui.add_argument("--start-server", action="store_true",
                     help="start a local exchange first if none answers at --url")  # fmt: skip
    tui.add_argument("--server-log", default="tickwire-server.log",
                     help="where --start-server writes the server's log")  # fmt: skip
    tui.set_defaults(func=cmd_tui)

    bench = sub.add_parser(
        "bench",
        help="run a benchmark (figures are recorded in docs/benchmarks.md)",
        description="Benchmarks: " + "; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items()),
    )
    bench.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="passed on (e.g. --quick)")
    bench.set_defaults(func=cmd_bench)
    from exchange.lab import add_arguments as add_lab_arguments

    add_lab_arguments(
        sub.add_parser(
            "lab",
            help="measure the market-data transports side by side",
            description="The protocol lab: the same feed over WebSocket, SSE, long polling "
            "and WebRTC, measured side by side (latency, ticker staleness, bytes, server CPU, "
            "reconnects) on a clean loopback or emulated lossy links; tables and plots go to "
            "--out (docs/protocols.md explains every column).",
        )
    )
    from exchange.cluster import register as register_cluster

    register_cluster(sub)  # `engine`, `gateway`, `cluster` (scale-out on Redis)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # bad settings: one clear line, not a traceback
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
