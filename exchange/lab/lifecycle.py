"""The probe's connection phases and the helpers every phase shares.

Exports: ``ProbeConfig``, ``RACE``, ``wait_first``, ``open_many``, ``close_all``, ``settle``, ``per_event``,
``RtcUnavailable``, ``connect_phase`` (time to first event), ``reconnect_phase`` (drop,
stay away, come back with or without resume: time and lost events), ``conflation_phase``
(a slow SSE reader with and without ``conflate``). ``exchange.lab.probe`` runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from exchange.lab.clients import open_client
from exchange.lab.stats import latency_summary, median
from exchange.lab.wire import Meter, MeteredClient, event_offset

#: The transports raced by default (``rtc`` joins when aiortc is installed).
RACE = ("ws", "sse", "poll")


@dataclass(frozen=True)
class ProbeConfig:
    """What a probe run measures and against which server (``exchange.lab.probe``)."""

    url: str
    server_pid: int
    clients: int = 10
    rate: float = 200.0
    duration: float = 5.0
    outage_s: float = 0.25
    connects: int = 5
    transports: tuple[str, ...] = RACE


__all__ = [
    "RtcUnavailable",
    "close_all",
    "conflation_phase",
    "connect_phase",
    "open_many",
    "per_event",
    "reconnect_phase",
    "settle",
    "wait_first",
]


async def wait_first(clients: list[MeteredClient], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(not c.first_live_ns for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


class RtcUnavailable(Exception):
    """A WebRTC client could not connect (the probe then goes on without rtc)."""


async def open_many(
    url: str, transport: str, n: int, meter: Meter, query: dict[str, str] | None = None
) -> list[MeteredClient]:
    """``n`` clients at once; if any fails, the others are closed and the error raised
    (``RtcUnavailable`` for rtc)."""
    got = await asyncio.gather(
        *(open_client(url, transport, meter, query=query) for _ in range(n)),
        return_exceptions=True,
    )
    ok = [c for c in got if isinstance(c, MeteredClient)]
    failed = [e for e in got if isinstance(e, BaseException)]
    if failed:
        close_all(ok)
        await settle(ok)
        if transport == "rtc":
            raise RtcUnavailable(f"{type(failed[0]).__name__}: {failed[0]}") from failed[0]
        raise failed[0]
    return ok


def close_all(clients: list[MeteredClient]) -> None:
    for c in clients:
        c.abort()


async def settle(clients: list[MeteredClient]) -> None:
    """Wait until aborted WebRTC clients have closed their peer connections."""
    waits = [c.wait_closed() for c in clients if hasattr(c, "wait_closed")]
    if waits:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*waits), 20)


def per_event(meter: Meter, udp: bool = False) -> dict[str, object]:
    """Counts per event; ``udp`` (rtc) adds datagrams and says where bytes were counted."""
    ev = max(1, meter.events)
    out: dict[str, object] = {
        "events": meter.events,
        "bytes_up": meter.up,
        "bytes_down": meter.down,
        "up_per_event": round(meter.up / ev, 2),
        "down_per_event": round(meter.down / ev, 2),
        "latency": latency_summary(meter.latencies_ns),
    }
    if udp:
        out["datagrams_up"] = meter.datagrams_up
        out["datagrams_down"] = meter.datagrams_down
        out["datagrams_down_per_event"] = round(meter.datagrams_down / ev, 3)
        out["bytes_counted"] = (
            "UDP payload at the client's sockets (STUN + DTLS/SCTP); add 28 B of IPv4 + UDP "
            "header per datagram for the wire; the server side is not counted"
        )
    return out


async def connect_phase(cfg: ProbeConfig, transport: str) -> dict[str, object]:
    first: list[float] = []
    live: list[float] = []
    failures = 0
    for _ in range(cfg.connects):
        try:
            c = await open_client(cfg.url, transport, Meter(counting=False))
        except Exception:
            if transport != "rtc":
                raise
            failures += 1  # counted, not fatal: the lab must survive a WebRTC that fails
            continue
        try:
            await wait_first([c], 5.0)
            if c.first_event_ns:
                first.append((c.first_event_ns - c.started_ns) / 1e6)
            if c.first_live_ns:
                live.append((c.first_live_ns - c.started_ns) / 1e6)
        finally:
            c.abort()
            await settle([c])
    out: dict[str, object] = {
        "first_event_ms": round(median(first), 3),
        "first_live_event_ms": round(median(live), 3),
        "samples": len(first),
    }
    if transport == "rtc":
        out["failures"] = failures
    return out


async def reconnect_phase(cfg: ProbeConfig, transport: str, resume: bool) -> dict[str, object]:
    ref = await open_client(cfg.url, "sse", Meter(counting=False), record_ids=True)
    client = await open_client(cfg.url, transport, Meter(counting=False))
    again: MeteredClient | None = None
    try:
        await wait_first([ref, client])
        await asyncio.sleep(0.3)
        last = client.last_id or ""
        client.abort()
        await asyncio.sleep(cfg.outage_s)
        lo = event_offset(last)
        # the outage also lasts until the reference has seen an event the dropped client
        # missed: on a busy machine none may be published, or delivered, within outage_s,
        # and a resume that had nothing to recover would prove nothing
        deadline = time.monotonic() + 5.0
        while event_offset(ref.last_id or "") <= lo and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        t0 = time.time_ns()
        at_reconnect = event_offset(ref.last_id or "")
        again = await open_client(
            cfg.url,
            transport,
            Meter(counting=False),
            resume=last if resume else None,
            record_ids=True,
        )
        await wait_first([again], 5.0)
        await asyncio.sleep(0.3)
        got = set(again.received_ids)
        top = max((event_offset(i) for i in got), default=-1)
        missed = [i for i in ref.received_ids if lo < event_offset(i) <= top and i not in got]
        return {
            "first_event_ms": round((again.first_event_ns - t0) / 1e6, 3)
            if again.first_event_ns
            else -1.0,
            "first_live_event_ms": round((again.first_live_ns - t0) / 1e6, 3)
            if again.first_live_ns
            else -1.0,
            "lost_events": len(missed),
            "events_in_outage": sum(
                1 for i in ref.received_ids if lo < event_offset(i) <= at_reconnect
            ),
            "received_after_reconnect": len(got),
            "replayed_or_snapshots": sum(1 for i in got if event_offset(i) <= at_reconnect),
        }
    finally:
        ref.abort()
        client.abort()
        if again is not None:
            again.abort()


async def conflation_phase(cfg: ProbeConfig, seconds: float) -> dict[str, object]:
    out: dict[str, object] = {}
    for label, query in (("plain", {}), ("conflate_100ms", {"conflate": "100ms"})):
        meter = Meter(counting=False)
        c = await open_client(cfg.url, "sse", meter, query=query)
        stop = asyncio.Event()

        async def throttle(client: MeteredClient = c, stop: asyncio.Event = stop) -> None:
            while not stop.is_set() and client.transport is not None:
                client.transport.pause_reading()
                await asyncio.sleep(0.09)
                client.transport.resume_reading()
                await asyncio.sleep(0.01)

        try:
            await wait_first([c])
            task = asyncio.create_task(throttle())
            await asyncio.sleep(0.3)
            meter.reset()
            meter.counting = True
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            meter.counting = False
            wall = time.monotonic() - t0
            stop.set()
            with contextlib.suppress(Exception):
                await task
            row = per_event(meter)
            row["events_per_s"] = round(meter.events / wall, 2)
            row["bytes_down_per_s"] = round(meter.down / wall, 1)
            row["disconnected"] = c.closed.done()
            out[label] = row
        finally:
            c.abort()
    return out
