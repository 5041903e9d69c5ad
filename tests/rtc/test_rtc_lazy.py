"""aiortc loads with the first offer, not with the gateway (it costs ~30 MiB per process)."""

from __future__ import annotations

import subprocess
import sys


def test_the_gateway_app_does_not_import_aiortc() -> None:
    code = (
        "import sys, exchange.gateway.app, exchange.gateway.rtc\n"
        "print(sorted(m for m in ('aiortc', 'aioice', 'av') if m in sys.modules))\n"
        "exchange.gateway.rtc.RtcMarketClient\n"
        "print('aiortc' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"  # nothing of WebRTC until it is used
    assert out[1] == "True"  # the client, asked for by name, brings it
