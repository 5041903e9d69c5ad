"""The lab's namespaces and emulated link, for real (the machine and CI run as root): the link
carries TCP with the delay it was given, and every namespace and process is gone afterwards,
also after SIGINT, SIGTERM, or SIGKILL (then the next run removes the leftovers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exchange.lab.netns import cleanup_stale, emulated_link, lab_namespaces

REPO = Path(__file__).resolve().parents[2]

SERVER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('10.213.0.1', 9000)); s.listen(); print('up', flush=True)\n"
    "c, _ = s.accept(); c.sendall(b'x' * 100000); c.close()\n"
)
CLIENT = (
    "import socket, time\n"
    "t = time.monotonic(); c = socket.create_connection(('10.213.0.1', 9000), timeout=20)\n"
    "rtt = time.monotonic() - t; n = 0\n"
    "while (b := c.recv(65536)): n += len(b)\n"
    "print(n, rtt)\n"
)


def _exchange(link: object) -> tuple[int, float]:
    srv = subprocess.Popen(
        [*link.server_prefix, sys.executable, "-c", SERVER],  # type: ignore[attr-defined]
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert srv.stdout is not None and srv.stdout.readline().strip() == "up"
        out = subprocess.run(
            [*link.client_prefix, sys.executable, "-c", CLIENT],  # type: ignore[attr-defined]
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        srv.wait(10)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
        if srv.stdout is not None:
            srv.stdout.close()
    return int(out[0]), float(out[1])


def _mine() -> set[str]:
    return set(lab_namespaces())


def test_link_carries_tcp_with_its_delay_and_loss_then_vanishes() -> None:
    before = _mine()
    with emulated_link(delay_ms=30.0, loss_pct=5.0) as link:
        assert {link.server_ns, link.client_ns} <= _mine()
        received, connect_s = _exchange(link)
        assert received == 100000  # TCP recovers every lost packet
        # the SYN-ACK crosses the delayed direction once: a lower bound, not a speed claim
        assert connect_s >= 0.025
        proc = link.proc
    assert _mine() == before
    if proc is not None:
        assert proc.poll() is not None
    out = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert link.device not in out


def test_link_is_removed_when_the_body_raises() -> None:
    before = _mine()
    with pytest.raises(RuntimeError), emulated_link() as link:
        assert link.server_ns in _mine()
        raise RuntimeError("boom")
    assert _mine() == before


def _holder() -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange.lab.netns", "--hold", "--delay-ms", "5"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    names = proc.stdout.readline().split()
    assert len(names) == 4, names
    assert {names[0], names[1]} <= _mine()
    return proc, names


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_cleans_up(sig: signal.Signals) -> None:
    proc, names = _holder()
    try:
        proc.send_signal(sig)
        assert proc.wait(30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert not {names[0], names[1]} & _mine()


def test_killed_run_leaves_stale_namespaces_that_the_next_run_removes() -> None:
    proc, names = _holder()
    proc.kill()  # SIGKILL: no finally runs
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()
    deadline = time.monotonic() + 10
    while names[0] not in _mine() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {names[0], names[1]} <= _mine()  # left behind...
    removed = cleanup_stale()
    assert {names[0], names[1]} <= set(removed)  # ...until the next run
    assert not {names[0], names[1]} & _mine()


@pytest.mark.slow  # a long end-to-end run (make test-fast skips it)
def test_lab_run_with_rtc_under_5pct_loss(tmp_path: Path) -> None:
    """WebRTC's ICE connects across the emulated link (host candidates on the namespaces'
    own addresses, UDP through the user-space netem) and is measured beside WebSocket."""
    import orjson

    from exchange.lab.runner import LabOptions, run_lab

    before = _mine()
    opts = LabOptions(
        clients=2, rate=100.0, duration=0.5, net="loss5", out=tmp_path, outage=0.15,
        connects=1, plots=False, transports="ws,rtc",
    )  # fmt: skip
    run_lab(opts)
    cond = orjson.loads((tmp_path / "lab.json").read_bytes())["conditions"]["loss5"]
    assert cond["link"]["loss_pct"] == 5.0
    status = cond["rtc_status"]
    assert status["connected"] is True, status
    assert status["ice_pair"]["local"].startswith("10.213.0.2:")  # the client namespace
    assert status["ice_pair"]["remote"].startswith("10.213.0.1:")  # the server namespace
    race = cond["race"]
    assert set(race) >= {"ws", "rtc"} and "sse" not in race
    for t in ("ws", "rtc"):
        assert race[t]["events"] > 0
        tick = race[t]["ticker"]
        assert tick["staleness"]["n"] > 0
        assert tick["staleness"]["p50_ms"] <= tick["staleness"]["p99_ms"]
    assert race["ws"]["ticker"]["delivered_fraction"] > 0.9  # TCP retransmits
    assert 0 < race["rtc"]["ticker"]["delivered_fraction"] <= 1.0
    assert race["rtc"]["datagrams_down"] > 0
    assert _mine() == before
