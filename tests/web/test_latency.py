"""Measure, not assert: event-to-render latency per transport and frame pacing in Chromium.

With the default simulated market (10 steps/s) the page is pinned to each transport in turn
(`?transport=`); the figures go to artifacts/web-latency.json for docs/benchmarks.md. The test
only checks that samples were taken: speed is never asserted (it depends on the machine).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import OpenedPage

pytestmark = pytest.mark.browser

Opener = Callable[..., Awaitable[OpenedPage]]
ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "web-latency.json"
WINDOW_MS = 5000

# Counts animation frames for WINDOW_MS and reports the gaps between them.
FRAME_PROBE = """(windowMs) => new Promise((resolve) => {
  const gaps = []; let prev = null; const start = performance.now();
  const tick = (now) => {
    if (prev !== null) gaps.push(now - prev);
    prev = now;
    if (now - start < windowMs) requestAnimationFrame(tick);
    else resolve({ frames: gaps.length + 1, gaps });
  };
  requestAnimationFrame(tick);
})"""


async def test_measure_event_to_render_latency_per_transport(
    live_server_factory: Any, open_page: Opener, tmp_path: Path
) -> None:
    results: dict[str, Any] = {}
    srv = live_server_factory(sim_rate=10.0)
    for mode in ("ws", "sse", "poll"):
        opened = await open_page(f"{srv.url}/?transport={mode}")
        await opened.until("(m) => window.tickwire.feed.stats[m].latency().n >= 20", mode)
        # Start the window from a clean slate so connection set-up is not counted.
        await opened.js("(m) => window.tickwire.feed.stats[m].resetLatency()", mode)
        probe = await opened.js(FRAME_PROBE, WINDOW_MS)
        stats = await opened.js("(m) => window.tickwire.feed.stats[m].toJSON()", mode)
        frame_cost = await opened.js("() => window.tickwire.frameCost()")
        gaps = sorted(probe["gaps"])
        results[mode] = {
            "event_to_render_ms": stats["latency"],
            "arrival_to_render_ms": stats["renderDelay"],
            "messages": stats["messages"],
            "bytes": stats["bytes"],
            "frames_in_window": probe["frames"],
            "window_ms": WINDOW_MS,
            "frame_gap_p50_ms": gaps[len(gaps) // 2],
            "frame_gap_max_ms": gaps[-1],
            "frames_over_25ms": sum(1 for g in gaps if g > 25),
            "ui_work_per_frame_ms": frame_cost,
        }
        assert stats["latency"]["n"] > 0 and probe["frames"] > 1
        assert opened.errors == []
        await opened.page.close()
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
