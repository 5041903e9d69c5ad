"""The protocol lab (``tickwire lab``): the same live market feed over WebSocket, SSE, long
polling and WebRTC data channels, measured side by side on clean loopback and on emulated
links.

Exports: ``add_arguments`` and ``run`` (the CLI hook), ``LabOptions``.
Submodules: ``wire`` (metered TCP clients), ``rtcwire`` (the metered WebRTC client),
``staleness`` (ticker staleness), ``probe`` and ``lifecycle`` (one condition's measurements),
``procstat`` (/proc figures), ``netns`` and ``linkemu`` (namespaces and the emulated link),
``report`` and ``plots`` (table and PNGs), ``runner`` (orchestration).
"""

from __future__ import annotations

from exchange.lab.runner import LabOptions, add_arguments, run

__all__ = ["LabOptions", "add_arguments", "run"]
