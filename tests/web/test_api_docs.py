"""``/docs`` works offline (issue 17 #8): Swagger UI comes from the pinned npm package the
set-up installs, not from a CDN, and renders the server's own OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

pytestmark = pytest.mark.browser


async def test_swagger_ui_renders_with_no_request_leaving_the_host(
    live_server: Any, browser: Browser
) -> None:
    html = httpx.get(f"{live_server.url}/docs").text
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    page = await browser.new_page()
    foreign: list[str] = []
    page.on(
        "request", lambda r: None if r.url.startswith(live_server.url) else foreign.append(r.url)
    )
    await page.goto(f"{live_server.url}/docs")
    await page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15_000)
    text = await page.inner_text(".swagger-ui")
    assert "/api/orders" in text and "/md/stream" in text
    assert foreign == [], foreign
    await page.close()
