"""``tickwire cluster``: redis-server, the engine, N gateways and HAProxy on loopback ports.

Exports: ``Cluster``, ``run_cluster``, ``free_port``, ``render_haproxy_config``.

``Cluster(root, gateways=N)`` runs every part as a subprocess (logs in ``root/logs``) on
ports chosen at run time; ``start()`` returns once HAProxy answers ``/healthz`` through a
gateway, ``stop()`` stops everything it started. The tests use the same class, plus
``kill_gateway``/``start_gateway``, ``stop_engine``/``start_engine_and_wait``,
``restart_engine`` and ``restart_redis``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from exchange.options import answers_health

__all__ = ["Cluster", "free_port", "render_haproxy_config", "run_cluster"]

REPO = Path(__file__).resolve().parents[2]
HAPROXY_TEMPLATE = REPO / "deploy" / "haproxy.cfg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def render_haproxy_config(bind_port: int, stats_port: int, gateway_ports: list[int]) -> str:
    """``deploy/haproxy.cfg`` with the ports filled in."""
    http = "\n".join(f"    server g{i} 127.0.0.1:{p} check inter 1s fall 2 rise 1"
                     for i, p in enumerate(gateway_ports))  # fmt: skip
    return HAPROXY_TEMPLATE.read_text().format(
        bind_port=bind_port, stats_port=stats_port, servers_http=http, servers_ws=http
    )


class Cluster:
    """A local cluster; see the module docstring."""

    def __init__(
        self,
        root: Path,
        gateways: int = 2,
        *,
        data_dir: Path | None = None,
        port: int = 0,
        sim_rate: float = 0.0,
        log_level: str = "warning",
        fsync: str = "batch",
        redis_persistence: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.data_dir = data_dir or self.root / "engine"
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.root / "redis").mkdir(exist_ok=True)
        self.port = port or free_port()
        self.stats_port = free_port()
        self.redis_port = free_port()
        self.gateway_ports = [free_port() for _ in range(gateways)]
        self.sim_rate = sim_rate
        self.log_level = log_level
        self.fsync = fsync
        self.redis_persistence = redis_persistence
        self.env = dict(env or {})  # extra environment of the tickwire processes
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.engine_proc: subprocess.Popen[bytes] | None = None
        self.gateway_procs: list[subprocess.Popen[bytes] | None] = [None] * gateways
        self.haproxy_proc: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def gateway_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.gateway_ports[i]}"

    # ------------------------------------------------------------------ processes

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._files.append(log)
        env = {**os.environ, **self.env, "PYTHONPATH": str(REPO)}
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)

    def _tickwire(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self._spawn(name, [sys.executable, "-m", "exchange.cli", *args])

    def start_redis(self) -> None:
        args = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--dir", str(self.root / "redis"), "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if self.redis_persistence else "no"]  # fmt: skip
        self.redis_proc = self._spawn("redis", args)
        self._wait(lambda: self._redis_ping(), "redis-server", self.redis_proc)

    def _redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start_engine(self) -> None:
        self.engine_proc = self._tickwire(
            "engine", "engine", "--redis", self.redis_url, "--data-dir", str(self.data_dir),
            "--sim-rate", str(self.sim_rate), "--fsync", self.fsync,
            "--log-level", self.log_level,
        )  # fmt: skip

    def start_gateway(self, i: int) -> None:
        proc = self._tickwire(
            f"gateway{i}", "gateway", "--redis", self.redis_url, "--port",
            str(self.gateway_ports[i]), "--log-level", self.log_level,
        )  # fmt: skip
        self.gateway_procs[i] = proc
        self._wait(lambda: answers_health(self.gateway_url(i)), f"gateway {i}", proc, timeout=240)

    def start_haproxy(self) -> None:
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(render_haproxy_config(self.port, self.stats_port, self.gateway_ports))
        self.haproxy_proc = self._spawn("haproxy", ["haproxy", "-db", "-f", str(cfg)])
        self._wait(lambda: answers_health(self.url), "haproxy", self.haproxy_proc)

    def _wait(self, ok: Any, what: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}; see {self.logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not become ready; see {self.logs}")
            time.sleep(0.05)

    def start(self) -> None:
        try:
            self.start_redis()
            self.start_engine()
            for i in range(len(self.gateway_ports)):
                self.start_gateway(i)
            self.start_haproxy()
        except BaseException:
            self.stop()
            raise

    # ------------------------------------------------------------------ faults

    def kill_gateway(self, i: int) -> None:
        """SIGKILL gateway ``i`` (no clean close of anything)."""
        proc = self.gateway_procs[i]
        if proc is not None:
            proc.kill()
            proc.wait(10)
        self.gateway_procs[i] = None

    def engine_starts(self) -> int:
        """How many times the engine has said it is running (its log's ready line)."""
        path = self.logs / "engine.log"
        return path.read_bytes().count(b"tickwire engine on") if path.exists() else 0

    def stop_engine(self, *, kill: bool = False) -> None:
        """Stop the engine: SIGTERM (a clean stop), or SIGKILL with ``kill``."""
        _stop(self.engine_proc, kill=kill)
        self.engine_proc = None

    def start_engine_and_wait(self, timeout: float = 240) -> None:
        """Start the engine and return once it says it runs (reading ``tw:cmd``)."""
        before = self.engine_starts()
        self.start_engine()
        assert self.engine_proc is not None
        self._wait(lambda: self.engine_starts() > before, "engine", self.engine_proc, timeout)

    def restart_engine(self, *, kill: bool = False, timeout: float = 240) -> None:
        """Stop the engine (SIGTERM, or SIGKILL with ``kill``), start it, wait until it runs."""
        self.stop_engine(kill=kill)
        self.start_engine_and_wait(timeout)

    def stop_redis(self) -> None:
        _stop(self.redis_proc)
        self.redis_proc = None

    def restart_redis(self, *, persistence: bool | None = None) -> None:
        """Stop redis-server and start it again. ``persistence=False`` brings it back empty
        (its files are removed, and it runs without AOF from then on); True turns AOF on."""
        _stop(self.redis_proc)
        if persistence is not None:
            self.redis_persistence = persistence
        if not self.redis_persistence:
            for path in sorted((self.root / "redis").rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
        self.start_redis()

    def stop(self) -> None:
        """Stop everything this cluster started (HAProxy and gateways first)."""
        _stop(self.haproxy_proc)
        for proc in self.gateway_procs:
            _stop(proc)
        _stop(self.engine_proc)
        _stop(self.redis_proc)
        self.haproxy_proc = self.engine_proc = self.redis_proc = None
        self.gateway_procs = [None] * len(self.gateway_procs)
        for f in self._files:
            f.close()
        self._files.clear()


def _stop(proc: subprocess.Popen[bytes] | None, *, kill: bool = False) -> None:
    if proc is None or proc.poll() is not None:
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_cluster(
    *, gateways: int, data_dir: Path, port: int, sim_rate: float, log_level: str
) -> int:
    """``tickwire cluster``: start, print the URL, stop everything on Ctrl-C or SIGTERM."""
    root = Path(data_dir).resolve()
    cluster = Cluster(root, gateways, data_dir=root / "engine", port=port,
                      sim_rate=sim_rate, log_level=log_level)  # fmt: skip

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        cluster.start()
        print(
            f"tickwire cluster: {cluster.url}\n"
            f"  gateways : {', '.join(cluster.gateway_url(i) for i in range(gateways))}\n"
            f"  redis    : {cluster.redis_url}\n"
            f"  haproxy  : stats http://127.0.0.1:{cluster.stats_port}/, "
            f"metrics {cluster.url}/haproxy/metrics\n"
            f"  logs     : {cluster.logs}\n"
            "  Ctrl-C stops them all",
            flush=True,
        )
        while True:
            for name, proc in [("engine", cluster.engine_proc), ("haproxy", cluster.haproxy_proc)]:
                if proc is not None and proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {cluster.logs}",
                          file=sys.stderr)  # fmt: skip
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"tickwire cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
