"""A user-space ``netem``: an IP link between two network namespaces with delay, jitter and
loss, for kernels built without ``sch_netem`` (like this sandbox's: ``CONFIG_NET_SCH_NETEM``
is not set, so ``tc qdisc add ... netem`` answers "Specified qdisc kind is unknown").

Exports: ``LinkSpec``, ``open_tun``, ``setns``, ``forward``, ``main``
(``python -m exchange.lab.linkemu --server-ns S --client-ns C ...``; prints ``ready`` once
both ends are up, runs until SIGTERM/SIGINT or its parent dies).

One TUN device in each namespace (``SERVER_ADDR`` and ``CLIENT_ADDR``, point to point); this
process moves raw IP packets between them. Packets from the server to the client are delayed
by ``delay ± jitter`` (uniform, like netem without a distribution table) and dropped with
probability ``loss`` (as ``tc netem`` on the server's interface would); the order is kept
(netem reorders under jitter unless given a rate; reordering would add a second effect).
TCP runs end to end in the kernels of both namespaces, so retransmission and head-of-line
blocking are real.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import fcntl
import os
import random
import selectors
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

__all__ = ["CLIENT_ADDR", "SERVER_ADDR", "LinkSpec", "forward", "main", "open_tun", "setns"]

SERVER_ADDR = "10.213.0.1"
CLIENT_ADDR = "10.213.0.2"
_CLONE_NEWNET = 0x40000000
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class LinkSpec:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    seed: int = 1


_libc = ctypes.CDLL(None, use_errno=True)


def setns(path: str) -> None:
    """Move this (single-threaded) process into the network namespace at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def open_tun(name: str) -> int:
    """Create TUN device ``name`` in the current namespace; it lives while the fd is open."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def forward(server_fd: int, client_fd: int, spec: LinkSpec, stop: list[bool]) -> dict[str, int]:
    """Move packets until ``stop[0]``; returns counters (``to_client``, ``dropped``...)."""
    rng = random.Random(spec.seed)
    sel = selectors.DefaultSelector()
    sel.register(server_fd, selectors.EVENT_READ, client_fd)
    sel.register(client_fd, selectors.EVENT_READ, server_fd)
    delayed: collections.deque[tuple[float, bytes]] = collections.deque()
    last_due = 0.0
    delay, jitter, loss = spec.delay_ms / 1e3, spec.jitter_ms / 1e3, spec.loss_pct / 100
    counts = {"to_client": 0, "to_server": 0, "dropped": 0}
    while not stop[0]:
        now = time.monotonic()
        timeout = max(0.0, delayed[0][0] - now) if delayed else 0.2
        for key, _ in sel.select(timeout):
            src, dst = key.fd, key.data
            for _ in range(64):  # drain a burst, then look at the clock again
                try:
                    pkt = os.read(src, 65536)
                except BlockingIOError:
                    break
                if src == client_fd:
                    counts["to_server"] += 1
                    os.write(dst, pkt)
                    continue
                if loss and rng.random() < loss:
                    counts["dropped"] += 1
                    continue
                counts["to_client"] += 1
                if not delay and not jitter:
                    os.write(dst, pkt)
                    continue
                due = time.monotonic() + max(0.0, delay + rng.uniform(-jitter, jitter))
                last_due = max(last_due, due)  # keep the order
                delayed.append((last_due, pkt))
        now = time.monotonic()
        while delayed and delayed[0][0] <= now:
            try:
                os.write(client_fd, delayed.popleft()[1])
            except BlockingIOError:
                counts["dropped"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="user-space netem between two namespaces")
    p.add_argument("--server-ns", required=True)
    p.add_argument("--client-ns", required=True)
    p.add_argument("--tun", required=True, help="device name (same name in both namespaces)")
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--loss-pct", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # die with the lab, whatever kills it
    stop = [False]

    def on_signal(signum: int, frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        setns(f"/var/run/netns/{a.server_ns}")
        server_fd = open_tun(a.tun)
        setns(f"/var/run/netns/{a.client_ns}")
        client_fd = open_tun(a.tun)
    finally:
        _libc.setns(home, _CLONE_NEWNET)
        os.close(home)
    for ns, mine, peer in ((a.server_ns, SERVER_ADDR, CLIENT_ADDR), (a.client_ns, CLIENT_ADDR, SERVER_ADDR)):  # fmt: skip
        _ip("-n", ns, "addr", "add", f"{mine}/32", "peer", f"{peer}/32", "dev", a.tun)
        _ip("-n", ns, "link", "set", a.tun, "up")
    print("ready", flush=True)
    spec = LinkSpec(a.delay_ms, a.jitter_ms, a.loss_pct, a.seed)
    counts = forward(server_fd, client_fd, spec, stop)
    print(" ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
