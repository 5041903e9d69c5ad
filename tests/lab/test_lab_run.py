"""A short real lab run (clean loopback, WebRTC included): the JSON has every figure, sane,
and the PNGs open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from exchange.lab.report import COLUMNS, render_table, rows, ticker_markdown
from exchange.lab.runner import LabOptions, run_lab

TRANSPORTS = ("ws", "sse", "poll")


def _sane_latency(lat: dict[str, Any]) -> None:
    assert lat["n"] > 0
    assert 0 <= lat["p50_ms"] <= lat["p99_ms"] <= lat["p999_ms"] <= lat["max_ms"]
    qs = [q for q, _ in lat["cdf_ms"]]
    vs = [v for _, v in lat["cdf_ms"]]
    assert qs == sorted(qs) and vs == sorted(vs)


def _sane_ticker_row(tick: dict[str, Any], floor: dict[str, Any], transport: str) -> None:
    """Ticker staleness figures: present, ordered, never below the feed's own floor."""
    _sane_latency(tick["staleness"])
    assert tick["excess"]["n"] == tick["staleness"]["n"]
    assert 0 <= tick["excess"]["p50_ms"] <= tick["excess"]["max_ms"]
    # a warm client holds a ticker of every symbol at every sample, and then each of its
    # samples is at least the floor's at the same instant
    if tick["unheld_samples"] == 0:
        assert tick["staleness"]["p50_ms"] >= floor["p50_ms"]
        assert tick["staleness"]["max_ms"] >= floor["max_ms"]
    assert 0 < tick["delivered_fraction"] <= 1.0
    assert 0 < tick["delivered_latest_fraction"] <= 1.0
    if transport != "rtc":  # TCP delivers every ticker (the run waits a second for stragglers)
        assert tick["delivered_fraction"] > 0.9


def _sane_tickers(cond: dict[str, Any], transports: tuple[str, ...]) -> None:
    race, alone = cond["race"], cond["tickers"]
    _sane_latency(race["ticker_floor"])
    _sane_latency(alone["floor"])
    assert race["tickers_published"] > 0 and alone["published"] > 0
    for t in transports:
        _sane_ticker_row(race[t]["ticker"], race["ticker_floor"], t)
        _sane_ticker_row(alone[t], alone["floor"], t)
        # the tickers phase: only tickers arrive, each carrying a ts
        assert alone[t]["events"] > 0 and alone[t]["latency"]["n"] == alone[t]["events"]


def _sane_rtc(cond: dict[str, Any]) -> None:
    """WebRTC measured like the others: ICE on loopback host candidates, datagrams counted."""
    status = cond["rtc_status"]
    assert status["connected"] is True, status
    assert status["ice_pair"]["protocol"] == "udp"
    assert status["ice_pair"]["local"].startswith("127.0.0.1:")
    for row in (cond["race"]["rtc"], cond["solo"]["rtc"]):
        assert row["events"] > 0
        _sane_latency(row["latency"])
        # every event came in a datagram; SCTP acknowledges, so datagrams also go up
        assert row["datagrams_down"] > 0 and row["datagrams_up"] > 0
        assert row["down_per_event"] > 0 and row["up_per_event"] > 0
        assert "client" in row["bytes_counted"]
    tick = cond["race"]["rtc"]["ticker"]
    # on loopback nothing is lost on the wire: what the server sent as the latest arrived
    assert tick["delivered_latest_fraction"] > 0.9
    assert cond["connect"]["rtc"]["samples"] > 0 and cond["connect"]["rtc"]["failures"] == 0
    assert cond["connect"]["rtc"]["first_event_ms"] > 0


@pytest.mark.slow  # a long end-to-end run (make test-fast skips it)
def test_short_lab_run_writes_json_and_plots(tmp_path: Path) -> None:
    phases: list[str] = []
    opts = LabOptions(
        clients=2,
        rate=100.0,
        duration=0.5,
        net="clean",
        out=tmp_path,
        outage=0.15,
        connects=2,
        busy="forced by the test",
    )
    run_lab(opts, lambda cond, phase: phases.append(f"{cond}:{phase}"))
    assert phases[0] == "clean:idle" and "clean:conflation" in phases
    assert "clean:tickers" in phases and "clean:solo rtc" in phases
    report = orjson.loads((tmp_path / "lab.json").read_bytes())
    # a run forced on a busy machine says so in the figures it writes
    assert report["busy"] == "forced by the test"
    assert "BUSY MACHINE: forced by the test" in report["notes"]
    cond = report["conditions"]["clean"]
    assert cond["idle_server_cpu_cores"] >= 0
    assert cond["race"]["server_cpu_wait_frac"] >= 0 and cond["race"]["probe_cpu_cores"] >= 0
    for t in TRANSPORTS:
        race = cond["race"][t]
        assert race["events"] > 0
        assert race["down_per_event"] > 0 and race["up_per_event"] >= 0
        _sane_latency(race["latency"])
        assert cond["connect"][t]["samples"] > 0
        assert cond["connect"][t]["first_event_ms"] > 0
        resume, fresh = cond["reconnect"][t]["resume"], cond["reconnect"][t]["fresh"]
        assert resume["first_event_ms"] > 0 and fresh["first_event_ms"] > 0
        assert resume["lost_events"] == 0  # resume is exact on every transport
        assert resume["events_in_outage"] > 0
        assert fresh["lost_events"] > 0  # a fresh connection misses the outage
    _sane_tickers(cond, (*TRANSPORTS, "rtc"))
    _sane_rtc(cond)
    table = ticker_markdown(report)
    for t in (*TRANSPORTS, "rtc"):
        assert f"| clean | tickers | {t} |" in table and f"| clean | race | {t} |" in table
    # long polling pays an HTTP request per answer; streams send nothing up
    assert cond["race"]["poll"]["up_per_event"] > cond["race"]["ws"]["up_per_event"]
    for t in ("ws", "ws-deflate", "sse", "poll"):
        solo = cond["solo"][t]
        assert solo["cpu_cores_per_1000_clients"] >= 0
        assert solo["rss_bytes_per_connection"] >= 0
        assert solo["events"] > 0
        _sane_latency(solo["latency"])
    assert cond["solo"]["ws-deflate"]["deflate_agreed"] is True
    assert cond["solo"]["ws"]["deflate_agreed"] is False
    assert cond["solo"]["ws-deflate"]["down_per_event"] < cond["solo"]["ws"]["down_per_event"]
    # the compressed SSE lanes are what they say, and smaller on the wire than plain SSE
    assert cond["solo"]["sse"]["content_encoding"] is None
    for coding in ("gzip", "br"):
        coded = cond["solo"][f"sse-{coding}"]
        assert coded["content_encoding"] == coding and coded["events"] > 0
        assert coded["down_per_event"] < cond["solo"]["sse"]["down_per_event"] / 2
    for label in ("plain", "conflate_100ms"):
        assert cond["conflation"][label]["events"] > 0
    # the terminal table: a readable heading (not a dict), the columns explained, and the
    # bytes per event the same as bytes.png's (the solo phase)
    from rich.console import Console

    console = Console(record=True, width=300)
    render_table(report, console)
    text = console.export_text()
    assert "clean: delay 0 ms ± 0 ms, loss 0 %" in text and "{" not in text
    assert "cores/1k cl: server CPU cores per 1,000 clients" in text
    assert "resume ms/lost: " in text
    up = COLUMNS.index("B/ev up")
    poll_row = next(r for r in rows(cond) if r[0] == "poll")
    assert poll_row[up] == f"{cond['solo']['poll']['up_per_event']:.1f}"
    assert len(report["plots"]) == 5
    for name in ("latency.png", "staleness.png", "bytes.png", "cpu.png", "tail.png"):
        with Image.open(tmp_path / name) as img:
            img.verify()
        with Image.open(tmp_path / name) as img:
            assert img.format == "PNG" and img.size[0] > 100
