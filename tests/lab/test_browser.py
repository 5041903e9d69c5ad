"""Claim 2 in Chromium: the 7th EventSource to one HTTP/1.1 origin stalls; one multiplexed
stream carries every symbol; over HTTP/2 (``tickwire serve --http2``) all streams flow, and
each scenario measures latency and server CPU per event."""

from __future__ import annotations

import pytest

from exchange.lab.browser import run_browser_demo


@pytest.mark.browser
async def test_eventsource_cap_and_both_ways_out() -> None:
    r = await run_browser_demo(streams=8, rate=50.0, wait_ms=2500)
    h1 = r["http1"]
    assert h1["protocol"] == "http/1.1"
    assert h1["with_events"] == 6  # Chromium: 6 connections per origin
    assert h1["stalled"] == [7, 8]
    assert h1["states"][6:] == [0, 0]  # still CONNECTING
    mux = r["multiplexed"]
    assert mux["with_events"] == 1
    assert len(mux["symbols"]) == mux["symbols_total"]  # every symbol on one connection
    h2 = r["h2"]
    assert h2["protocol"] == "h2"
    assert h2["with_events"] == 8 and h2["stalled"] == []
    tls = r["http1_tls"]
    assert tls["protocol"] == "http/1.1" and tls["with_events"] == 6
    assert r["h2_6"]["protocol"] == "h2" and r["h2_6"]["with_events"] == 6
    for name in ("http1", "http1_tls", "h2_6", "h2"):
        row = r[name]
        assert row["lat_n"] > 0 and 0 <= row["lat_p50_ms"] <= row["lat_p99_ms"], (name, row)
        assert row["server_us_per_event"] > 0, (name, row)
