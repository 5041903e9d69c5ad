"""Process plumbing shared by the server benchmarks (``bench.orders``, ``bench.fanout``).

Exports: ``SERVER_CORE``, ``CLIENT_CORE``, ``ServerProc``, ``boost``, ``start_tickwire``,
``start_python``, ``pin``, ``raise_nofile``, ``free_port``, ``loadavg``, ``versions``,
``cpu_seconds``, ``rss_bytes``, ``percentile``, ``summary``, ``fmt_range``.

A server runs in its own process pinned to ``SERVER_CORE``; the load generator pins itself
to ``CLIENT_CORE`` (different cores, so they do not steal each other's CPU). Server CPU and
memory are read from ``/proc/<pid>``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import httpx

__all__ = [
    "CLIENT_CORE",
    "SERVER_CORE",
    "ServerProc",
    "boost",
    "cpu_seconds",
    "fmt_range",
    "free_port",
    "loadavg",
    "percentile",
    "pin",
    "raise_nofile",
    "rss_bytes",
    "start_python",
    "start_tickwire",
    "summary",
    "versions",
]

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
_NCPU = os.cpu_count() or 1
SERVER_CORE = 0
CLIENT_CORE = 1 if _NCPU > 1 else 0
_TICKS = os.sysconf("SC_CLK_TCK")


def pin(pid: int, core: int) -> None:
    """Pin ``pid`` (0: this process) to one core."""
    os.sched_setaffinity(pid, {core})


def boost(nice: int) -> str:
    """Give this process and its future children scheduling priority ``nice`` (negative:
    more CPU), for benchmarks on a shared machine. Linux autogroups share CPU per session,
    so a plain ``nice`` changes nothing against other sessions: this starts a new session
    and sets its autogroup's nice. Returns what was done."""
    with contextlib.suppress(OSError):
        os.setsid()
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    group = Path("/proc/self/autogroup")
    try:
        group.write_text(str(nice))
    except OSError as exc:
        return f"nice {nice} (autogroup not set: {exc})"
    return f"nice {nice}, {group.read_text().strip()}"


def raise_nofile(want: int = 65536) -> int:
    """Raise the open-file soft limit towards ``want`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def versions() -> str:
    names = ("websockets", "uvicorn", "uvloop", "starlette", "sse-starlette", "fastapi")
    parts = [f"Python {platform.python_version()}"]
    for n in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            parts.append(f"{n} {metadata.version(n)}")
    parts.append(f"{_NCPU} CPUs, {platform.machine()}, Linux {platform.release()}")
    return ", ".join(parts)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (from ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) over repetitions."""
    return statistics.median(values), min(values), max(values)


def fmt_range(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    med, lo, hi = summary(values)
    return f"{fmt.format(med)} [{fmt.format(lo)}-{fmt.format(hi)}]"


def _limits() -> None:  # runs in the child before exec
    raise_nofile()


@dataclass
class ServerProc:
    """A server subprocess pinned to ``SERVER_CORE``; ``stop()`` ends it (SIGINT, then kill)."""

    proc: subprocess.Popen[bytes]
    port: int
    name: str
    data_dir: Path | None = None
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str = "/healthz", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + path, timeout=1.0).status_code < 500:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


#: Every benchmark client comes from one address: the server's per-address limits (made
#: for the public) would refuse the benchmark's own connections.
ONE_ADDRESS_ENV = {
    "TICKWIRE_MAX_CONNECTIONS_PER_IP": "0",
    "TICKWIRE_IP_ORDER_RATE": "0",
    "TICKWIRE_ACCOUNT_CREATE_RATE": "0",
}


def start_python(
    name: str, args: Sequence[str], port: int, env: dict[str, str] | None = None
) -> ServerProc:
    """``python <args>`` pinned to ``SERVER_CORE``, output to a temp log file."""
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    full_env = {**os.environ, **ONE_ADDRESS_ENV, **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PYTHON, *args], cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_limits,
        )  # fmt: skip
    pin(proc.pid, SERVER_CORE)
    return ServerProc(proc, port, name, log_path=log)


def start_tickwire(env: dict[str, str] | None = None, *, fsync: str = "batch") -> ServerProc:
    """``tickwire serve`` with the simulator off on a fresh temp data dir (removed at stop)."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-tw-"))
    args = [
        "-m", "exchange.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
        "--sim-rate", "0", "--fsync", fsync, "--log-level", "warning",
    ]  # fmt: skip
    server = start_python("tickwire", args, port, env)
    server.data_dir = data_dir
    server.extra = dict(env or {})
    server.wait_ready()
    return server
