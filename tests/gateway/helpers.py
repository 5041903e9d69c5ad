"""Protocol-level test clients (real ``websockets`` and ``httpx``), used by gateway tests."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

_ids = itertools.count(1)


async def login(base_url: str, account: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/api/sessions", json={"account": account})
        r.raise_for_status()
        token: str = r.json()["token"]
        return token


class OrderClient:
    """An order-entry socket: ``request`` sends an op and returns the reply with its req_id;
    everything else received is kept in ``inbox`` in arrival order."""

    def __init__(self, ws: ClientConnection, session: dict[str, Any]) -> None:
        self.ws = ws
        self.session = session
        self.inbox: list[dict[str, Any]] = []
        self.seen: list[dict[str, Any]] = [session]

    @classmethod
    async def connect(cls, ws_url: str, token: str, **kw: Any) -> OrderClient:
        ws = await websockets.connect(f"{ws_url}/ws?token={token}", max_size=2**22, **kw)
        session = orjson.loads(await ws.recv())
        assert session["type"] == "session", session
        return cls(ws, session)

    async def send(self, msg: dict[str, Any] | str | bytes) -> None:
        if isinstance(msg, dict):
            await self.ws.send(orjson.dumps(msg).decode())
        else:
            await self.ws.send(msg)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg: dict[str, Any] = orjson.loads(raw)
        self.seen.append(msg)
        return msg

    async def request(self, op: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        req_id = next(_ids)
        await self.send({"op": op, "req_id": req_id, **fields})
        return await self.reply_to(req_id, timeout)

    async def reply_to(self, req_id: Any, timeout: float = 5.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - asyncio.get_running_loop().time()))
            if msg.get("req_id") == req_id and msg["type"] not in ("order.fill",):
                return msg
            self.inbox.append(msg)

    async def drain(self, quiet: float = 0.2) -> list[dict[str, Any]]:
        """Everything that arrives until the socket is quiet for ``quiet`` seconds."""
        while True:
            try:
                self.inbox.append(await self.recv(quiet))
            except TimeoutError:
                return self.inbox

    def stream(self) -> list[dict[str, Any]]:
        """The execution-stream messages seen so far (they carry exec_seq)."""
        return [m for m in self.seen if m.get("exec_seq") is not None]

    async def close(self) -> None:
        await self.ws.close()


def limit(coid: str, symbol: str, side: str, qty: str, price: str, **kw: Any) -> dict[str, Any]:
    return {
        "client_order_id": coid,
        "symbol": symbol,
        "side": side,
        "order_type": "limit",
        "qty": qty,
        "price": price,
        **kw,
    }
