"""``python -m bench.cluster_uvloop ARGS``: the ``tickwire`` command line (``exchange.cli``)
with uvloop's event loop policy installed first.

Exports nothing. ``tickwire engine`` runs on ``asyncio.run`` with the default loop (the
gateway runs on uvicorn's uvloop); ``bench.cluster --engine-uvloop`` starts the engine
through this module to measure what uvloop would change there, without editing the engine.
"""

from __future__ import annotations

import asyncio
import sys

import uvloop

from exchange.cli import main

if __name__ == "__main__":
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.exit(main())
