"""``python -m exchange.compiled build | rebuild | clean | status``."""

from __future__ import annotations

import argparse
import sys

from exchange.compiled import build, build_problem, clean, engine_build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exchange.compiled", description="The mypyc-compiled engine."
    )
    parser.add_argument(
        "action",
        choices=["build", "rebuild", "clean", "status"],
        help="build (when stale), rebuild (always), clean (remove it), status (what imports)",
    )
    args = parser.parse_args(argv)
    if args.action in ("build", "rebuild"):
        return build(force=args.action == "rebuild")
    if args.action == "clean":
        clean()
        return 0
    print(engine_build())
    problem = build_problem()
    if problem is not None:
        print(f"build: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
