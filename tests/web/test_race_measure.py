"""Measure, not assert: races in Chromium on the same feed for WINDOW_S seconds each, first
WebSocket, SSE and long poll, then the same with WebRTC (a fresh server each); the figures go to artifacts/web-race.json for docs/protocols.md "Race mode
in the browser". The test only checks that every lane was measured: speed is never asserted."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import OpenedPage

pytestmark = pytest.mark.browser

Opener = Callable[..., Awaitable[OpenedPage]]
ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "web-race.json"
#: 4 s in ``make test`` (the lanes are measured, the figures are rough); the doc's figures
#: come from ``TICKWIRE_RACE_WINDOW_S=20``.
WINDOW_S = float(os.environ.get("TICKWIRE_RACE_WINDOW_S", "4"))
SIM_RATE = 20.0


async def test_measure_a_race_in_chromium(
    live_server_factory: Any, open_page: Opener, tmp_path: Path
) -> None:
    results = {}
    for i, lanes in enumerate(("ws,sse,poll", "ws,sse,poll,rtc")):
        server = live_server_factory(sim_rate=SIM_RATE, data_dir=tmp_path / f"data{i}")
        results[lanes] = await measure(server, open_page, lanes)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


async def measure(srv: Any, open_page: Opener, race: str) -> dict[str, Any]:
    opened = await open_page(f"{srv.url}/?transport=ws&race={race}")
    await opened.page.click("#race-toggle")
    await opened.until(
        "() => Object.values(window.tickwire.race.snapshot().lanes).every((l) => l.state === 'live')",
        timeout=60_000,
    )
    load_before = os.getloadavg()
    await asyncio.sleep(WINDOW_S)  # the measurement window itself, not a wait for a condition
    snap = await opened.js("() => window.tickwire.race.snapshot()")
    await opened.page.click("#race-toggle")
    lanes = snap["lanes"]
    result = {
        "sim_rate": SIM_RATE,
        "window_s": WINDOW_S,
        "elapsed_ms": round(snap["elapsedMs"]),
        "contested": snap["contested"],
        "ws_extensions": snap["extensions"],
        "loadavg_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "lanes": {
            name: {
                "latency_ms": lane["latency"],
                "messages": lane["messages"],
                "rate_per_s": round(lane["rate"], 1),
                "bytes": lane["bytes"],
                "bytes_per_event": round(lane["bytesPerEvent"], 1),
                "first_event_ms": lane["firstEventMs"],
                "wins": lane["wins"],
                "share_pct": round(lane["share"], 2),
                "lead_ms": lane["lead"],
            }
            for name, lane in lanes.items()
        },
    }
    live = await opened.js("() => window.tickwire.feed.stats.ws.latency()")
    result["live_feed_ws_event_to_render_ms"] = live
    assert set(lanes) == set(race.split(","))
    assert all(lane["latency"]["n"] > 0 for lane in lanes.values())
    assert opened.errors == []
    await opened.page.close()
    srv.stop()
    return result
