"""Fault drills: faults injected into the client's own connections, and what the protocol
does about them, step by step, with an outcome checked against the server (issue 21).

Exports ``Drill``, ``DRILLS`` (in screen order), ``DRILLS_BY_NAME``, ``DrillContext`` and
``run_drill``.

Contract: :func:`run_drill` starts the context's timeline, runs one drill on the app's own
``Connection`` and returns its ``Outcome`` (also set on the timeline); it never raises for
a drill that fails, and it disarms every client-side fault however the drill ended.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from client_tui.drills import market, orders
from client_tui.drills.base import DrillContext, DrillError, DrillNotRun
from client_tui.model.timeline import CLIENT, Outcome

__all__ = ["DRILLS", "DRILLS_BY_NAME", "Drill", "DrillContext", "run_drill"]


@dataclass(frozen=True, slots=True)
class Drill:
    """One entry of the switchboard."""

    name: str
    title: str
    group: str
    run: Callable[[DrillContext], Awaitable[Outcome]]
    about: str


DRILLS: tuple[Drill, ...] = (
    Drill("drop_before_send", "Drop the order socket before the order is sent", "orders",
          orders.drop_before_send, "the order waits, goes out after the resume with its key"),
    Drill("drop_after_send", "Drop it after sending, before the ack", "orders",
          orders.drop_after_send, "the resume says it traded; a resend by key is a duplicate"),
    Drill("drop_after_fill", "Drop it right after a fill", "orders", orders.drop_after_fill,
          "the resume does not apply the fill twice"),
    Drill("no_key", "Resend WITHOUT idempotency key (demo account)", "orders", orders.no_key,
          "a throwaway account: the one intended order trades twice"),
    Drill("ack_lost_fill", "Ack lost after fill (server hook)", "orders",
          orders.ack_lost_fill, "exec_seq gap, executions.resume replays the ack"),
    Drill("ack_lost_resting", "Ack lost, order resting (ack timeout)", "orders",
          orders.ack_lost_resting, "no answer: retried with the same key, duplicate:true"),
    Drill("md_drop", "Drop the market-data stream", "market", market.md_drop,
          "resumes from its last id: 0 lost, checked against /md/poll"),
    Drill("md_delay", "Delay market data", "market", market.md_delay,
          "latency rises by the delay, then comes back"),
    Drill("md_duplicate", "Duplicate a market-data frame", "market", market.md_duplicate,
          "the copy is discarded by its id"),
    Drill("md_corrupt", "Corrupt the book", "market", market.md_corrupt,
          "checksum mismatch, resync from fresh snapshots"),
    Drill("deadman", "Dead-man's switch: cut past the timeout", "deadman", orders.deadman,
          "the server cancels your orders (reason deadman)"),
)  # fmt: skip
DRILLS_BY_NAME = {d.name: d for d in DRILLS}


async def run_drill(drill: Drill, ctx: DrillContext) -> Outcome:
    """Run ``drill`` (see the module docstring)."""
    ctx.timeline.start(drill.title)
    ctx.log(CLIENT, f"{drill.title}: {ctx.conn.account} on {ctx.conn.base_url}, orders in "
                    f"{ctx.symbol}, market data over {ctx.conn.md_transport}")  # fmt: skip
    try:
        outcome = await drill.run(ctx)
    except DrillNotRun as exc:
        outcome = Outcome.not_run(str(exc))
    except DrillError as exc:
        outcome = Outcome.check(False, str(exc))
    except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
        outcome = Outcome.check(False, f"{type(exc).__name__}: {exc}")
    finally:
        faults = ctx.conn.faults
        faults.cut_orders_on = None
        faults.md_duplicate = 0
        faults.md_delay_s = 0.0
        faults.md_delay_base_s = 0.0
    ctx.timeline.finish(outcome)
    return outcome
