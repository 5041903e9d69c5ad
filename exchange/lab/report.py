"""The lab's terminal table and the description of the machine it ran on.

Exports: ``render_table``, ``markdown``, ``condition_title``, ``LEGEND``, ``ticker_markdown``, ``environment``, ``rows``.
"""

from __future__ import annotations

import contextlib
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "LEGEND",
    "condition_title",
    "environment",
    "markdown",
    "render_table",
    "rows",
    "ticker_markdown",
]


def environment() -> dict[str, object]:
    import os

    versions = {}
    for name in ("uvicorn", "websockets", "sse-starlette", "starlette", "uvloop", "httptools"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "versions": versions,
        # a shared machine: other programs' load explains noisy latency
        "loadavg_at_start": Path("/proc/loadavg").read_text().strip(),
    }


def _g(d: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def rows(cond: dict[str, Any]) -> list[list[str]]:
    """One row per transport of one condition, in the table's column order."""
    out = []
    for t in TRANSPORTS:
        if not (_g(cond, "race", t) or _g(cond, "solo", t)):
            continue  # not measured in this run
        race = _g(cond, "race", t) or {}
        solo = _g(cond, "solo", t) or {}
        lat = race.get("latency") or solo.get("latency") or {}
        # bytes per event from the solo phase (one transport alone), as bytes.png shows them:
        # in the race a long poll's request carries more events when the others load the
        # server, so its bytes up per event would depend on who else runs
        sized = solo or race
        base = t.split("-")[0]
        rec = _g(cond, "reconnect", base, "resume") if t == base else None
        fresh = _g(cond, "reconnect", base, "fresh") if t == base else None
        ttfe = _g(cond, "connect", base, "first_event_ms") if t == base else None
        tick = race.get("ticker") or {}
        out.append(
            [
                t + ("" if race else " (solo)"),
                f"{lat.get('p50_ms', 0):.2f}",
                f"{lat.get('p99_ms', 0):.2f}",
                f"{lat.get('p999_ms', 0):.2f}",
                f"{sized.get('down_per_event', 0):.0f}",
                f"{sized.get('up_per_event', 0):.1f}",
                f"{solo.get('cpu_cores_per_1000_clients', 0):.2f}",
                f"{solo.get('rss_bytes_per_connection', 0) / 1024:.0f}",
                "-" if ttfe is None else f"{ttfe:.1f}",
                "-" if rec is None else f"{rec['first_event_ms']:.1f} / {rec['lost_events']}",
                "-" if fresh is None else f"{fresh['first_event_ms']:.1f} / {fresh['lost_events']}",
                f"{_g(tick, 'staleness', 'p50_ms', default=0):.1f}" if tick else "-",
                f"{_g(tick, 'staleness', 'p99_ms', default=0):.1f}" if tick else "-",
                f"{100 * tick.get('delivered_fraction', 0):.1f}" if tick else "-",
            ]
        )
    return out


COLUMNS = (
    "transport",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "B/ev down",
    "B/ev up",
    "cores/1k cl",
    "RSS KiB/conn",
    "1st event ms",
    "resume ms/lost",
    "fresh ms/lost",
    "tick stale p50",
    "tick stale p99",
    "tick deliv %",
)

#: What each column means, printed under the tables (``tickwire lab``) and in the docs.
LEGEND = (
    ("p50/p99/p99.9 ms", "delivery latency in the race (all transports at once): event ts to "
     "client receipt"),
    ("B/ev down, up", "bytes on the socket per event delivered, server to client and client "
     "to server (solo phase: the transport alone)"),
    ("cores/1k cl", "server CPU cores per 1,000 clients of that transport alone, the idle "
     "feed's own CPU subtracted (solo phase)"),
    ("RSS KiB/conn", "server memory per open connection (solo phase)"),
    ("1st event ms", "connect to first event, fresh connections"),
    ("resume ms/lost", "after the server drops the connection: ms to the first event on "
     "the resumed stream / events lost (0 means the resume replayed every one)"),
    ("fresh ms/lost", "the same, reconnecting without a resume position"),
    ("tick stale p50/p99", "age of the newest ticker a client holds, sampled every 10 ms"),
    ("tick deliv %", "share of published tickers that reached the client"),
)  # fmt: skip

#: Row order; ``rtc`` appears only when the run measured it.
TRANSPORTS = ("ws", "ws-deflate", "sse", "sse-gzip", "sse-br", "poll", "rtc")


def render_table(report: dict[str, Any], console: Any) -> None:
    """Print one table per condition, then the conflation and compression notes."""
    from rich.table import Table

    for name, cond in (report.get("conditions") or {}).items():
        table = Table(title=condition_title(name, cond), title_justify="left")
        for col in COLUMNS:
            table.add_column(col, justify="left" if col == "transport" else "right")
        for row in rows(cond):
            table.add_row(*row)
        console.print(table)
        floor = _g(cond, "race", "ticker_floor") or {}
        if floor:
            console.print(
                f"  ticker staleness floor (the feed's own spacing): p50 {floor['p50_ms']:.1f} ms,"
                f" p99 {floor['p99_ms']:.1f} ms; {_g(cond, 'race', 'tickers_published')} tickers"
            )
        rtc = cond.get("rtc_status")
        if rtc and not rtc.get("connected"):
            console.print(f"  rtc: not measured: {rtc.get('reason')}")
        plain = _g(cond, "solo", "sse") or {}
        for coded in ("sse-gzip", "sse-br"):
            lane: dict[str, Any] = _g(cond, "solo", coded) or {}
            if lane and plain:
                console.print(
                    f"  {coded} against sse: {plain.get('down_per_event', 0):.0f} -> "
                    f"{lane.get('down_per_event', 0):.0f} B/event, server CPU "
                    f"{plain.get('cpu_us_per_event_delivered', 0):.1f} -> "
                    f"{lane.get('cpu_us_per_event_delivered', 0):.1f} µs/event delivered, RSS "
                    f"{plain.get('rss_bytes_per_connection', 0) / 1024:.0f} -> "
                    f"{lane.get('rss_bytes_per_connection', 0) / 1024:.0f} KiB/connection"
                )
        for label, row in (cond.get("conflation") or {}).items():
            lat = row["latency"]
            console.print(
                f"  slow SSE reader, {label}: {row['events_per_s']:.0f} events/s, "
                f"{row['bytes_down_per_s'] / 1024:.1f} KiB/s, p50 {lat['p50_ms']:.1f} ms, "
                f"p99 {lat['p99_ms']:.1f} ms, disconnected={row['disconnected']}"
            )
    if report.get("conditions"):
        console.print("columns:")
        for col, meaning in LEGEND:
            console.print(f"  {col}: {meaning}")
    for note in report.get("notes") or []:
        console.print(f"note: {note}")


def condition_title(name: str, cond: dict[str, Any]) -> str:
    """``loss5: delay 0 ms ± 0 ms, loss 5 %; idle server CPU 0.012 cores``."""
    c = cond.get("condition") or {}
    return (
        f"{name}: delay {c.get('delay_ms', 0):g} ms ± {c.get('jitter_ms', 0):g} ms, "
        f"loss {c.get('loss_pct', 0):g} %; idle server CPU "
        f"{cond.get('idle_server_cpu_cores', 0):.3f} cores"
    )


def markdown(report: dict[str, Any]) -> str:
    """The report's tables as Markdown (what ``docs/protocols.md`` carries)."""
    lines: list[str] = []
    for name, cond in (report.get("conditions") or {}).items():
        head, _, rest = condition_title(name, cond).partition(": ")
        lines.append(f"**{head}** ({rest})\n")
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        for row in rows(cond):
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def ticker_markdown(report: dict[str, Any]) -> str:
    """Ticker staleness per condition and transport, both phases, as a Markdown table."""
    lines = [
        "| condition | phase | transport | staleness p50 / p99 / p99.9 / max ms | floor p50 / p99 ms "
        "| delivered % (latest %) | latency p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, cond in (report.get("conditions") or {}).items():
        race = cond.get("race") or {}
        alone = cond.get("tickers") or {}
        for phase, rows, floor in (
            ("tickers", alone, alone.get("floor") or {}),
            ("race", {t: _g(race, t, "ticker") for t in TRANSPORTS}, race.get("ticker_floor") or {}),
        ):  # fmt: skip
            for t in TRANSPORTS:
                tick = rows.get(t)
                if not isinstance(tick, dict) or "staleness" not in tick:
                    continue
                s = tick["staleness"]
                lat = (alone.get(t) if phase == "tickers" else race.get(t)) or {}
                lines.append(
                    f"| {name} | {phase} | {t} | {s['p50_ms']:.0f} / {s['p99_ms']:.0f} / "
                    f"{s['p999_ms']:.0f} / {s['max_ms']:.0f} | {floor.get('p50_ms', 0):.0f} / "
                    f"{floor.get('p99_ms', 0):.0f} | {100 * tick['delivered_fraction']:.1f} "
                    f"({100 * tick.get('delivered_latest_fraction', 0):.1f}) | "
                    f"{_g(lat, 'latency', 'p99_ms', default=0):.0f} |"
                )
    return "\n".join(lines)
