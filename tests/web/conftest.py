"""Browser fixtures for the web UI tests: system Chromium driven by Playwright (async API).

Exports the fixtures ``browser`` (one headless Chromium per test) and ``open_page`` (a page on
a live server that records console errors), plus helpers ``login``, ``rest_token``,
``close_order_sockets`` and ``SCREENSHOTS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
#: Generous: the page's first data waits on a busy 2-core machine; speed is never asserted.
READY_MS = 20_000


@dataclass
class OpenedPage:
    page: Page
    errors: list[str] = field(default_factory=list)

    async def js(self, expression: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expression, arg)

    async def until(self, expression: str, arg: Any = None, timeout: float = READY_MS) -> None:
        await self.page.wait_for_function(expression, arg=arg, timeout=timeout)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def open_page(browser: Browser) -> Callable[..., Awaitable[OpenedPage]]:
    async def opener(
        url: str,
        viewport: ViewportSize | None = None,
        setup: Callable[[Page], Awaitable[None]] | None = None,
    ) -> OpenedPage:
        page = await browser.new_page(viewport=viewport or DESKTOP)
        opened = OpenedPage(page)
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
        if setup is not None:
            await setup(page)  # e.g. routes that must be in place before the page connects
        await page.goto(url)
        await opened.until("() => window.tickwire && window.tickwire.feed.current !== null")
        return opened

    return opener


async def login(opened: OpenedPage, account: str) -> None:
    """Log in through the page's form and wait until the order socket has resumed."""
    page = opened.page
    await page.fill("#login-form input[name=account]", account)
    await page.click("#login-form button[type=submit]")
    await opened.until("() => window.tickwire.orders && window.tickwire.orders.ready")


def rest_token(base_url: str, account: str) -> str:
    response = httpx.post(f"{base_url}/api/sessions", json={"account": account})
    response.raise_for_status()
    return str(response.json()["token"])


def rest_get(base_url: str, path: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{base_url}{path}", headers=headers)
    response.raise_for_status()
    return response.json()


def rest_order(base_url: str, token: str, body: dict[str, Any]) -> httpx.Response:
    """``POST /api/orders`` with the body's ``client_order_id`` as its Idempotency-Key."""
    return httpx.post(
        f"{base_url}/api/orders",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": body["client_order_id"]},
        json=body,
    )


async def close_order_sockets(node: Any, code: int = 1012) -> int:
    """Close, from the server's own loop, every order-entry socket (`/ws`) the node holds."""

    async def close_all() -> int:
        closed = 0
        for ws in list(node.websockets):
            if ws.url.path == "/ws":
                await ws.close(code=code, reason="server closing")
                closed += 1
        return closed

    future = asyncio.run_coroutine_threadsafe(close_all(), node.loop)
    return await asyncio.wrap_future(future)
