"""The ``tickwire`` command line as a user runs it: help, bad settings, and ``serve`` as a
real process that prints its URLs and stops cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from exchange.cli import build_parser
from exchange.config import ConfigError, Settings, from_env


def tickwire(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_help_lists_commands_and_options() -> None:
    out = tickwire("--help").stdout
    assert "serve" in out and "tui" in out
    serve = tickwire("serve", "--help").stdout
    for option in ("--host", "--port", "--data-dir", "--seed", "--sim-rate", "--fsync",
                   "--allowed-origins", "--tls-cert", "--tls-key", "--log-level", "--transports"):  # fmt: skip
        assert option in serve
    assert "--md-transport" in tickwire("tui", "--help").stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve", "--fsync", "sometimes"], {}, "invalid choice"),
        (["serve", "--transports", "ws,pigeon"], {}, "unknown transport"),
        (["serve", "--tls-cert", "cert.pem"], {}, "both a certificate and a key"),
        (["serve"], {"TICKWIRE_PORT": "eighty"}, "TICKWIRE_PORT"),
        (["serve"], {"TICKWIRE_FSYNC": "never"}, "fsync"),
    ],
)
def test_bad_settings_exit_2_with_a_clear_message(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = tickwire(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_precedence_defaults_env_args() -> None:
    base = from_env(
        environ={"TICKWIRE_PORT": "9001", "TICKWIRE_ALLOWED_ORIGINS": "https://a,https://b"}
    )
    assert base.port == 9001 and base.allowed_origins == ("https://a", "https://b")
    from exchange.cli import settings_from_args

    args = build_parser().parse_args(["serve", "--port", "9002"])
    assert settings_from_args(args, base).port == 9002
    with pytest.raises(ConfigError):
        Settings(transports=("carrier-pigeon",))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_urls_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchange.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--sim-rate",
            "20",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        book = httpx.get(f"http://127.0.0.1:{port}/api/book/BTC-USD", timeout=5).json()
        assert "checksum" in book
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out and "/docs" in out and "/metrics" in out
    assert "Traceback" not in err
    # the journal was flushed: a restart recovers without complaint
    assert any((data / "journal").iterdir())
