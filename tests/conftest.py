"""Fixtures shared by every test package: a real tickwire server on a free loopback port.

``live_server_factory(**settings)`` starts the whole exchange (engine, journal, hub,
simulator, gateway) on uvicorn in a background thread, bound to a pre-bound port-0 socket,
and waits for ``server.started`` (never a sleep). ``live_server`` is one with defaults (a quiet
market: simulator off). Servers are stopped at teardown; ``LiveServer.stop()`` and
``factory(data_dir=same, port=same)`` give a restart on the same data directory and URL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from exchange.config import Settings
from exchange.gateway.app import create_app
from exchange.gateway.server import TickwireServer, build_server

# Hypothesis' per-example deadline (200 ms) is a speed heuristic, not a check of ours: on this
# 2-core box under the full suite an example of 0.4 ms once took 320 ms (the machine stalled)
# and failed as "unreliable timings". Tests that mean a time bound assert it themselves.
hypothesis_settings.register_profile("tickwire", deadline=None)
hypothesis_settings.load_profile("tickwire")

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@dataclass
class LiveServer:
    settings: Settings
    port: int
    app: Any
    server: TickwireServer
    thread: threading.Thread
    sock: socket.socket
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def node(self) -> Any:
        return self.app.state.node

    def stop(self, timeout: float = 15.0) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("server did not stop")

    def kill(self) -> None:
        """Stop as abruptly as a thread allows: no final snapshot, no clean close."""
        self.stopped = True
        self.server.force_exit = True
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding ``slow`` or ``browser`` tests run first (their own order kept): with
    ``--dist loadfile`` a long file that a worker takes up last sets the end of the run."""
    heavy = {
        item.path
        for item in items
        if item.get_closest_marker("slow") is not None
        or item.get_closest_marker("browser") is not None
    }
    items.sort(key=lambda item: item.path not in heavy)


def _bind(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    return sock


def start_server(settings: Settings, port: int = 0, node: Any = None) -> LiveServer:
    sock = _bind(port)
    port = sock.getsockname()[1]
    settings = settings.replace(port=port)
    app = create_app(settings, node)
    server = build_server(app, settings, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(10)
            sock.close()
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    return LiveServer(settings, port, app, server, thread, sock)


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def factory(port: int = 0, **changes: Any) -> LiveServer:
        changes.setdefault("data_dir", tmp_path / "data")
        changes.setdefault("sim_rate", 0.0)
        changes.setdefault("log_level", "warning")
        srv = start_server(Settings().replace(**changes), port=port)
        started.append(srv)
        return srv

    yield factory
    for srv in reversed(started):
        srv.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory()


# ---------------------------------------------------------------- a real redis-server


@dataclass
class RedisServer:
    port: int
    data_dir: Path
    proc: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, persistence: bool = False) -> None:
        import subprocess

        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir), "--save", "", "--daemonize", "no"]  # fmt: skip
        args += ["--appendonly", "yes" if persistence else "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, stopped at teardown."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "redis").mkdir()
    srv = RedisServer(port, tmp_path / "redis")
    srv.start()
    yield srv
    srv.stop()
