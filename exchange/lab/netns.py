"""The lab's own test hosts: a server and a client network namespace joined by an emulated
link. Needs root. Only the namespaces' own ``10.213.0.x`` addresses are ever used.

Exports: ``Link``, ``emulated_link``, ``netem_available``, ``lab_namespaces``,
``cleanup_stale``, ``main`` (``python -m exchange.lab.netns --hold``: build a link, print its
namespaces, wait for a signal; used by the tests to check clean-up on interruption).

``emulated_link(...)`` always cleans up (``try/finally``; SIGTERM and SIGHUP are turned into
``KeyboardInterrupt`` while it is open so the ``finally`` runs; the link process dies with its
parent). Names are unique (``twlab-<pid>-<hex>-s``/``-c``), so runs never collide, and a run
killed with SIGKILL leaves namespaces that ``cleanup_stale()`` (called on every entry)
removes because their owner pid is gone.

The link: with ``sch_netem`` in the kernel, a veth pair with ``tc qdisc ... netem`` on the
server's end; without it (this sandbox), ``exchange.lab.linkemu``, a user-space netem over
one TUN device per namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exchange.lab.linkemu import CLIENT_ADDR, SERVER_ADDR

__all__ = [
    "Link",
    "cleanup_stale",
    "emulated_link",
    "lab_namespaces",
    "main",
    "netem_available",
]

PREFIX = "twlab-"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Link:
    server_ns: str
    client_ns: str
    device: str
    mode: str  # "netem" (kernel) or "tun" (user space)
    delay_ms: float
    jitter_ms: float
    loss_pct: float
    server_addr: str = SERVER_ADDR
    client_addr: str = CLIENT_ADDR
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def server_prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.server_ns)

    @property
    def client_prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.client_ns)

    def describe(self) -> dict[str, object]:
        how = (
            "veth pair, tc netem on the server's end"
            if self.mode == "netem"
            else "TUN device per namespace, user-space netem (exchange.lab.linkemu): "
            "the kernel has no sch_netem"
        )
        return {
            "mode": self.mode,
            "how": how,
            "server": f"{self.server_ns} {self.server_addr}",
            "client": f"{self.client_ns} {self.client_addr}",
            "impairments": "server -> client direction",
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "loss_pct": self.loss_pct,
        }


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def lab_namespaces() -> list[str]:
    """Every namespace this lab made (any run) that still exists."""
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def _owner_alive(ns: str) -> bool:
    try:
        pid = int(ns[len(PREFIX) :].split("-")[0])
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale() -> list[str]:
    """Delete lab namespaces whose owner process is gone (a run killed with SIGKILL)."""
    gone = [ns for ns in lab_namespaces() if not _owner_alive(ns)]
    for ns in gone:
        _delete_ns(ns)
    return gone


def _delete_ns(ns: str) -> None:
    # processes still inside would keep it alive: end them first (only ours are ever there)
    pids = _ip("netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", ns, check=False)


_NETEM: bool | None = None


def netem_available() -> bool:
    """Whether the kernel has ``sch_netem`` (checked once, on a throwaway namespace)."""
    global _NETEM
    if _NETEM is None:
        ns = f"{PREFIX}{os.getpid()}-probe"
        try:
            _ip("netns", "add", ns)
            r = subprocess.run(
                ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                 "delay", "1ms"], capture_output=True, text=True,
            )  # fmt: skip
            _NETEM = r.returncode == 0
        finally:
            _ip("netns", "del", ns, check=False)
    return _NETEM


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While open, SIGTERM/SIGHUP raise KeyboardInterrupt (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def emulated_link(
    delay_ms: float = 0.0, jitter_ms: float = 0.0, loss_pct: float = 0.0, seed: int = 1
) -> Iterator[Link]:
    """Two fresh namespaces joined by a link with these impairments; removed on exit."""
    if os.geteuid() != 0:
        raise PermissionError("emulated links need root (network namespaces)")
    cleanup_stale()
    tag = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
    device = "tw" + tag.rsplit("-", 1)[1]
    link = Link(f"{tag}-s", f"{tag}-c", device, "netem" if netem_available() else "tun",
                delay_ms, jitter_ms, loss_pct)  # fmt: skip
    with _signals_interrupt():
        try:
            for ns in (link.server_ns, link.client_ns):
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            if link.mode == "netem":
                _veth_netem(link)
            else:
                _start_linkemu(link, seed)
            yield link
        finally:
            try:
                _stop_linkemu(link)
            finally:  # the namespaces go even if the emulator would not die in time
                for ns in (link.client_ns, link.server_ns):
                    _delete_ns(ns)


def _stop_linkemu(link: Link) -> None:
    proc = link.proc
    if proc is None:
        return
    try:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                # seen once at load average 16: not scheduled for 10 s; SIGKILL cannot be
                # ignored, so give it as long as a loaded machine may need
                proc.kill()
                proc.wait(60)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


def _veth_netem(link: Link) -> None:
    peer = link.device + "c"
    _ip("link", "add", link.device, "type", "veth", "peer", "name", peer)
    _ip("link", "set", link.device, "netns", link.server_ns)
    _ip("link", "set", peer, "netns", link.client_ns)
    for ns, dev, addr in ((link.server_ns, link.device, SERVER_ADDR), (link.client_ns, peer, CLIENT_ADDR)):  # fmt: skip
        _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
        _ip("-n", ns, "link", "set", dev, "up")
    netem = ["delay", f"{link.delay_ms}ms", f"{link.jitter_ms}ms"] if link.delay_ms else []
    if link.loss_pct:
        netem += ["loss", f"{link.loss_pct}%"]
    if netem:
        subprocess.run(["ip", "netns", "exec", link.server_ns, "tc", "qdisc", "add", "dev",
                        link.device, "root", "netem", *netem], check=True, capture_output=True)  # fmt: skip


def _start_linkemu(link: Link, seed: int) -> None:
    cmd = [sys.executable, "-m", "exchange.lab.linkemu", "--server-ns", link.server_ns,
           "--client-ns", link.client_ns, "--tun", link.device, "--delay-ms", str(link.delay_ms),
           "--jitter-ms", str(link.jitter_ms), "--loss-pct", str(link.loss_pct),
           "--seed", str(seed)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    link.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE)
    assert link.proc.stdout is not None
    line = link.proc.stdout.readline().strip()
    if line != b"ready":
        raise RuntimeError(f"the link emulator did not start (exit {link.proc.poll()})")


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="build a lab link and hold it until a signal")
    p.add_argument("--hold", action="store_true")
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--loss-pct", type=float, default=0.0)
    a = p.parse_args(argv)
    # a shell starts background jobs with SIGINT ignored; the tests interrupt us with it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with emulated_link(a.delay_ms, 0.0, a.loss_pct) as link:
            print(link.server_ns, link.client_ns, link.device, link.mode, flush=True)
            while a.hold:
                time.sleep(0.1)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
