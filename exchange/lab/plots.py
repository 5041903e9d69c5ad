"""PNG plots of a lab report (matplotlib, Agg backend: no display needed).

Exports: ``write_plots`` -> the paths written: ``latency.png`` (CDF per transport, one panel
per condition), ``staleness.png`` (ticker staleness CDF per transport and the feed's floor,
one panel per condition), ``bytes.png`` (bytes per event down/up per transport), ``cpu.png`` (server
CPU per 1,000 clients per transport and condition), ``tail.png`` (p99 per condition).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_plots"]

COLORS = {
    "ws": "#1f77b4",
    "ws-deflate": "#17becf",
    "sse": "#2ca02c",
    "sse-gzip": "#98df8a",
    "sse-br": "#bcbd22",
    "poll": "#d62728",
    "rtc": "#9467bd",
}
RACE = ("ws", "sse", "poll", "rtc")
#: Lanes of the solo phase, in the bytes and CPU plots' order (absent ones are left out).
SOLO_LANES = ("ws", "ws-deflate", "sse", "sse-gzip", "sse-br", "poll", "rtc")


def write_plots(report: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds: dict[str, Any] = report.get("conditions") or {}
    names = list(conds)
    paths: list[Path] = []
    opts = report.get("options") or {}
    sub = f"{opts.get('clients')} clients/transport, {opts.get('rate'):g} events/s"

    # latency CDFs
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.2 * max(1, len(names)), 3.4),
                             squeeze=False, dpi=80)  # fmt: skip
    for ax, name in zip(axes[0], names, strict=False):
        for t in RACE:
            cdf = ((conds[name].get("race") or {}).get(t) or {}).get("latency", {}).get("cdf_ms")
            if cdf:
                ax.plot([max(v, 1e-3) for _, v in cdf], [q for q, _ in cdf], label=t,
                        color=COLORS[t])  # fmt: skip
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("event ts -> client receipt (ms)")
        ax.set_ylabel("percentile")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"delivery latency ({sub})")
    fig.tight_layout()
    paths.append(_save(fig, out / "latency.png"))

    paths.append(_staleness(conds, names, sub, out))

    # bytes per event (first condition: bytes do not depend on the link)
    first = conds[names[0]] if names else {}
    labels, down, up = [], [], []
    for t in SOLO_LANES:
        row = (first.get("solo") or {}).get(t) or {}
        if not row:
            continue  # rtc, or a lane an older report did not measure
        labels.append(t)
        down.append(row.get("down_per_event", 0))
        up.append(row.get("up_per_event", 0))
    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=80)
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], down, 0.4, label="down (server -> client)")
    ax.bar([x + 0.2 for x in xs], up, 0.4, label="up (client -> server)")
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("bytes on the socket per event")
    ax.set_title(f"bytes per event, each transport alone\n({sub})", fontsize=10)
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    paths.append(_save(fig, out / "bytes.png"))

    # CPU per 1000 clients and p99 per condition
    for fname, key, ylabel, section in (
        ("cpu.png", "cpu_cores_per_1000_clients", "server CPU cores per 1,000 clients", "solo"),
        ("tail.png", "p99_ms", "p99 latency (ms)", "race"),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=80)
        every = SOLO_LANES if section == "solo" else RACE
        ts: tuple[str, ...] = tuple(t for t in every if any(
            (conds[n].get(section) or {}).get(t) for n in names))  # fmt: skip
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            vals = []
            for t in ts:
                row = (conds[name].get(section) or {}).get(t) or {}
                vals.append(
                    row.get(key, 0) if section == "solo" else row.get("latency", {}).get(key, 0)
                )
            ax.bar(
                [x + i * width - 0.4 + width / 2 for x in range(len(ts))], vals, width, label=name
            )
        ax.set_xticks(list(range(len(ts))), ts)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} ({sub})")
        ax.legend()
        ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        paths.append(_save(fig, out / fname))
    return paths


def _staleness(conds: dict[str, Any], names: list[str], sub: str, out: Path) -> Path:
    """``staleness.png``: ticker staleness CDF per transport, one column per condition; top
    row the ``tickers`` phase (ticker channel alone), bottom row the ``race`` (full feed); the
    feed's own floor (an ideal client) dashed; the legend gives the delivered fraction."""
    import matplotlib.pyplot as plt

    n = max(1, len(names))
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 6.4), squeeze=False, dpi=80)
    for col, name in enumerate(names):
        alone = conds[name].get("tickers") or {}
        race = conds[name].get("race") or {}
        panels = (
            ("tickers only", {t: alone.get(t) for t in RACE}, alone.get("floor")),
            ("full feed (race)", {t: (race.get(t) or {}).get("ticker") for t in RACE},
             race.get("ticker_floor")),
        )  # fmt: skip
        for row, (label, ticks, floor) in enumerate(panels):
            ax = axes[row][col]
            for t, tick in ticks.items():
                cdf = ((tick or {}).get("staleness") or {}).get("cdf_ms")
                if tick and cdf:
                    frac = 100 * tick.get("delivered_fraction", 0)
                    ax.plot([max(v, 1e-3) for _, v in cdf], [q for q, _ in cdf],
                            color=COLORS[t], label=f"{t} ({frac:.0f} % delivered)")  # fmt: skip
            if floor and floor.get("cdf_ms"):
                cdf = floor["cdf_ms"]
                ax.plot([max(v, 1e-3) for _, v in cdf], [q for q, _ in cdf], color="grey",
                        linestyle="--", label="floor (ideal client)")  # fmt: skip
            ax.set_xscale("log")
            ax.set_title(f"{name}: {label}")
            ax.set_xlabel("ticker staleness: now - ts of newest held (ms)")
            ax.set_ylabel("percentile")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
    # two lines: one condition's panels are narrower than the title on one line
    fig.suptitle(f"ticker staleness, sampled every 10 ms\n({sub})", fontsize=10)
    fig.tight_layout()
    return _save(fig, out / "staleness.png")


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
