"""Ticker staleness: how old the newest ticker a client holds is, sampled over time.

Exports: ``TickerArrival``, ``TickerLog``, ``parse_ticker``, ``sample_times``,
``staleness_samples``, ``floor_samples``, ``excess_samples``, ``delivered``, ``staleness_report``,
``SAMPLE_STEP_NS``.

A ticker is a latest-value message: each one is self-contained and supersedes the previous
one for its symbol. The fair measure of a ticker stream is therefore not the latency of the
messages that arrived (a channel that drops messages would hide its losses) but
**staleness**: at time ``t``, ``t - ts`` of the newest ticker (largest ``ts``) the client has
received by ``t`` for that symbol. An unordered channel may deliver an older ticker after a
newer one; the client keeps the newest, so a late old ticker never makes it staler.

Sampling is done afterwards from the recorded arrivals, at fixed instants every
``SAMPLE_STEP_NS`` (10 ms) per symbol per client: the same figures as a 10 ms timer in the
client, without the timer's cost or its jitter on a loaded machine. ``floor_samples`` gives
the staleness of an ideal client (zero latency, nothing lost) at the same instants: the
feed's own spacing between tickers, which no transport can beat; ``excess_samples`` the
difference at each instant (what the transport added).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from exchange.lab.stats import latency_summary

__all__ = [
    "SAMPLE_STEP_NS",
    "TickerArrival",
    "TickerLog",
    "delivered",
    "excess_samples",
    "floor_samples",
    "parse_ticker",
    "sample_times",
    "staleness_report",
    "staleness_samples",
]

SAMPLE_STEP_NS = 10_000_000


class TickerArrival(NamedTuple):
    """One ticker as a client received it: receipt time, symbol, the ticker's ``ts``, id."""

    recv_ns: int
    symbol: str
    ts: int
    event_id: str


@dataclass
class TickerLog:
    """Every ticker one client received, in receipt order (appended as they arrive)."""

    arrivals: list[TickerArrival] = field(default_factory=list)

    def add(self, recv_ns: int, data: bytes, event_id: str) -> None:
        parsed = parse_ticker(data)
        if parsed is not None:
            self.arrivals.append(TickerArrival(recv_ns, parsed[0], parsed[1], event_id))


def parse_ticker(data: bytes) -> tuple[str, int] | None:
    """``(symbol, ts)`` of a ticker payload or of a message wrapping one (a byte scan: the
    first ``"symbol":"`` and ``"ts":`` in it); None when either is missing."""
    i = data.find(b'"symbol":"')
    j = data.find(b'"ts":')
    if i < 0 or j < 0:
        return None
    i += 10
    end = data.find(b'"', i)
    k = j + 5
    stop = k
    while stop < len(data) and 48 <= data[stop] <= 57:
        stop += 1
    if end < 0 or stop == k:
        return None
    return data[i:end].decode(), int(data[k:stop])


def sample_times(start_ns: int, end_ns: int, step_ns: int = SAMPLE_STEP_NS) -> list[int]:
    """The sampling instants ``start, start + step, ...`` strictly before ``end``."""
    return list(range(start_ns, end_ns, step_ns))


def staleness_samples(
    arrivals: Sequence[TickerArrival], times: Sequence[int], symbols: Iterable[str]
) -> tuple[list[int], int]:
    """Staleness (ns) of one client at each of ``times`` for each of ``symbols``, and the
    number of (time, symbol) samples at which it held no ticker for the symbol yet (those
    give no staleness value; a warm client has none).

    ``arrivals`` must be in receipt order; ``times`` ascending."""
    out: list[int] = []
    unheld = 0
    for symbol in symbols:
        mine = [a for a in arrivals if a.symbol == symbol]
        newest = -1
        k = 0
        for t in times:
            while k < len(mine) and mine[k].recv_ns <= t:
                newest = max(newest, mine[k].ts)
                k += 1
            if newest < 0:
                unheld += 1
            else:
                out.append(t - newest)
    return out, unheld


def floor_samples(published: Mapping[str, Sequence[int]], times: Sequence[int]) -> list[int]:
    """The staleness of an ideal client that holds every ticker the instant it is stamped:
    ``t - max(ts <= t)`` per symbol, for symbols with a ticker before ``t``. ``published``
    maps each symbol to its tickers' ``ts`` (any order)."""
    out: list[int] = []
    for stamps in published.values():
        ordered = sorted(stamps)
        for t in times:
            i = bisect.bisect_right(ordered, t)
            if i:
                out.append(t - ordered[i - 1])
    return out


def excess_samples(
    arrivals: Sequence[TickerArrival], times: Sequence[int], published: Mapping[str, Sequence[int]]
) -> list[int]:
    """Staleness beyond the floor (ns), at each of ``times`` for each symbol of ``published``
    the client holds: ``newest ts published by t - newest ts held at t``. Zero while the
    client holds the newest ticker; this is the transport's own share of the staleness."""
    out: list[int] = []
    for symbol, stamps in published.items():
        ordered = sorted(stamps)
        mine = [a for a in arrivals if a.symbol == symbol]
        newest = -1
        k = 0
        for t in times:
            while k < len(mine) and mine[k].recv_ns <= t:
                newest = max(newest, mine[k].ts)
                k += 1
            i = bisect.bisect_right(ordered, t)
            if newest >= 0 and i:
                out.append(max(0, ordered[i - 1] - newest))
    return out


def _offset(event_id: str) -> int:
    try:
        return int(event_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def delivered(arrivals: Sequence[TickerArrival], published_ids: set[str]) -> int:
    """How many of ``published_ids`` this client received (each counted once)."""
    return len({a.event_id for a in arrivals} & published_ids)


def staleness_report(
    logs: dict[str, list[TickerLog]], start_ns: int, end_ns: int, step_ns: int = SAMPLE_STEP_NS
) -> dict[str, object]:
    """Staleness and delivered fraction per transport over the window ``[start, end)``.

    ``logs`` maps each transport to its clients' logs, all fed by the same live feed. The
    tickers published in the window are taken as every distinct ticker id that any client of
    any transport received with ``ts`` in the window (a reliable transport receives them all,
    so include one). ``delivered_fraction`` = tickers of that set received, summed over the
    transport's clients / (set size x clients); ``delivered_latest_fraction`` the same over
    only the last ticker of each (symbol, ts) (those published together with a newer one of
    the same symbol are superseded at once by a latest-value sender). Returns ``{"published": n, "floor": summary,
    "<transport>": {"staleness": summary, "excess": summary, "delivered_fraction", "unheld_samples",
    "clients"}}``, summaries in the shape of ``latency_summary``."""
    times = sample_times(start_ns, end_ns, step_ns)
    published_ids: set[str] = set()
    stamps: dict[str, dict[str, int]] = {}
    # (symbol, ts) -> the last id published with that stamp: tickers published together (one
    # batch, one ts) supersede each other at once, and a latest-value sender may send only it
    newest: dict[tuple[str, int], str] = {}
    for client_logs in logs.values():
        for log in client_logs:
            for a in log.arrivals:
                stamps.setdefault(a.symbol, {})[a.event_id] = a.ts
                if start_ns <= a.ts < end_ns:
                    published_ids.add(a.event_id)
                    key = (a.symbol, a.ts)
                    if _offset(a.event_id) > _offset(newest.get(key, "")):
                        newest[key] = a.event_id
    latest_ids = set(newest.values())
    symbols = sorted(stamps)
    published = {s: list(v.values()) for s, v in stamps.items()}
    out: dict[str, object] = {
        "published": len(published_ids),
        "sample_step_ms": step_ns / 1e6,
        "floor": latency_summary(floor_samples(published, times)),
    }
    for transport, client_logs in logs.items():
        samples: list[int] = []
        excess: list[int] = []
        unheld = got = got_latest = 0
        for log in client_logs:
            values, missing = staleness_samples(log.arrivals, times, symbols)
            samples += values
            excess += excess_samples(log.arrivals, times, published)
            unheld += missing
            got += delivered(log.arrivals, published_ids)
            got_latest += delivered(log.arrivals, latest_ids)
        want = len(published_ids) * len(client_logs)
        want_latest = len(latest_ids) * len(client_logs)
        out[transport] = {
            "staleness": latency_summary(samples),
            "excess": latency_summary(excess),
            "delivered_fraction": round(got / want, 5) if want else 0.0,
            "delivered_latest_fraction": round(got_latest / want_latest, 5) if want_latest else 0.0,
            "unheld_samples": unheld,
            "clients": len(client_logs),
        }
    return out
