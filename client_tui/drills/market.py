"""Market-data drills on the client's current transport (SSE, WebSocket or long poll).

Exports ``md_drop``, ``md_delay``, ``md_duplicate`` and ``md_corrupt``, each
``(ctx) -> Outcome`` (see ``client_tui.drills.base``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from client_tui.drills.base import DrillContext, DrillError, DrillNotRun, wait_for
from client_tui.faults import corrupt_best_bid
from client_tui.model.timeline import CLIENT, SERVER, Outcome, lag_median

__all__ = ["md_corrupt", "md_delay", "md_drop", "md_duplicate"]

#: Pages of ``GET /md/poll`` read at most to check a drop against the server's record.
MAX_PAGES = 50


async def _live(ctx: DrillContext) -> None:
    conn = ctx.conn
    try:
        await wait_for(lambda: conn.md_state == "live" and conn.last_event_id,
                       "market data to be live", ctx.wait_s)  # fmt: skip
    except DrillError as exc:
        raise DrillNotRun(str(exc)) from None


def _offset(event_id: str) -> str:
    return event_id.rsplit("-", 1)[-1]


async def server_ids_after(ctx: DrillContext, cursor: str, last_id: str) -> list[str]:
    """Every event id the server holds after ``cursor`` up to ``last_id`` (``/md/poll``)."""
    ids: list[str] = []
    at = cursor
    for _ in range(MAX_PAGES):
        body = await ctx.conn.rest_get("/md/poll", cursor=at, timeout=0)
        for item in body.get("events", []):
            ids.append(str(item["id"]))
            if item["id"] == last_id:
                return ids
        if not body.get("events") or body.get("cursor") in (None, at):
            return ids
        at = str(body["cursor"])
    return ids


async def md_drop(ctx: DrillContext) -> Outcome:
    """Cut the stream; it resumes from its last id. Every event the server holds after the
    cut point must have been delivered, none twice."""
    conn = ctx.conn
    await _live(ctx)
    mode = conn.md_transport
    got: list[str] = []
    stamps: list[int] = []

    def tap(event_id: str | None, _event: str, data: dict[str, Any], duplicate: bool) -> None:
        if duplicate:
            return
        if event_id:
            got.append(event_id)
        ts = data.get("ts")
        if isinstance(ts, int):
            stamps.append(ts)

    cut_id = str(conn.last_event_id)
    resyncs, resets, reconnects = conn.market.resyncs, conn.market.resets, conn.md_reconnects
    conn.md_taps.append(tap)
    try:
        cut_at = time.monotonic()
        await conn.cut_market(ctx.md_hold_s)
        ctx.log(CLIENT, f"cut the {mode} stream at id {cut_id} (held down {ctx.md_hold_s:g} s)")
        await wait_for(lambda: conn.md_reconnects > reconnects and conn.md_state == "live",
                       "the stream to come back", ctx.wait_s + ctx.md_hold_s)  # fmt: skip
        live_ns = time.time_ns()
        how = {"sse": "Last-Event-ID", "ws": "subscribe after", "poll": "cursor"}.get(mode, "id")
        ctx.log(CLIENT, f"{mode} live again after {(time.monotonic() - cut_at) * 1000:.0f} ms, "
                        f"resuming with {how}={cut_id}")  # fmt: skip
        await wait_for(lambda: len(got) >= 5, "events after the reconnect", ctx.wait_s)
        await asyncio.sleep(0.5)
    finally:
        conn.md_taps.remove(tap)
    replayed = sum(1 for ts in stamps if ts < live_ns)
    ctx.log(CLIENT, f"received {len(got)} events after the cut ({replayed} published while "
                    "the stream was down)")  # fmt: skip
    last_id = got[-1]
    server = await server_ids_after(ctx, cut_id, last_id)
    ctx.log(SERVER, f"GET /md/poll?cursor={cut_id}: the server holds {len(server)} events up "
                    f"to {last_id} (offsets {_offset(cut_id)} to {_offset(last_id)})")  # fmt: skip
    seen = set(got)
    lost = [i for i in server if i not in seen]
    doubled = len(got) - len(seen)
    resynced = conn.market.resyncs - resyncs + conn.market.resets - resets
    ok = not lost and not doubled and bool(server) and server[-1] == last_id and not resynced
    return Outcome.check(
        ok,
        f"{mode} resumed from its last id: {replayed} events replayed, {len(lost)} lost, "
        f"{doubled} twice ({len(server)} checked against the server"
        + (f"; {resynced} resync(s)" if resynced else "")
        + ")",
        mode=mode,
        replayed=replayed,
        lost=len(lost),
        doubled=doubled,
        checked=len(server),
    )


async def md_delay(ctx: DrillContext) -> Outcome:
    """Hold every event ``md_delay_s`` behind its event time for ``md_delay_for_s``: the
    latency (event time to client) rises by that much, then comes back."""
    conn = ctx.conn
    await _live(ctx)
    lags: list[tuple[float, float]] = []  # (monotonic, ms)

    def tap(_id: str | None, _event: str, data: dict[str, Any], duplicate: bool) -> None:
        ts = data.get("ts")
        if not duplicate and isinstance(ts, int) and ts > 0:
            lags.append((time.monotonic(), (time.time_ns() - ts) / 1e6))

    def median(since: float, until: float) -> float | None:
        return lag_median(ms for at, ms in lags if since <= at < until)

    def fmt(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f} ms"

    delay, span = ctx.md_delay_s, ctx.md_delay_for_s
    conn.md_taps.append(tap)
    try:
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        start = time.monotonic()
        conn.faults.md_delay_base_s = max(0.0, (median(t0, start) or 0.0) / 1000)
        conn.faults.md_delay_s = delay
        conn.faults.md_delay_until = start + span
        ctx.log(CLIENT, f"delay every {conn.md_transport} event {delay * 1000:.0f} ms for "
                        f"{span:g} s (held in the client, in order)")  # fmt: skip
        end = start + span + delay
        step = max(0.25, span / 6)
        at = start
        while at < end + 1.0:
            await asyncio.sleep(step)
            now = time.monotonic()
            ctx.log(CLIENT, f"latency median (last {step:.2f} s): {fmt(median(at, now))}")
            at = now
    finally:
        conn.faults.md_delay_s = 0.0
        conn.md_taps.remove(tap)
    before, during = median(t0, start), median(start + delay, end)
    after = median(end + 0.2, time.monotonic())
    ctx.log(CLIENT, f"latency median: before {fmt(before)}, delayed {fmt(during)}, after "
                    f"{fmt(after)}")  # fmt: skip
    ok = (before is not None and during is not None and during - before >= delay * 800
          and (after is None or after < during))  # fmt: skip
    return Outcome.check(
        ok,
        f"latency rose from {fmt(before)} to {fmt(during)} while delayed, then {fmt(after)}",
        before=before,
        during=during,
        after=after,
    )


async def md_duplicate(ctx: DrillContext) -> Outcome:
    """Deliver the next event twice: the copy is discarded by its id."""
    conn = ctx.conn
    await _live(ctx)
    dupes: list[str] = []

    def tap(event_id: str | None, event: str, _data: dict[str, Any], duplicate: bool) -> None:
        if duplicate:
            dupes.append(f"{event} id {event_id}")

    before, resyncs = conn.md_duplicates, conn.market.resyncs
    conn.md_taps.append(tap)
    try:
        conn.faults.md_duplicate = 1
        ctx.log(CLIENT, f"deliver the next {conn.md_transport} frame twice")
        await wait_for(lambda: dupes, "the duplicate", ctx.wait_s)
        ctx.log(CLIENT, f"the copy of {dupes[0]} was already delivered: discarded")
        await asyncio.sleep(0.3)
    finally:
        conn.faults.md_duplicate = 0
        conn.md_taps.remove(tap)
    discarded = conn.md_duplicates - before
    in_sync = conn.market.book_ok(ctx.symbol) and conn.market.resyncs == resyncs
    ok = discarded == 1 and in_sync
    return Outcome.check(
        ok,
        f"{discarded} duplicate frame discarded by id; books in sync, "
        f"{conn.market.resyncs - resyncs} resyncs",
        discarded=discarded,
    )


async def md_corrupt(ctx: DrillContext) -> Outcome:
    """Change the best bid in the next book delta: the checksum fails, the client resyncs
    from fresh snapshots, and the checksums match again."""
    conn = ctx.conn
    market = conn.market
    await _live(ctx)
    await wait_for(lambda: any(m.seq is not None and m.best_bid is not None
                               for m in market.symbols.values()),
                   "a synced book with a bid", ctx.wait_s)  # fmt: skip
    corrupted: list[str] = []
    previous = conn.md_filter

    def corrupt(event: str, data: dict[str, Any]) -> dict[str, Any]:
        if corrupted:
            return data
        bad = corrupt_best_bid(market, event, data)
        if bad is None:
            return data
        corrupted.append(str(data["symbol"]))
        wrong = bad["bids"][-1]
        ctx.log(CLIENT, f"corrupt the {data['symbol']} delta seq {data.get('seq')}: best bid "
                        f"{wrong[0]} given qty {wrong[1]} (the server never sent it)")  # fmt: skip
        return bad

    bad_before, resyncs = market.checksum_bad, market.resyncs
    conn.md_filter = corrupt
    try:
        await wait_for(lambda: market.checksum_bad > bad_before, "the checksum mismatch",
                       ctx.wait_s)  # fmt: skip
        sym = corrupted[0]
        ctx.log(CLIENT, f"checksum mismatch on {sym}: the book is thrown away, fresh snapshots "
                        "asked (reconnect without an id)")  # fmt: skip
        await wait_for(lambda: market.resyncs > resyncs and conn.md_state == "live"
                       and market.book_ok(sym), "the resync", ctx.wait_s)  # fmt: skip
    finally:
        conn.md_filter = previous
    m = market.symbols[sym]
    ok_before = market.checksum_ok
    await wait_for(lambda: market.checksum_ok > ok_before or not m.seq, "a checked delta",
                   ctx.wait_s)  # fmt: skip
    matches = m.seq is not None and m.compute_checksum() == m.checksum
    ctx.log(CLIENT, f"{sym} resynced: snapshot seq {m.seq}, checksum "
                    f"{'matches' if matches else 'DIFFERS'} again")  # fmt: skip
    ok = market.resyncs == resyncs + 1 and market.checksum_bad == bad_before + 1 and matches
    return Outcome.check(
        ok,
        f"checksum mismatch on {sym} caught, {market.resyncs - resyncs} resync, book checksum "
        f"{'matches' if matches else 'differs'} again",
        resyncs=market.resyncs - resyncs,
    )
