"""The sans-I/O matching engine.

Exports: ``Engine`` (commands in, events out; see ``exchange.engine.engine``), and, re-exported
from ``exchange.engine.types``, every command, event and view type. Rendering to wire
payloads lives in ``exchange.engine.render``; reject codes and exceptions in
``exchange.engine.errors``.
"""

from __future__ import annotations

from exchange.engine.engine import Engine
from exchange.engine.types import *  # noqa: F403
from exchange.engine.types import __all__ as _types_all

__all__ = ["Engine", *_types_all]
