"""Process plumbing of ``bench.cluster``: a Redis cluster (redis-server, ``tickwire engine``,
N ``tickwire gateway``) as pinned subprocesses, without HAProxy.

Exports: ``RedisProc``, ``Stack``, ``start_redis``, ``start_engine``, ``start_gateway``.

Each part is a subprocess pinned to a core chosen by the caller (``bench.procs.pin``);
``Stack(...)`` starts redis, the engine and the gateways in that order and ``stop()`` ends
them in reverse. Data directories are fresh temp dirs, removed at stop. The same
``TICKWIRE_*`` environment goes to the engine and every gateway (rate limits, the synthetic
feed: a gateway does not run the synthetic feed itself, it follows ``tw:md``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import SERVER_CORE, ServerProc, free_port, pin, start_python

__all__ = ["RedisProc", "Stack", "start_engine", "start_gateway", "start_redis"]


@dataclass
class RedisProc:
    """A foreground ``redis-server`` on a free loopback port; ``stop()`` shuts it down."""

    proc: subprocess.Popen[bytes]
    port: int
    root: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis(core: int = SERVER_CORE, *, aof: bool = True) -> RedisProc:
    """``redis-server`` as ``tickwire cluster`` runs it (AOF on unless ``aof=False``, no RDB
    saves), pinned to ``core``; returns once it answers PING."""
    root = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root),
            "--save", "", "--daemonize", "no", "--appendonly", "yes" if aof else "no"]  # fmt: skip
    with (root / "redis.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    pin(proc.pid, core)
    redis = RedisProc(proc, port, root)
    deadline = time.monotonic() + 30
    while not redis.ping():
        if proc.poll() is not None or time.monotonic() > deadline:
            redis.stop()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return redis


def _wait_log(server: ServerProc, needle: bytes, timeout: float) -> None:
    assert server.log_path is not None
    deadline = time.monotonic() + timeout
    while needle not in server.log_path.read_bytes():
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited: see {server.log_path}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server.name} not ready after {timeout} s")
        time.sleep(0.05)


def start_engine(
    redis_url: str,
    env: dict[str, str],
    *,
    fsync: str = "batch",
    core: int = SERVER_CORE,
) -> ServerProc:
    """``tickwire engine`` (simulator off, fresh data dir); returns once it says it runs."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    args = [
        "-m", "exchange.cli", "engine", "--redis", redis_url, "--data-dir", str(data_dir),
        "--sim-rate", "0", "--fsync", fsync, "--log-level", "warning",
    ]  # fmt: skip
    server = start_python("engine", args, 0, env)
    pin(server.pid, core)
    server.data_dir = data_dir
    server.extra = dict(env)
    _wait_log(server, b"tickwire engine on", 120.0)
    return server


def start_gateway(redis_url: str, env: dict[str, str], *, core: int = SERVER_CORE) -> ServerProc:
    """``tickwire gateway`` on a free port; returns once ``/healthz`` answers (it has loaded
    ``tw:snap`` and follows ``tw:seq`` and ``tw:md``)."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    args = [
        "-m", "exchange.cli", "gateway", "--redis", redis_url, "--port", str(port),
        "--data-dir", str(data_dir), "--log-level", "warning",
    ]  # fmt: skip
    server = start_python("gateway", args, port, env)
    pin(server.pid, core)
    server.data_dir = data_dir
    server.extra = dict(env)
    server.wait_ready(timeout=240.0)
    return server


@dataclass
class Stack:
    """redis-server + engine + ``len(gateway_cores)`` gateways, each pinned as asked."""

    env: dict[str, str]
    gateway_cores: Sequence[int] = (SERVER_CORE,)
    redis_core: int = SERVER_CORE
    engine_core: int = SERVER_CORE
    fsync: str = "batch"
    redis: RedisProc | None = None
    engine: ServerProc | None = None
    gateways: list[ServerProc] = field(default_factory=list)

    def start(self) -> Stack:
        try:
            self.redis = start_redis(self.redis_core)
            self.engine = start_engine(
                self.redis.url, self.env, fsync=self.fsync, core=self.engine_core,
            )  # fmt: skip
            for core in self.gateway_cores:
                self.gateways.append(start_gateway(self.redis.url, self.env, core=core))
        except BaseException:
            self.stop()
            raise
        return self

    def pids(self) -> dict[str, int]:
        """Name -> pid of every running part (``redis``, ``engine``, ``gateway0``...)."""
        out = {}
        if self.redis is not None:
            out["redis"] = self.redis.pid
        if self.engine is not None:
            out["engine"] = self.engine.pid
        for i, gw in enumerate(self.gateways):
            out[f"gateway{i}"] = gw.pid
        return out

    def stop(self) -> None:
        for gw in reversed(self.gateways):
            with contextlib.suppress(Exception):
                gw.stop()
        self.gateways.clear()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                self.engine.stop()
            self.engine = None
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
