"""Issue 18's abuse cases: REST takes no ``?token=``, binary frames on ``/ws`` change
nothing, per-account rejects do not close a socket, per-address limits on new accounts and on
orders, and demo login (anyone as anyone) refused on a public address without an opt-in."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.helpers import login

BTC = "BTC-USD"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rest_takes_the_bearer_header_only(live_server: Any) -> None:
    token = await login(live_server.url, "alice")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for path in ("/api/account", "/api/orders"):
            r = await http.get(path, params={"token": token})
            assert r.status_code == 401, r.text
            assert r.json()["code"] == "UNAUTHORIZED" and "Authorization" in r.json()["message"]
            assert (await http.get(path, headers=bearer(token))).status_code == 200
        r = await http.delete("/api/orders/x", params={"token": token})
        assert r.status_code == 401
