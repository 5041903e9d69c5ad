"""One lab run against one server under one network condition: every measurement, as a dict.

Exports: ``ProbeConfig``, ``run_probe``, ``main`` (``python -m exchange.lab.probe``, which
prints JSON lines ``{"progress": phase}`` and writes the result to ``--result-file``, or
prints it as a last line ``{"result": {...}}`` without one; the lab runs it inside the
client network namespace).

Phases (all clients subscribe to every symbol and channel of the same live feed; ``rtc``
clients get tickers on their unordered ``ticker`` data channel and the rest on ``book``):

* ``rtc_status`` (with rtc): one WebRTC connection tried first; if it fails the run goes on
  without rtc and says why (also if a later rtc connect fails);
* ``idle``: server CPU with no client (the feed's own cost, subtracted below);
* ``race``: N clients per transport at once; latency, bytes up/down per event, and ticker
  staleness and delivered fraction (``exchange.lab.staleness``);
* ``tickers``: N clients per transport on the ``ticker`` channel only (rtc: its unordered
  channel only), staleness and delivered fraction of the ticker stream alone;
* ``solo``: N clients of one transport alone (ws, ws-deflate, sse, sse-gzip, sse-br, poll,
  rtc): server CPU per 1,000 clients and per event delivered, RSS per connection, bytes per
  event (the compressed SSE lanes ask ``Accept-Encoding: gzip`` or ``br``);
* ``connect``: time from TCP connect to the first event and to the first live event;
* ``reconnect``: drop a client, stay away ``outage_s`` (and until the reference client has seen
  an event the dropped one missed), reconnect with and without resume
  (SSE ``Last-Event-ID``, WS ``subscribe`` ``after``, poll ``cursor``): time to the first
  event, events lost against a reference client that never dropped;
* ``conflation``: a slow SSE reader (reads 10 ms in every 100 ms) with and without
  ``conflate=100ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import orjson

from exchange.lab.lifecycle import (
    RACE,
    ProbeConfig,
    RtcUnavailable,
    close_all,
    conflation_phase,
    connect_phase,
    open_many,
    per_event,
    reconnect_phase,
    settle,
    wait_first,
)
from exchange.lab.procstat import cpu_seconds, rss_bytes, wait_seconds
from exchange.lab.staleness import TickerLog, staleness_report
from exchange.lab.wire import Meter, MeteredClient
from exchange.options import answers_health

__all__ = [
    "PHASES",
    "ProbeConfig",
    "RtcUnavailable",
    "idle_cpu",
    "main",
    "phase_count",
    "run_probe",
    "solo_phase",
]

SOLO = ("ws", "ws-deflate", "sse", "sse-gzip", "sse-br", "poll")
#: Transports with a resume to measure (rtc's ticker channel has none by design; its book
#: channel resume is /ws/md's code path, tested in tests/rtc).
RECONNECT = ("ws", "sse", "poll")
TICKER_TAIL_S = 1.0


Progress = Callable[[str], None]


async def idle_cpu(cfg: ProbeConfig, seconds: float) -> float:
    """The server's CPU cores over ``seconds`` with no client of ours (the feed's own cost)."""
    c0, t0 = cpu_seconds(cfg.server_pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(cfg.server_pid) - c0) / (time.monotonic() - t0)


async def _race(cfg: ProbeConfig, race: tuple[str, ...]) -> dict[str, object]:
    meters = {t: Meter(counting=False) for t in race}
    clients: dict[str, list[MeteredClient]] = {}
    try:
        for t in race:
            clients[t] = await open_many(cfg.url, t, cfg.clients, meters[t])
    except BaseException:
        opened = [c for cs in clients.values() for c in cs]
        close_all(opened)
        await settle(opened)
        raise
    everyone = [c for cs in clients.values() for c in cs]
    logs: dict[str, list[TickerLog]] = {t: [] for t in race}
    for t, cs in clients.items():
        for c in cs:
            c.ticker_log = TickerLog()
            logs[t].append(c.ticker_log)
    try:
        await wait_first(everyone)
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
        close_all(everyone)
        await settle(everyone)
    out: dict[str, object] = {
        "server_cpu_cores": round(cpu, 4),
        "wall_s": round(wall, 3),
        # near 1.0 the clients themselves queue events: latency is then the client's, not the wire's
        "probe_cpu_cores": round(probe_cpu, 4),
        # time the server was runnable but had no CPU (other work on the machine)
        "server_cpu_wait_frac": round(wait, 4),
    }
    tickers = staleness_report(logs, t0_ns, t1_ns)
    for t in race:
        row = per_event(meters[t], udp=t == "rtc")
        row["events_per_client_s"] = round(meters[t].events / cfg.clients / wall, 2)
        row["ticker"] = tickers[t]
        out[t] = row
    out["ticker_floor"] = tickers["floor"]
    out["tickers_published"] = tickers["published"]
    return out


async def _tickers(cfg: ProbeConfig, race: tuple[str, ...]) -> dict[str, object]:
    """N clients per transport subscribed to the ``ticker`` channel only (rtc: only its
    unordered ``ticker`` data channel), all at once: staleness and delivered fraction of the
    ticker stream alone, at a small fraction of the race's load."""
    meters = {t: Meter(counting=False) for t in race}
    clients: dict[str, list[MeteredClient]] = {}
    logs: dict[str, list[TickerLog]] = {t: [] for t in race}
    query = {"channels": "ticker"}
    try:
        for t in race:
            clients[t] = await open_many(cfg.url, t, cfg.clients, meters[t], query)
            for c in clients[t]:
                c.ticker_log = TickerLog()
                logs[t].append(c.ticker_log)
        everyone = [c for cs in clients.values() for c in cs]
        await wait_first(everyone)
        await asyncio.sleep(0.3)
        for m in meters.values():
            m.reset()
            m.counting = True
        t0_ns = time.time_ns()
        await asyncio.sleep(cfg.duration)
        t1_ns = time.time_ns()
        for m in meters.values():
            m.counting = False
        await asyncio.sleep(TICKER_TAIL_S)
    finally:
        opened = [c for cs in clients.values() for c in cs]
        close_all(opened)
        await settle(opened)
    report = staleness_report(logs, t0_ns, t1_ns)
    out: dict[str, object] = {"floor": report["floor"], "published": report["published"]}
    for t in race:
        row = per_event(meters[t], udp=t == "rtc")
        tick = report[t]
        assert isinstance(tick, dict)
        row.update(tick)
        out[t] = row
    return out


async def solo_phase(
    cfg: ProbeConfig, transport: str, idle: float, seconds: float, warm_s: float = 0.3
) -> dict:
    """``cfg.clients`` clients of ``transport`` alone, measured for ``seconds`` (longer on a
    starved machine) after ``warm_s`` from their first events; ``idle`` is the server's CPU
    without them (``idle_cpu``), subtracted."""
    meter = Meter(counting=False)
    rss0 = rss_bytes(cfg.server_pid)
    clients = await open_many(cfg.url, transport, cfg.clients, meter)
    try:
        await wait_first(clients)
        await asyncio.sleep(warm_s)
        meter.reset()
        meter.counting = True
        c0, t0, p0 = cpu_seconds(cfg.server_pid), time.monotonic(), time.process_time()
        w0 = wait_seconds(cfg.server_pid)
        await asyncio.sleep(seconds)
        # a starved machine can hold the server for the whole window: measure on until every
        # client could have had an event (at most 5 s more), rather than report nothing
        while meter.events < cfg.clients and time.monotonic() - t0 < seconds + 5:
            await asyncio.sleep(0.05)
        meter.counting = False
        wall = time.monotonic() - t0
        probe_cpu = (time.process_time() - p0) / wall
        cpu = (cpu_seconds(cfg.server_pid) - c0) / wall
        wait = (wait_seconds(cfg.server_pid) - w0) / wall
        rss1 = rss_bytes(cfg.server_pid)
        deflate = [getattr(c, "deflate_agreed", False) for c in clients]
        codings = {getattr(c, "coding_agreed", None) for c in clients}
    finally:
        close_all(clients)
        await settle(clients)
    row = per_event(meter, udp=transport == "rtc")
    row["window_s"] = round(wall, 3)
    row["server_cpu_cores"] = round(cpu, 4)
    row["probe_cpu_cores"] = round(probe_cpu, 4)
    row["server_cpu_wait_frac"] = round(wait, 4)
    row["cpu_cores_per_1000_clients"] = round(max(0.0, cpu - idle) / cfg.clients * 1000, 4)
    row["cpu_us_per_event_delivered"] = round(
        max(0.0, cpu - idle) * wall / max(1, meter.events) * 1e6, 3
    )
    row["rss_bytes_per_connection"] = max(0, (rss1 - rss0) // cfg.clients)
    if transport.startswith("ws"):
        row["deflate_agreed"] = all(deflate)
    if transport.startswith("sse"):
        row["content_encoding"] = codings.pop() if len(codings) == 1 else sorted(map(str, codings))
    await asyncio.sleep(0.2)
    return row


async def run_probe(cfg: ProbeConfig, progress: Progress | None = None) -> dict[str, object]:
    """Run every phase; ``progress(phase)`` is called as each starts. Takes about
    ``duration * 3.5 + 6 * outage + 8`` seconds (rtc adds a solo phase and its connects).

    With ``rtc`` among ``cfg.transports``, one WebRTC connection is tried first; if it (or
    any later one in the race or solo phase) fails, ``rtc_status`` says why and the other
    transports are measured without it."""
    say = progress or (lambda _phase: None)
    solo_s = max(0.5, cfg.duration / 2)
    race = tuple(cfg.transports)
    result: dict[str, object] = {"config": asdict(cfg)}
    if "rtc" in race:
        from exchange.lab.rtcwire import check_rtc

        status = await check_rtc(cfg.url)
        result["rtc_status"] = status
        if not status["connected"]:
            race = tuple(t for t in race if t != "rtc")
    say("idle")
    idle = await idle_cpu(cfg, solo_s)
    result["idle_server_cpu_cores"] = round(idle, 4)
    say("race")
    try:
        result["race"] = await _race(cfg, race)
    except RtcUnavailable as exc:
        result["rtc_status"] = {"connected": False, "reason": f"in the race phase: {exc}"}
        race = tuple(t for t in race if t != "rtc")
        result["race"] = await _race(cfg, race)
    say("tickers")
    try:
        result["tickers"] = await _tickers(cfg, race)
    except RtcUnavailable as exc:
        result["rtc_status"] = {"connected": False, "reason": f"in the tickers phase: {exc}"}
        race = tuple(t for t in race if t != "rtc")
        result["tickers"] = await _tickers(cfg, race)
    solo: dict[str, object] = {}
    for t in SOLO + (("rtc",) if "rtc" in race else ()):
        say(f"solo {t}")
        try:
            solo[t] = await solo_phase(cfg, t, idle, solo_s)
        except RtcUnavailable as exc:
            result["rtc_status"] = {"connected": False, "reason": f"in the solo phase: {exc}"}
    result["solo"] = solo
    say("connect")
    result["connect"] = {t: await connect_phase(cfg, t) for t in race}
    reconnect: dict[str, object] = {}
    for t in RECONNECT:
        say(f"reconnect {t}")
        reconnect[t] = {
            "resume": await reconnect_phase(cfg, t, True),
            "fresh": await reconnect_phase(cfg, t, False),
        }
    result["reconnect"] = reconnect
    say("conflation")
    result["conflation"] = await conflation_phase(cfg, solo_s)
    return result


def _wait_ready(url: str, timeout: float) -> None:
    """Poll ``/healthz`` until the server answers (it may be starting in another namespace)."""
    deadline = time.monotonic() + timeout
    while not answers_health(url):
        if time.monotonic() > deadline:
            raise SystemExit(f"no server answers at {url}")
        time.sleep(0.1)


PHASES = 1 + 1 + 1 + len(SOLO) + 1 + len(RECONNECT) + 1


def phase_count(transports: tuple[str, ...]) -> int:
    """How many ``progress`` calls a probe with these transports makes."""
    return PHASES + (1 if "rtc" in transports else 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one tickwire lab probe (JSON lines on stdout)")
    p.add_argument("--url", required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--outage", type=float, default=0.25)
    p.add_argument("--connects", type=int, default=5)
    p.add_argument("--transports", default=",".join(RACE), help="comma-separated: ws,sse,poll,rtc")
    p.add_argument(
        "--result-file", type=Path, default=None,
        help="write the result here (JSON) instead of as the last line on stdout",
    )  # fmt: skip
    a = p.parse_args(argv)
    transports = tuple(t for t in a.transports.split(",") if t)
    cfg = ProbeConfig(
        a.url, a.server_pid, a.clients, a.rate, a.duration, a.outage, a.connects, transports
    )

    _wait_ready(cfg.url, 90.0)

    def say(phase: str) -> None:
        sys.stdout.write(orjson.dumps({"progress": phase}).decode() + "\n")
        sys.stdout.flush()

    import uvloop

    # a bound on the whole run, so a stuck phase cannot hang the lab
    limit = 60 + cfg.duration * 10 + cfg.outage_s * 12 + (60 if "rtc" in transports else 0)
    result = uvloop.run(asyncio.wait_for(run_probe(cfg, say), limit))
    if a.result_file is None:
        sys.stdout.write(orjson.dumps({"result": result}).decode() + "\n")
        sys.stdout.flush()
    else:
        # a file, not the pipe: a result of many kilobytes is never cut short by a pipe's
        # buffer or a descriptor something in the run left non-blocking; renamed into place
        # so the reader sees all of it or nothing
        tmp = a.result_file.with_name(a.result_file.name + ".part")
        tmp.write_bytes(orjson.dumps(result))
        os.replace(tmp, a.result_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
