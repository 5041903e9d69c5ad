"""The protocol lab (``tickwire lab``): the same live market feed over WebSocket, SSE and long
polling, measured side by side on clean loopback and on emulated links.

Exports: ``add_arguments`` and ``run`` (the CLI hook), ``LabOptions``.
Submodules: ``wire`` (metered clients), ``probe`` (one condition's measurements), ``netns``
(namespaces and the emulated link), ``report`` (table and plots), ``runner`` (orchestration).
"""

from __future__ import annotations

from exchange.lab.runner import LabOptions, add_arguments, run

__all__ = ["LabOptions", "add_arguments", "run"]
