"""The ``engine``, ``gateway`` and ``cluster`` subcommands of ``tickwire``.

Exports: ``register``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _cmd_engine(args: argparse.Namespace) -> int:
    from exchange.cluster.sequencer_proc import run_engine
    from exchange.options import configure_logging, settings_from_args

    settings = settings_from_args(args)
    configure_logging(settings.log_level)
    return run_engine(settings, args.redis)


def _cmd_gateway(args: argparse.Namespace) -> int:
    from exchange.cluster.gateway_proc import run_gateway
    from exchange.options import configure_logging, settings_from_args

    settings = settings_from_args(args)
    if args.data_dir is None:  # only meta.json lands there; the real one comes from Redis
        settings = settings.replace(data_dir=Path(tempfile.mkdtemp(prefix="tickwire-gw-")))
    configure_logging(settings.log_level)
    return run_gateway(settings, args.redis)


def _cmd_cluster(args: argparse.Namespace) -> int:
    from exchange.cluster.cluster import run_cluster

    return run_cluster(
        gateways=args.gateways,
        data_dir=args.data_dir,
        port=args.port,
        sim_rate=args.sim_rate,
        log_level=args.log_level,
    )


def register(sub: Any) -> None:
    """Add ``engine``, ``gateway`` and ``cluster`` to the ``tickwire`` subparsers ``sub``."""
    from exchange.options import add_server_options

    engine = sub.add_parser(
        "engine",
        help="run the sequencer (engine + journal) fed from Redis",
        description="The one writer of a Redis cluster: reads tw:cmd, writes tw:seq and tw:md.",
    )
    add_server_options(engine)
    engine.add_argument("--redis", required=True, help="redis://host:port/db")
    engine.set_defaults(func=_cmd_engine)

    gateway = sub.add_parser(
        "gateway",
        help="run a gateway (HTTP, WebSocket, SSE) of a Redis cluster",
        description="A gateway keeping a replica of the engine from tw:seq; run as many as needed.",
    )
    add_server_options(gateway, simulator=False)
    gateway.add_argument("--redis", required=True, help="redis://host:port/db")
    gateway.set_defaults(func=_cmd_gateway)

    cluster = sub.add_parser(
        "cluster",
        help="run redis-server, the engine, N gateways and HAProxy locally",
        description="A local cluster on loopback ports; prints the one URL; Ctrl-C stops all.",
    )
    cluster.add_argument("--gateways", type=int, default=2, help="number of gateways")
    cluster.add_argument("--data-dir", type=Path, default=Path("data-cluster"),
                         help="the engine's data directory (default ./data-cluster)")  # fmt: skip
    cluster.add_argument("--port", type=int, default=0, help="HAProxy's port (default: free)")
    cluster.add_argument("--sim-rate", type=float, default=10.0, help="simulator steps/s")
    cluster.add_argument("--log-level", default="warning",
                         choices=["debug", "info", "warning", "error"])  # fmt: skip
    cluster.set_defaults(func=_cmd_cluster)
