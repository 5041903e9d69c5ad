"""The ``tickwire`` command line as a user runs it: help, bad settings, and ``serve`` as a
real process that prints its URLs and stops cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from exchange.cli import build_parser
from exchange.compiled import ENV_PURE, build_problem
from exchange.config import ConfigError, Settings, from_env
from exchange.options import answers_health
from tests.conftest import LiveServer


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
                   "--allowed-origins", "--tls-cert", "--tls-key", "--log-level", "--transports",
                   "--allowed-hosts", "--no-demo-login", "--allow-demo-login-remote"):  # fmt: skip
        assert option in serve
    tui = tickwire("tui", "--help").stdout
    assert "--md-transport" in tui
    assert "(default: trader)" in tui and "(default: http://127.0.0.1:8000)" in tui
    # commands that run no simulated market do not offer its options
    for command in ("replay", "gateway"):
        text = tickwire(command, "--help").stdout
        assert "--sim-rate" not in text and "--seed" not in text, command
    lab = tickwire("lab", "--help").stdout
    assert "protocol lab" in lab and "no PNG plots" in lab and "--port" in lab


def test_version_names_the_engine_build() -> None:
    number = version("tickwire")
    problem = build_problem()
    default = tickwire("--version", env={ENV_PURE: ""})
    assert default.returncode == 0, default.stderr
    expected = "compiled" if problem is None else f"pure ({problem})"
    assert default.stdout == f"tickwire {number} (engine: {expected})\n"
    pure = tickwire("--version", env={ENV_PURE: "1"}).stdout
    assert pure == f"tickwire {number} (engine: pure (TICKWIRE_PURE_PYTHON))\n"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve", "--fsync", "sometimes"], {}, "invalid choice"),
        (["serve", "--transports", "ws,pigeon"], {}, "unknown transport"),
        (["serve", "--tls-cert", "cert.pem"], {}, "both a certificate and a key"),
        (["serve"], {"TICKWIRE_PORT": "eighty"}, "TICKWIRE_PORT"),
        (["serve"], {"TICKWIRE_FSYNC": "never"}, "fsync"),
        (["serve", "--host", "0.0.0.0"], {}, "demo login"),
        (["serve"], {"TICKWIRE_HOST": "192.0.2.7"}, "--allow-demo-login-remote"),
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
    args = build_parser().parse_args(["serve", "--allowed-hosts", "a.example, B.example"])
    hosts = settings_from_args(args, base)
    assert hosts.allowed_hosts == ("a.example", "B.example")
    assert hosts.host_names() == {"a.example", "b.example"}
    assert Settings().host_names() == {"127.0.0.1", "localhost", "::1"}
    assert Settings(allowed_hosts=("*",)).host_names() is None
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
        while not answers_health(f"http://127.0.0.1:{port}"):
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


def test_bench_command_lists_and_runs_benchmarks() -> None:
    out = tickwire("bench", "--help").stdout
    for name in ("engine", "journal", "hub", "orders", "fanout"):
        assert name in out
    result = tickwire("bench", "journal", "--help")
    assert result.returncode == 0 and "--records" in result.stdout


def test_serve_over_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    trusted = ssl.create_default_context(cafile=str(cert))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--sim-rate", "0", "--log-level", "warning",
         "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trusted, timeout=1)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served on a TLS port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"https://127.0.0.1:{port}/" in out


def test_demo_login_on_a_public_address_needs_an_explicit_opt_in() -> None:
    """One error line, exit 2, for ``--host 0.0.0.0`` with demo login on; either switching
    demo login off or the opt-in makes the same settings valid."""
    result = tickwire("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "demo login" in result.stderr
    from exchange.cli import settings_from_args

    for extra in (["--no-demo-login"], ["--no-demo"], ["--allow-demo-login-remote"]):
        args = build_parser().parse_args(["serve", "--host", "0.0.0.0", *extra])
        settings = settings_from_args(args, Settings())
        assert settings.host == "0.0.0.0"
        assert settings.demo_login is (extra == ["--allow-demo-login-remote"])
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert Settings(host=host).demo_login  # loopback: the default local run keeps it
    with pytest.raises(ConfigError, match="demo login"):
        Settings(host="::")


def test_start_up_faults_are_one_clear_line(tmp_path: Path) -> None:
    """Each of these was a traceback of tens of lines (issue 17 #6); a taken port was
    reported after "serving on ..."."""
    from exchange.journal import Journal

    plain = tmp_path / "plain"
    plain.write_text("not a directory")
    busy = tmp_path / "busy"
    (busy / "journal").mkdir(parents=True)
    port = free_port()
    with Journal.open(busy / "journal"), socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        cases = [
            (["--symbols", "DOGE-USD"], "unknown symbols: DOGE-USD"),
            (["--data-dir", str(plain / "d")], "cannot be used (Not a directory)"),
            (["--data-dir", str(busy)], "in use by another tickwire server"),
            (["--data-dir", str(tmp_path / "free"), "--port", str(port)], "already in use"),
        ]
        for extra, needle in cases:
            args = ["serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")]
            out = tickwire(*args, *extra)
            assert out.returncode == 2, (extra, out.stderr)
            assert "Traceback" not in out.stderr and "serving on" not in out.stdout, extra
            assert needle in out.stderr, (extra, out.stderr)
            assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_answers_health_is_true_only_for_a_healthy_server(live_server: LiveServer) -> None:
    assert answers_health(live_server.url)
    assert not answers_health(f"{live_server.url}/no-such-prefix")  # 404 is not healthy
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert not answers_health(f"http://127.0.0.1:{closed}", timeout=0.5)
