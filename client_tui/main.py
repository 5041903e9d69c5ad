"""Entry points of the terminal client.

Exports ``add_arguments(parser)`` (for the ``tickwire tui`` subcommand), ``run(...)`` and
``main(argv)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal

from client_tui.connection import MD_TRANSPORTS

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the client's options to ``parser`` (``--url``, ``--account``, ...)."""
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="exchange base URL")
    parser.add_argument("--account", default="trader", help="account to log in as")
    parser.add_argument(
        "--md-transport", choices=MD_TRANSPORTS, default="sse", help="market-data transport"
    )
    parser.add_argument(
        "--confirm-notional",
        type=Decimal,
        default=Decimal("10000"),
        help="ask for confirmation above this order notional (0 always asks)",
    )
    parser.add_argument(
        "--default-notional",
        type=Decimal,
        default=Decimal("1000"),
        help="the ticket's default size: the largest preset worth at most this",
    )
    parser.add_argument(
        "--bell",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ring the terminal bell on each fill of your orders (the toast shows either way)",
    )


def run(
    url: str = "http://127.0.0.1:8000",
    account: str = "trader",
    md_transport: str = "sse",
    confirm_notional: Decimal | None = Decimal("10000"),
    default_notional: Decimal = Decimal("1000"),
    bell: bool = True,
) -> None:
    """Run the terminal client until the trader quits."""
    from client_tui.app import TickwireApp  # Textual import only when running

    TickwireApp(
        url,
        account,
        md_transport,
        confirm_notional=confirm_notional,
        default_notional=default_notional,
        bell=bell,
    ).run()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m client_tui [--url ...]``."""
    parser = argparse.ArgumentParser(
        prog="tickwire tui",
        description="tickwire trading terminal",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(
        args.url,
        args.account,
        args.md_transport,
        args.confirm_notional,
        args.default_notional,
        args.bell,
    )
