"""What ``/proc`` says about the server process: CPU seconds, CPU run-queue wait, RSS.

Exports: ``cpu_seconds``, ``wait_seconds``, ``rss_bytes`` (each 0 for pid 0: unknown).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "rss_bytes", "wait_seconds"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (``/proc/<pid>/stat``); 0 when unknown (pid 0)."""
    if pid <= 0:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_seconds(pid: int) -> float:
    """Seconds ``pid``'s threads spent runnable but waiting for a CPU (``schedstat``)."""
    if pid <= 0:
        return 0.0
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def rss_bytes(pid: int) -> int:
    if pid <= 0:
        return 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
