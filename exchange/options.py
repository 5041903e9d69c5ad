"""Options and process set-up shared by every command that runs an exchange.

Exports: ``add_server_options``, ``settings_from_args``, ``preflight``, ``configure_logging``,
``tune_gc``, ``exit_quietly_after_shutdown``, ``answers_health``.

``exchange.cli`` dispatches to ``serve`` and to the commands of ``exchange.replay`` and
``exchange.cluster``; all of them take the same server options from here, so none imports
the command line module back.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from exchange.config import TRANSPORTS, Settings, from_env

__all__ = [
    "add_server_options",
    "answers_health",
    "configure_logging",
    "exit_quietly_after_shutdown",
    "preflight",
    "settings_from_args",
    "tune_gc",
]


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _transports(value: str) -> tuple[str, ...]:
    items = _csv(value)
    bad = [v for v in items if v not in TRANSPORTS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown transport(s) {bad}; choose from {TRANSPORTS}")
    return items


def add_server_options(p: argparse.ArgumentParser, *, simulator: bool = True) -> None:
    """The options every command that runs an exchange takes (serve, replay, engine...);
    ``simulator=False`` leaves out ``--seed`` and ``--sim-rate`` for commands that run no
    simulated market (a replay, a cluster gateway)."""
    g = p.add_argument_group("server")
    g.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    g.add_argument("--port", type=int, help="port (default 8000)")
    g.add_argument(
        "--data-dir", type=Path, help="journal, snapshots, epoch and secret (default ./data)"
    )
    g.add_argument("--symbols", type=_csv, help="comma-separated symbols to trade (default: all)")
    if simulator:
        g.add_argument("--seed", type=int, help="simulator seed (default 7)")
        g.add_argument(
            "--sim-rate", type=float, help="simulator steps per second; 0 disables (default 10)"
        )
    g.add_argument(
        "--fsync", choices=["always", "batch", "off"], help="journal fsync policy (default batch)"
    )
    g.add_argument(
        "--allowed-origins",
        type=_csv,
        help="comma-separated browser origins allowed (default: same host)",
    )
    g.add_argument(
        "--allowed-hosts",
        type=_csv,
        help="comma-separated names clients may use in Host ('*': any; default: the --host "
        "address, localhost, 127.0.0.1, ::1)",
    )
    g.add_argument(
        "--transports",
        type=_transports,
        help="market-data transports offered (default ws,sse,poll,rtc)",
    )
    g.add_argument("--tls-cert", type=Path, help="TLS certificate (PEM) to serve HTTPS/WSS")
    g.add_argument("--tls-key", type=Path, help="TLS private key (PEM)")
    g.add_argument("--http2", action="store_true", default=None,
                   help="serve HTTP/2 over TLS (hypercorn; ALPN h2, then http/1.1): more than "
                   "six SSE streams per browser; without --tls-cert/--tls-key a self-signed "
                   "certificate is made in DATA_DIR/tls/")  # fmt: skip
    g.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="default info"
    )
    g.add_argument("--no-demo-login", "--no-demo", dest="demo_login", action="store_false",
                   default=None, help="only accounts from the config may log in (default: "
                   "demo login, anyone as any account)")  # fmt: skip
    g.add_argument("--per-command-md", dest="market_batches", action="store_false",
                   default=None, help="publish market data after every command (default: "
                   "once per batch: a group commit, or an event-loop turn)")  # fmt: skip
    g.add_argument("--drills", action="store_true", default=None,
                   help="let a connection ask for faults on itself (the fault switchboard's "
                   "withheld ack; demo servers only)")  # fmt: skip
    g.add_argument("--allow-demo-login-remote", action="store_true", default=None,
                   help="keep demo login on a non-loopback --host (refused without this)")  # fmt: skip


def settings_from_args(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """Defaults < ``TICKWIRE_*`` environment < command-line options."""
    settings = from_env(base)
    changes = {}
    for name in (
        "host", "port", "data_dir", "symbols", "seed", "sim_rate", "fsync", "allowed_origins",
        "allowed_hosts",
        "transports", "tls_cert", "tls_key", "log_level", "demo_login",
        "allow_demo_login_remote", "market_batches", "drills", "http2",
    ):  # fmt: skip
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    return settings.replace(**changes) if changes else settings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format='{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}',
    )


def tune_gc() -> None:
    """Fewer, cheaper collections for a long-lived server with many live objects.

    Measured in bench/hub.py: with 10,000 SSE readers the default thresholds made the
    collector the largest single cost (publish 6.4x cheaper with a first threshold of 50,000).
    Objects allocated at start-up (the recovered state) are frozen out of every collection.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


def exit_quietly_after_shutdown() -> None:
    """uvicorn shuts down cleanly on SIGINT/SIGTERM, then re-raises the signal to the
    handler that was installed before it; make that handler end the process with status 0
    (the shutdown already happened) instead of a traceback or a kill."""
    import signal

    def done(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGINT, done)
    signal.signal(signal.SIGTERM, done)


def preflight(settings: Settings) -> None:
    """Check, before anything starts, what would otherwise fail as a traceback deep in the
    start-up: the data directory (creatable, writable, not locked by another server) and the
    port (free). Raises ``ConfigError`` with one line that says what to change."""
    import errno
    import socket

    from exchange.config import ConfigError
    from exchange.journal import Journal, JournalLocked

    data = Path(settings.data_dir)
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"--data-dir {data}: cannot be used ({exc.strerror or exc})") from None
    journal_dir = data / "journal"
    if journal_dir.is_dir():
        try:
            Journal.open(journal_dir).close()  # takes and releases the directory lock
        except JournalLocked:
            raise ConfigError(
                f"--data-dir {data} is in use by another tickwire server (its journal is "
                "locked): stop that one or give another --data-dir"
            ) from None
        except OSError as exc:
            raise ConfigError(f"--data-dir {data}: {exc.strerror or exc}") from None
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.host, settings.port))
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or exc)
            raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {why}") from None


def answers_health(url: str, timeout: float = 1.0, verify: Any = None) -> bool:
    """Whether the tickwire server at ``url`` answers ``GET /healthz`` with 200: how a command
    waits for a server it started (it polls this ten times a second).

    A plain ``http://`` URL makes no TLS context: httpx loads the CA bundle for every client it
    builds, about 30 ms of CPU per probe, taken from the server that is starting. ``verify``:
    what httpx takes (an ``ssl.SSLContext`` for a server with its own certificate).
    """
    import httpx

    try:
        if verify is None:
            verify = not url.startswith("http://")
        r = httpx.get(f"{url}/healthz", timeout=timeout, verify=verify)
    except httpx.HTTPError:
        return False
    return r.status_code == 200
