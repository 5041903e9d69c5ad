"""Shared by the WebRTC tests."""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    """Poll ``predicate()`` until true (a loaded machine gets the whole timeout)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
