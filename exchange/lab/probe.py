"""One lab run against one server under one network condition: every measurement, as a dict.

Exports: ``ProbeConfig``, ``run_probe``, ``main`` (``python -m exchange.lab.probe``, which
prints JSON lines: ``{"progress": phase, "done": k, "of": n}`` then ``{"result": {...}}``;
the lab runs it inside the client network namespace).

Phases (all clients subscribe to every symbol and channel of the same live feed):

* ``idle``: server CPU with no client (the feed's own cost, subtracted below);
* ``race``: N clients per transport at once; latency, bytes up/down per event;
* ``solo``: N clients of one transport alone (ws, ws-deflate, sse, poll): server CPU per
  1,000 clients, RSS per connection, bytes per event; SSE's stream also gzip-estimated;
* ``connect``: time from TCP connect to the first event and to the first live event;
* ``reconnect``: drop a client, stay away ``outage_s``, reconnect with and without resume
  (SSE ``Last-Event-ID``, WS ``subscribe`` ``after``, poll ``cursor``): time to the first
  event, events lost against a reference client that never dropped;
* ``conflation``: a slow SSE reader (reads 10 ms in every 100 ms) with and without
  ``conflate=100ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from exchange.lab.staleness import TickerLog, staleness_report
from exchange.lab.stats import latency_summary, median
from exchange.lab.wire import Meter, MeteredClient, event_offset, open_client

__all__ = ["ProbeConfig", "main", "run_probe"]

RACE = ("ws", "sse", "poll")
SOLO = ("ws", "ws-deflate", "sse", "poll")
TICKER_TAIL_S = 1.0


@dataclass(frozen=True)
class ProbeConfig:
    url: str
    server_pid: int
    clients: int = 10
    rate: float = 200.0
    duration: float = 5.0
    outage_s: float = 0.25
    connects: int = 5


Progress = Callable[[str], None]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (``/proc/<pid>/stat``); 0 when unknown (pid 0)."""
    if pid <= 0:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_seconds(pid: int) -> float:
    """Seconds ``pid``'s threads spent runnable but waiting for a CPU (``schedstat``)."""
    if pid <= 0:
        return 0.0
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def rss_bytes(pid: int) -> int:
    if pid <= 0:
        return 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _wait_first(clients: list[MeteredClient], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(not c.first_live_ns for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def _open_many(cfg: ProbeConfig, transport: str, n: int, meter: Meter) -> list[MeteredClient]:
    return list(await asyncio.gather(*(open_client(cfg.url, transport, meter) for _ in range(n))))


def _close(clients: list[MeteredClient]) -> None:
    for c in clients:
        c.abort()


def _per_event(meter: Meter) -> dict[str, object]:
    ev = max(1, meter.events)
    return {
        "events": meter.events,
        "bytes_up": meter.up,
        "bytes_down": meter.down,
        "up_per_event": round(meter.up / ev, 2),
        "down_per_event": round(meter.down / ev, 2),
        "latency": latency_summary(meter.latencies_ns),
    }


async def _idle(cfg: ProbeConfig, seconds: float) -> float:
    c0, t0 = cpu_seconds(cfg.server_pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(cfg.server_pid) - c0) / (time.monotonic() - t0)


async def _race(cfg: ProbeConfig) -> dict[str, object]:
    meters = {t: Meter(counting=False) for t in RACE}
    clients = {t: await _open_many(cfg, t, cfg.clients, meters[t]) for t in RACE}
    everyone = [c for cs in clients.values() for c in cs]
    logs: dict[str, list[TickerLog]] = {t: [] for t in RACE}
    for t, cs in clients.items():
        for c in cs:
            c.ticker_log = TickerLog()
            logs[t].append(c.ticker_log)
    try:
        await _wait_first(everyone)
        await asyncio.sleep(0.3)  # past the snapshots and the replayed backlog
        for m in meters.values():
            m.reset()
            m.counting = True
        c0, t0, p0 = cpu_seconds(cfg.server_pid), time.monotonic(), time.process_time()
        w0, t0_ns = wait_seconds(cfg.server_pid), time.time_ns()
        await asyncio.sleep(cfg.duration)
        for m in meters.values():
            m.counting = False
        t1_ns = time.time_ns()
        wall = time.monotonic() - t0
        cpu = (cpu_seconds(cfg.server_pid) - c0) / wall
        wait = (wait_seconds(cfg.server_pid) - w0) / wall
        probe_cpu = (time.process_time() - p0) / wall
        # tickers stamped late in the window may still be in flight (a retransmission): let
        # them land before counting what was delivered
        await asyncio.sleep(TICKER_TAIL_S)
    finally:
        _close(everyone)
    out: dict[str, object] = {
        "server_cpu_cores": round(cpu, 4),
        "wall_s": round(wall, 3),
        # near 1.0 the clients themselves queue events: latency is then the client's, not the wire's
        "probe_cpu_cores": round(probe_cpu, 4),
        # time the server was runnable but had no CPU (other work on the machine)
        "server_cpu_wait_frac": round(wait, 4),
    }
    tickers = staleness_report(logs, t0_ns, t1_ns)
    for t in RACE:
        row = _per_event(meters[t])
        row["events_per_client_s"] = round(meters[t].events / cfg.clients / wall, 2)
        row["ticker"] = tickers[t]
        out[t] = row
    out["ticker_floor"] = tickers["floor"]
    out["tickers_published"] = tickers["published"]
    return out


def _gzip_estimate(chunks: list[bytes], events: int) -> dict[str, object]:
    """What ``Content-Encoding: gzip`` with a flush per write would put on the wire."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    plain = packed = 0
    t0 = time.process_time()
    for chunk in chunks:
        plain += len(chunk)
        packed += len(comp.compress(chunk)) + len(comp.flush(zlib.Z_SYNC_FLUSH))
    cpu = time.process_time() - t0
    ev = max(1, events)
    return {
        "payload_per_event": round(plain / ev, 2),
        "gzip_payload_per_event": round(packed / ev, 2),
        "gzip_cpu_us_per_event": round(cpu / ev * 1e6, 3),
        "note": "estimated client-side: the server offers no gzip on SSE",
    }


async def _solo(cfg: ProbeConfig, transport: str, idle_cpu: float, seconds: float) -> dict:
    meter = Meter(counting=False)
    rss0 = rss_bytes(cfg.server_pid)
    clients = await _open_many(cfg, transport, cfg.clients, meter)
    keep = transport == "sse"
    try:
        await _wait_first(clients)
        await asyncio.sleep(0.3)
        for c in clients:
            if keep:
                c.keep_payload = True  # type: ignore[attr-defined]
        meter.reset()
        meter.counting = True
        c0, t0, p0 = cpu_seconds(cfg.server_pid), time.monotonic(), time.process_time()
        w0 = wait_seconds(cfg.server_pid)
        await asyncio.sleep(seconds)
        meter.counting = False
        wall = time.monotonic() - t0
        probe_cpu = (time.process_time() - p0) / wall
        cpu = (cpu_seconds(cfg.server_pid) - c0) / wall
        wait = (wait_seconds(cfg.server_pid) - w0) / wall
        rss1 = rss_bytes(cfg.server_pid)
        deflate = [getattr(c, "deflate_agreed", False) for c in clients]
    finally:
        _close(clients)
    row = _per_event(meter)
    row["server_cpu_cores"] = round(cpu, 4)
    row["probe_cpu_cores"] = round(probe_cpu, 4)
    row["server_cpu_wait_frac"] = round(wait, 4)
    row["cpu_cores_per_1000_clients"] = round(max(0.0, cpu - idle_cpu) / cfg.clients * 1000, 4)
    row["cpu_us_per_event_delivered"] = round(
        max(0.0, cpu - idle_cpu) * wall / max(1, meter.events) * 1e6, 3
    )
    row["rss_bytes_per_connection"] = max(0, (rss1 - rss0) // cfg.clients)
    if transport.startswith("ws"):
        row["deflate_agreed"] = all(deflate)
    if keep:
        chunks = [ch for c in clients for ch in getattr(c, "payload_chunks", [])]
        row["gzip_estimate"] = _gzip_estimate(chunks, meter.events)
    await asyncio.sleep(0.2)
    return row


async def _connect(cfg: ProbeConfig, transport: str) -> dict[str, object]:
    first: list[float] = []
    live: list[float] = []
    for _ in range(cfg.connects):
        c = await open_client(cfg.url, transport, Meter(counting=False))
        try:
            await _wait_first([c], 5.0)
            if c.first_event_ns:
                first.append((c.first_event_ns - c.started_ns) / 1e6)
            if c.first_live_ns:
                live.append((c.first_live_ns - c.started_ns) / 1e6)
        finally:
            c.abort()
    return {
        "first_event_ms": round(median(first), 3),
        "first_live_event_ms": round(median(live), 3),
        "samples": len(first),
    }


async def _reconnect(cfg: ProbeConfig, transport: str, resume: bool) -> dict[str, object]:
    ref = await open_client(cfg.url, "sse", Meter(counting=False), record_ids=True)
    client = await open_client(cfg.url, transport, Meter(counting=False))
    again: MeteredClient | None = None
    try:
        await _wait_first([ref, client])
        await asyncio.sleep(0.3)
        last = client.last_id or ""
        client.abort()
        await asyncio.sleep(cfg.outage_s)
        t0 = time.time_ns()
        at_reconnect = event_offset(ref.last_id or "")
        again = await open_client(
            cfg.url,
            transport,
            Meter(counting=False),
            resume=last if resume else None,
            record_ids=True,
        )
        await _wait_first([again], 5.0)
        await asyncio.sleep(0.3)
        got = set(again.received_ids)
        top = max((event_offset(i) for i in got), default=-1)
        lo = event_offset(last)
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


async def _conflation(cfg: ProbeConfig, seconds: float) -> dict[str, object]:
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
            await _wait_first([c])
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
            row = _per_event(meter)
            row["events_per_s"] = round(meter.events / wall, 2)
            row["bytes_down_per_s"] = round(meter.down / wall, 1)
            row["disconnected"] = c.closed.done()
            out[label] = row
        finally:
            c.abort()
    return out


async def run_probe(cfg: ProbeConfig, progress: Progress | None = None) -> dict[str, object]:
    """Run every phase; ``progress(phase)`` is called as each starts. Takes about
    ``duration * 3.5 + 6 * outage + 8`` seconds."""
    say = progress or (lambda _phase: None)
    solo_s = max(0.5, cfg.duration / 2)
    say("idle")
    idle = await _idle(cfg, solo_s)
    say("race")
    result: dict[str, object] = {"config": asdict(cfg), "idle_server_cpu_cores": round(idle, 4)}
    result["race"] = await _race(cfg)
    solo: dict[str, object] = {}
    for t in SOLO:
        say(f"solo {t}")
        solo[t] = await _solo(cfg, t, idle, solo_s)
    result["solo"] = solo
    say("connect")
    result["connect"] = {t: await _connect(cfg, t) for t in RACE}
    reconnect: dict[str, object] = {}
    for t in RACE:
        say(f"reconnect {t}")
        reconnect[t] = {
            "resume": await _reconnect(cfg, t, True),
            "fresh": await _reconnect(cfg, t, False),
        }
    result["reconnect"] = reconnect
    say("conflation")
    result["conflation"] = await _conflation(cfg, solo_s)
    return result


def _wait_ready(url: str, timeout: float) -> None:
    """Poll ``/healthz`` until the server answers (it may be starting in another namespace)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"no server answers at {url}")
        time.sleep(0.1)


PHASES = 1 + 1 + len(SOLO) + 1 + len(RACE) + 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one tickwire lab probe (JSON lines on stdout)")
    p.add_argument("--url", required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--outage", type=float, default=0.25)
    p.add_argument("--connects", type=int, default=5)
    a = p.parse_args(argv)
    cfg = ProbeConfig(a.url, a.server_pid, a.clients, a.rate, a.duration, a.outage, a.connects)

    _wait_ready(cfg.url, 90.0)

    def say(phase: str) -> None:
        sys.stdout.write(orjson.dumps({"progress": phase}).decode() + "\n")
        sys.stdout.flush()

    import uvloop

    # a bound on the whole run, so a stuck phase cannot hang the lab
    limit = 60 + cfg.duration * 10 + cfg.outage_s * 12
    result = uvloop.run(asyncio.wait_for(run_probe(cfg, say), limit))
    sys.stdout.write(orjson.dumps({"result": result}).decode() + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
