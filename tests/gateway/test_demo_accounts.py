"""Demo accounts: starting inventory is booked at the market, so P&L starts near zero."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.helpers import limit, login

BTC = "BTC-USD"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _position(http: httpx.AsyncClient, token: str, symbol: str) -> dict[str, Any]:
    acct = (await http.get("/api/account", headers=_auth(token))).json()
    return next(p for p in acct["positions"] if p["symbol"] == symbol)


async def test_demo_inventory_is_booked_at_the_last_trade_price(live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        # An empty market: nothing to price the inventory at, so it enters at cost 0.
        maker = await login(live_server.url, "maker")
        assert (await _position(http, maker, BTC))["avg_price"] in (None, "0.00")
        taker = await login(live_server.url, "taker")
        for token, coid, side in ((maker, "m1", "sell"), (taker, "t1", "buy")):
            r = await http.post("/api/orders", json=limit(coid, BTC, side, "1", "123.45"),
                                headers={**_auth(token), "Idempotency-Key": coid})  # fmt: skip
            assert r.status_code == 201, r.text
        # A trade at 123.45 happened: a new account's inventory costs that much per unit.
        late = await login(live_server.url, "late")
        pos = await _position(http, late, BTC)
        assert pos["avg_price"] == "123.45"
        assert pos["realized_pnl"] in ("0", "0.000000") or float(pos["realized_pnl"]) == 0.0
