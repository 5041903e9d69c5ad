"""Helpers of the cluster tests: URLs, an account view, an SSE reader, a condition wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from httpx_sse import aconnect_sse

Event = tuple[str, str, Any]


def ws(url: str) -> str:
    return url.replace("http://", "ws://")


def offset(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


async def account(url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as http:
        r = await http.get(f"{url}/api/account", headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


async def read_sse(url: str, last_id: str | None, n: int) -> list[Event]:
    """The first events (snapshots, then ``n`` others) of an SSE stream at ``url``."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    out: list[Event] = []
    async with (
        httpx.AsyncClient(timeout=30) as http,
        aconnect_sse(http, "GET", f"{url}/md/stream", headers=headers) as es,
    ):
        async for sse in es.aiter_sse():
            if not sse.data:
                continue
            out.append((sse.id, sse.event, orjson.loads(sse.data)))
            if len([e for e in out if e[1] != "snapshot"]) >= n:
                break
    return out


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 120) -> None:
    """Wait until ``await check()`` is true (a condition, never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
